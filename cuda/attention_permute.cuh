// attention_permute.cuh — the layout changes around multi-head attention (llm.c's permute/unpermute), so
// that Q·Kᵀ and P·V are plain batched GEMMs over [B·NH] contiguous [T, HS] matrices.
//   attention_permute_fwd  : qkv [B, T, 3, NH, HS] (the c_attn output [B, T, 3C]) -> q, k, v [B, NH, T, HS]
//   attention_permute_bwd  : dq, dk, dv [B, NH, T, HS] -> dqkv [B, T, 3C] (overwritten: the exact inverse)
//   attention_unpermute_fwd: y [B, NH, T, HS] -> out [B, T, C] (heads side by side, C = NH·HS)
//   attention_unpermute_bwd: dout [B, T, C] -> dy [B, NH, T, HS] (overwritten)
// Pure copies: no arithmetic, so both backends are exact. One block per token row (b, t); its threads stride
// over the row's C (or 3C) channels, so the [B, T, ·] side is read/written contiguously and each head's HS
// run on the other side is contiguous too.
// Floor: each reads and writes its tensor once: 2·4·B·T·C bytes (×3 for the q/k/v pair).
// One version, single source; outputs must not alias inputs. The host build walks each row in runs of HS floats
// (no index divisions); the GPU keeps one thread per element so that both sides stay coalesced.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int PERMUTE_THREADS = 256;

// Block (b, t) = blockIdx.x = b·T + t. dir 0: gather qkv -> q,k,v; dir 1: scatter q,k,v -> qkv.
__global__ void attention_permute_kernel(float* A4J_RESTRICT qkv, float* A4J_RESTRICT q, float* A4J_RESTRICT k,
                                         float* A4J_RESTRICT v, int64_t T, int64_t NH, int64_t HS, int32_t dir) {
    const int64_t row = blockIdx.x;
    const int64_t b = row / T, t = row % T;
    const int64_t C = NH * HS;
    float* r = qkv + row * 3 * C;
#if defined(__CUDA_ARCH__)
    for (int64_t i = threadIdx.x; i < 3 * C; i += blockDim.x) {
        const int64_t which = i / C, c = i % C, h = c / HS, d = c % HS;
        float* dst = which == 0 ? q : which == 1 ? k : v;
        const int64_t o = ((b * NH + h) * T + t) * HS + d;
        if (dir == 0) dst[o] = r[i];
        else r[i] = dst[o];
    }
#else
    // host: one run of HS contiguous floats per (q|k|v, head); the GPU's per-element index arithmetic costs five
    // 64-bit divisions an element here, which made this copy 10% of a PPO step's time
    for (int64_t which = 0; which < 3; ++which) {
        float* dst = which == 0 ? q : which == 1 ? k : v;
        for (int64_t h = 0; h < NH; ++h) {
            float* x = r + which * C + h * HS;
            float* y = dst + ((b * NH + h) * T + t) * HS;
            if (dir == 0) for (int64_t d = 0; d < HS; ++d) y[d] = x[d];
            else for (int64_t d = 0; d < HS; ++d) x[d] = y[d];
        }
    }
#endif
}

// Block (b, t). dir 0: y [B,NH,T,HS] -> out [B,T,C]; dir 1: out -> y.
__global__ void attention_unpermute_kernel(float* A4J_RESTRICT y, float* A4J_RESTRICT out, int64_t T, int64_t NH,
                                           int64_t HS, int32_t dir) {
    const int64_t row = blockIdx.x;
    const int64_t b = row / T, t = row % T;
    const int64_t C = NH * HS;
    float* r = out + row * C;
#if defined(__CUDA_ARCH__)
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const int64_t h = c / HS, d = c % HS;
        const int64_t o = ((b * NH + h) * T + t) * HS + d;
        if (dir == 0) r[c] = y[o];
        else y[o] = r[c];
    }
#else
    for (int64_t h = 0; h < NH; ++h) {  // host: a run of HS floats per head, as above
        float* x = r + h * HS;
        float* yh = y + ((b * NH + h) * T + t) * HS;
        if (dir == 0) for (int64_t d = 0; d < HS; ++d) x[d] = yh[d];
        else for (int64_t d = 0; d < HS; ++d) yh[d] = x[d];
    }
#endif
}

inline int attention_permute_fwd(const float* qkv, int64_t B, int64_t T, int64_t NH, int64_t HS, float* q, float* k,
                                 float* v) {
    if (NH * HS <= 0) return 0;
    A4J_LAUNCH(attention_permute_kernel, B * T, PERMUTE_THREADS, B * T * 3 * NH * HS, const_cast<float*>(qkv), q, k,
               v, T, NH, HS, 0);
    return 0;
}

inline int attention_permute_bwd(const float* dq, const float* dk, const float* dv, int64_t B, int64_t T, int64_t NH,
                                 int64_t HS, float* dqkv) {
    if (NH * HS <= 0) return 0;
    A4J_LAUNCH(attention_permute_kernel, B * T, PERMUTE_THREADS, B * T * 3 * NH * HS, dqkv, const_cast<float*>(dq),
               const_cast<float*>(dk), const_cast<float*>(dv), T, NH, HS, 1);
    return 0;
}

inline int attention_unpermute_fwd(const float* y, int64_t B, int64_t T, int64_t NH, int64_t HS, float* out) {
    if (NH * HS <= 0) return 0;
    A4J_LAUNCH(attention_unpermute_kernel, B * T, PERMUTE_THREADS, B * T * NH * HS, const_cast<float*>(y), out, T, NH,
               HS, 0);
    return 0;
}

inline int attention_unpermute_bwd(const float* dout, int64_t B, int64_t T, int64_t NH, int64_t HS, float* dy) {
    if (NH * HS <= 0) return 0;
    A4J_LAUNCH(attention_unpermute_kernel, B * T, PERMUTE_THREADS, B * T * NH * HS, dy, const_cast<float*>(dout), T,
               NH, HS, 1);
    return 0;
}

}  // namespace a4j
