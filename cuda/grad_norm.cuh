// grad_norm.cuh — global L2 norm of a flat gradient buffer and the clip factor of
// torch.nn.utils.clip_grad_norm_:
//   in : grads [n], max_norm (> 0; +inf = never clip)
//   out: out[0] = ‖grads‖₂ (before clipping), out[1] = min(1, max_norm / (‖grads‖₂ + 1e-6)) computed in float
//        as PyTorch does (clamp(max = 1): a NaN norm gives a NaN factor, an infinite one gives 0).
//   work: ceil(n / GRAD_NORM_CHUNK) doubles (GRAD_NORM_CHUNK = 65536 on both backends; at least 1).
// The factor stays on the device for adamw (grad_scale_dev), so clipping costs no host round trip.
// Two launches, deterministic: a block per 65536-element chunk sums x² in double into work[chunk]; one block
// adds the partials in double and writes out. Double accumulation: at n = 124M a float sum would lose ~1e-4
// relative; the partials' order is fixed per backend, so the norm is bitwise reproducible.
// Floor: reads n·4 bytes once (0.5 GB at 124M parameters).
// One version, single source.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int GRAD_NORM_THREADS = 256;
constexpr int64_t GRAD_NORM_CHUNK = INT64_C(1) << 16;  // the work size depends on it (see GradNorm.java)

__global__ void grad_norm_partial_kernel(const float* A4J_RESTRICT x, int64_t n, double* A4J_RESTRICT work) {
    const int64_t i0 = (int64_t)blockIdx.x * GRAD_NORM_CHUNK;
    const int64_t len = n - i0 < GRAD_NORM_CHUNK ? n - i0 : GRAD_NORM_CHUNK;
    const float* xc = x + i0;
#if defined(__CUDA_ARCH__)
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        const double d = (double)xc[j];
        s += d * d;
    }
    s = block_sum(s);
#else
    // 16 independent accumulators: one chain of dependent double adds would bound the loop by add latency.
    constexpr int L = 16;
    double lane[L] = {};
    int64_t j = 0;
    for (; j + L <= len; j += L)
        for (int l = 0; l < L; ++l) lane[l] += (double)xc[j + l] * (double)xc[j + l];
    double s = 0.0;
    for (; j < len; ++j) s += (double)xc[j] * (double)xc[j];
    for (int l = 0; l < L; ++l) s += lane[l];
#endif
    if (threadIdx.x == 0) work[blockIdx.x] = s;
}

__global__ void grad_norm_finalize_kernel(const double* A4J_RESTRICT work, int64_t chunks, float max_norm,
                                          float* A4J_RESTRICT out) {
    double s = 0.0;
    for (int64_t b = threadIdx.x; b < chunks; b += blockDim.x) s += work[b];
    s = block_sum(s);
    if (threadIdx.x == 0) {
        const float norm = (float)sqrt(s);
        const float c = max_norm / (norm + 1e-6f);
        out[0] = norm;
        out[1] = c > 1.0f ? 1.0f : c;  // NaN stays NaN, as torch.clamp(max = 1)
    }
}

inline int grad_norm(const float* grads, int64_t n, float max_norm, double* work, float* out) {
    const int64_t chunks = n > 0 ? (n + GRAD_NORM_CHUNK - 1) / GRAD_NORM_CHUNK : 0;
    A4J_LAUNCH(grad_norm_partial_kernel, chunks, GRAD_NORM_THREADS, n, grads, n, work);
    A4J_LAUNCH(grad_norm_finalize_kernel, 1, GRAD_NORM_THREADS, chunks, work, chunks, max_norm, out);
    return 0;
}

}  // namespace a4j
