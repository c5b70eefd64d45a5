// gelu.cuh — GELU in GPT-2's tanh form, elementwise over n floats, forward and backward.
//   forward : out = 0.5·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
//   backward: dx = dout·gelu'(x),  gelu'(x) = 0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
// out may alias x (in place); dx may alias dout or x (each element is read before it is written, by the same
// thread).
// Evaluation: 0.5·(1 + tanh u) = σ(2u), so gelu = x·σ(2u) and gelu' = σ(2u) + 2·x·σ(2u)·(1 − σ(2u))·u'(x).
// σ(2u) and 1 − σ(2u) both come from e = exp(−2|u|) ∈ (0, 1] by selects, without cancellation, and e from
// a4j_exp2_nonpos (portability.h): g++ does not vectorise tanhf or expf without -ffast-math, but it does
// vectorise this. Accuracy: ~3e-7 relative on σ (the exp2 polynomial's 1.9e-7 plus two roundings), so gelu
// and gelu' are within a few 1e-7 relative of the double-precision formula. Large |x|: e underflows to 0,
// giving gelu = x (x > 0) or −0 (x < 0); gelu(−inf) is NaN (−inf·0), NaN propagates.
// Floor: forward reads and writes n·4 bytes; backward reads 2·n·4 and writes n·4. About 20 vector flops per
// element (one division): memory-bound on both backends.
// One version, single source: a block owns a contiguous chunk, threads stride over it.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int GELU_THREADS = 256;
// Used by the launcher too: A4J_GPU (both nvcc passes), not __CUDA_ARCH__.
#if defined(A4J_GPU)
constexpr int64_t GELU_CHUNK = 4096;   // 16 coalesced floats per thread
#else
constexpr int64_t GELU_CHUNK = 16384;  // 64 KB per OpenMP task
#endif

constexpr float GELU_A = 0.044715f;
// 2·√(2/π)·log2(e): 2u in base 2, so that e = 2^(−|2u·log2 e|).
constexpr float GELU_K2 = 2.0f * 0.7978845608028654f * 1.4426950408889634f;
constexpr float GELU_K = 0.7978845608028654f;

// s = σ(2u), sc = 1 − σ(2u).
A4J_HOSTDEV void gelu_sigmoids(float x, float& s, float& sc) {
    const float v = x * fmaf(GELU_K2 * GELU_A, x * x, GELU_K2);  // 2u·log2(e)
    const float e = a4j_exp2_nonpos(-fabsf(v));
    const float inv = 1.0f / (1.0f + e);
    const bool pos = v >= 0.0f;
    s = (pos ? 1.0f : e) * inv;
    sc = (pos ? e : 1.0f) * inv;
}

// One kernel for both directions (BACKWARD: dx = dout·gelu'(x) into out; forward: out = gelu(x), dout unused).
template <bool BACKWARD>
__global__ void gelu_kernel(const float* x, const float* dout, int64_t n, float* out) {
    const int64_t start = (int64_t)blockIdx.x * GELU_CHUNK;
    const int64_t len = n - start < GELU_CHUNK ? n - start : GELU_CHUNK;
    const float* xc = x + start;
    float* oc = out + start;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        const float xv = xc[j];
        float s, sc;
        gelu_sigmoids(xv, s, sc);
        if constexpr (BACKWARD) {
            // u'(x), with x² capped: beyond |x| = 1e4 the σ(1 − σ) factor is exactly 0 and an infinite u' would
            // turn 0·∞ into NaN (the cap's select also maps NaN to 1e8, but s is already NaN then).
            const float x2 = xv * xv < 1e8f ? xv * xv : 1e8f;
            const float du = GELU_K * fmaf(3.0f * GELU_A, x2, 1.0f);
            oc[j] = dout[start + j] * fmaf(xv * s, 2.0f * sc * du, s);  // 2·x would overflow near FLT_MAX
        } else {
            oc[j] = xv * s;
        }
    }
}

inline int gelu_fwd(const float* x, int64_t n, float* out) {
    A4J_LAUNCH(gelu_kernel<false>, (n + GELU_CHUNK - 1) / GELU_CHUNK, GELU_THREADS, n, x, nullptr, n, out);
    return 0;
}

inline int gelu_bwd(const float* x, const float* dout, int64_t n, float* dx) {
    A4J_LAUNCH(gelu_kernel<true>, (n + GELU_CHUNK - 1) / GELU_CHUNK, GELU_THREADS, n, x, dout, n, dx);
    return 0;
}

}  // namespace a4j
