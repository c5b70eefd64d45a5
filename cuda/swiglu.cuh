// swiglu.cuh — SwiGLU, the elementwise part of the Llama MLP down(silu(gate(x)) ⊙ up(x)), forward and backward.
//   forward : out[n,f] = silu(g)·u,  g = h[n, f], u = h[n, F + f],  silu(z) = z·σ(z)
//   backward: dh[n, f] = dout[n,f]·u·silu'(g),  dh[n, F + f] = dout[n,f]·silu(g),  silu'(z) = σ(z)·(1 + z·(1 − σ(z)))
// Layout: one fused tensor h[N, 2F], each row its gate half then its up half: the output of ONE GEMM
// x[N,C]·W_guᵀ with W_gu = [W_gate; W_up] ([2F, C], Hugging Face's gate_proj and up_proj weights stacked along
// the output dimension at load and split again at save; vLLM's gate_up_proj + SiluAndMul use the same layout,
// GPT-2's c_attn does the same for q, k, v). Chosen over two tensors gate[N,F], up[N,F] because the forward is
// one GEMM instead of two, the backward's dh[N, 2F] is one tensor, so dx = dh·W_gu and dW_gu = dhᵀ·x are one GEMM
// each (two tensors need four, and dx an accumulating second GEMM), and dh can overwrite h in place, so the
// backward needs no N×2F buffer beyond the saved activation. The GEMM FLOPs are the same either way.
// Aliasing: dh may be h (each thread reads its element's g and u, then writes both gradients; the pointers are
// not restrict). out [N,F] must not overlap h: its rows have another stride, so a block would overwrite rows that
// another block still reads. dout must not overlap dh (or h when dh is h).
// Numerics: σ and 1 − σ both come from e = exp(−|z|) ∈ [0, 1] by selects (gelu.cuh's form): no cancellation,
// nothing overflows. e from a4j_exp (portability.h): expf on the GPU, on the host a Cody–Waite + polynomial exp of
// ~1 ulp that g++ vectorises (a4j_sigmoid's expf and branches it does not). σ is then within ~3 ulp, silu and the
// products within a few 1e-7 relative of the double-precision formula; silu' within a few 1e-7 of its larger term
// (σ or z·σ·(1 − σ)), i.e. absolute near its zero at z ≈ −1.28. Tails: beyond |z| ≈ 88 (host) / 104 (GPU) e is 0,
// so silu(z) = z or −0 and silu'(z) = 1 or 0 exactly; silu(−inf) = ±0 (the host build has -fno-signed-zeros),
// silu(+inf) = +inf, silu'(±inf) = 1 / 0; NaN propagates; inf·0 in the products gives NaN, as IEEE does.
// Floor: forward reads 8·N·F bytes and writes 4·N·F; backward reads 12·N·F and writes 8·N·F. About 15 flops per
// element (one division): memory-bound on both backends.
// One version, single source: a block owns whole rows (as many as fill a chunk when F is small; one when F is a
// chunk or more), threads stride over each row's F columns. F below the block size (never in Llama-family models,
// F >= 1536) leaves threads idle on the GPU; correct, not tuned.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int SWIGLU_THREADS = 256;
// Used by the launcher too: A4J_GPU (both nvcc passes), not __CUDA_ARCH__.
#if defined(A4J_GPU)
constexpr int64_t SWIGLU_CHUNK = 4096;   // output elements per block: 16 per thread
#else
constexpr int64_t SWIGLU_CHUNK = 16384;  // 64 KB of output per OpenMP task
#endif

// s = σ(z), sc = 1 − σ(z).
A4J_HOSTDEV void swiglu_sigmoids(float z, float& s, float& sc) {
    const float e = a4j_exp(-fabsf(z));
    const float inv = 1.0f / (1.0f + e);
    const bool pos = z >= 0.0f;
    s = (pos ? 1.0f : e) * inv;
    sc = (pos ? e : 1.0f) * inv;
}

// One kernel for both directions. Forward: out[N,F] = silu(g)·u (dout unused). BACKWARD: dh[N,2F] into out.
// `rows`: rows per block.
template <bool BACKWARD>
__global__ void swiglu_kernel(const float* h, const float* dout, int64_t N, int64_t F, int64_t rows, float* out) {
    const int64_t r0 = (int64_t)blockIdx.x * rows;
    const int64_t r1 = N - r0 < rows ? N : r0 + rows;
    for (int64_t r = r0; r < r1; ++r) {
        const float* gr = h + r * 2 * F;
        const float* ur = gr + F;
        for (int64_t j = threadIdx.x; j < F; j += blockDim.x) {
            const float g = gr[j];
            const float u = ur[j];
            float s, sc;
            swiglu_sigmoids(g, s, sc);
            // z capped at ±1e4 where it multiplies a σ factor: there σ (below) or σ·(1 − σ) is exactly 0 already,
            // and the cap keeps silu(−inf) = −inf·0 and silu'(±inf) = ±inf·0 from becoming NaN (the selects keep NaN).
            const float gl = g < -1e4f ? -1e4f : g;
            const float silu = gl * s;
            if constexpr (BACKWARD) {
                const float gc = gl > 1e4f ? 1e4f : gl;
                const float dsilu = fmaf(gc * s, sc, s);
                const float d = dout[r * F + j];
                float* dr = out + r * 2 * F;
                dr[j] = d * u * dsilu;  // written after g and u were read: dh may be h
                dr[F + j] = d * silu;
            } else {
                out[r * F + j] = silu * u;
            }
        }
    }
}

// Rows per block: a chunk's worth of output elements, at least one row.
inline int64_t swiglu_rows(int64_t F) { return F >= SWIGLU_CHUNK ? 1 : SWIGLU_CHUNK / F; }

inline int swiglu_fwd(const float* h, int64_t N, int64_t F, float* out) {
    if (N == 0 || F == 0) return 0;
    const int64_t rows = swiglu_rows(F);
    A4J_LAUNCH(swiglu_kernel<false>, (N + rows - 1) / rows, SWIGLU_THREADS, 3 * N * F, h, nullptr, N, F, rows, out);
    return 0;
}

inline int swiglu_bwd(const float* h, const float* dout, int64_t N, int64_t F, float* dh) {
    if (N == 0 || F == 0) return 0;
    const int64_t rows = swiglu_rows(F);
    A4J_LAUNCH(swiglu_kernel<true>, (N + rows - 1) / rows, SWIGLU_THREADS, 5 * N * F, h, dout, N, F, rows, dh);
    return 0;
}

}  // namespace a4j
