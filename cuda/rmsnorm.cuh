// rmsnorm.cuh — RMSNorm over the last dimension (the Llama family: Hugging Face's LlamaRMSNorm, eps from the
// config's rms_norm_eps), forward and backward. LayerNorm without the mean and the bias: built like
// layernorm.cuh, whose kernel B (dweight) it launches uncentred.
//   forward : x [N,C], weight [C] -> out [N,C] = weight·(x·rstd), rstd [N] = 1/sqrt(mean_C(x²) + eps)
//             (nullable, saved for the backward). The products in LlamaRMSNorm's order, in fp32.
//   backward: dout [N,C], x, weight, rstd -> dx [N,C] (overwritten, or += when accumulate_dx != 0),
//             dweight [C] += Σ_n dout·x̂ (ACCUMULATED, like LayerNorm's; nullable).
//   x̂ = x·rstd;  dx = rstd·(dout·w − x̂·mean_C(dout·w·x̂)).
// Qwen3's per-head q_norm/k_norm is this op on rows of head_dim (N = B·T·H) with one weight[head_dim].
// out may alias x; dx may alias dout or x (every element is read before it is written, by the same thread,
// and the dweight kernel runs before the dx kernel). No N×C temporary exists.
// mean(x²) accumulates in double on both backends: not for precision (a sum of squares has no cancellation)
// but for range. In float, x² of |x| > 1.8e19 overflows, a row of 1e18 values overflows the sum once C > 340
// (rstd would become 0 and the row 0), and x² of |x| < 1e-19 is subnormal or 0. The conversions cost nothing
// next to the memory traffic (one DFMA per element read; even a GPU with 1/64-rate FP64 keeps up with its
// memory). Backward: float partials on the GPU, double on the CPU, as LayerNorm (x̂ is normalised: no range
// problem).
// Block size: a row of C <= 256 gets C rounded up to a warp (Qwen3's head_dim rows of 128: 128 threads, none
// idle), longer rows 256 threads.
// Backward design: LayerNorm's two kernels. Kernel A (block per row) computes dx with one block sum; kernel B
// (layernorm_bwd_params_kernel<false>: block per slice of channels) reduces dout·x̂ over all N rows for its
// channels, re-reading dout, x, rstd;
// deterministic and race-free without atomics, at the price of a second read of dout and x.
// Floor: forward reads N·C·4 and writes N·C·4 bytes; backward reads 2·N·C·4 and writes N·C·4 (this design:
// reads 4·N·C·4).
#pragma once
#include "layernorm.cuh"
#include "portability.h"

namespace a4j {

// Threads per row of the forward and of kernel A: a multiple of 32 (block_sum), at most LAYERNORM_THREADS.
A4J_HOSTDEV int rmsnorm_threads(int64_t C) {
    return C >= LAYERNORM_THREADS ? LAYERNORM_THREADS : (int)((C + 31) / 32 * 32);
}

__global__ void rmsnorm_fwd_kernel(const float* x, const float* A4J_RESTRICT weight, int64_t C, float eps,
                                   float* out, float* A4J_RESTRICT rstd) {
    const int64_t row = blockIdx.x;
    const float* xr = x + row * C;
    float* o = out + row * C;
    double ss = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        const double v = xr[j];
        ss += v * v;
    }
    const float r = (float)(1.0 / sqrt(block_sum(ss) / (double)C + (double)eps));
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) o[j] = weight[j] * (xr[j] * r);
    if (threadIdx.x == 0 && rstd != nullptr) rstd[row] = r;
}

// Kernel A: dx for one row.
__global__ void rmsnorm_bwd_dx_kernel(const float* dout, const float* x, const float* A4J_RESTRICT weight,
                                      const float* A4J_RESTRICT rstd, int64_t C, int32_t accumulate_dx,
                                      float* dx) {
    const int64_t row = blockIdx.x;
    const float* d = dout + row * C;
    const float* xr = x + row * C;
    float* g = dx + row * C;
    const float r = rstd[row];
    layernorm_acc s = 0;  // Σ dout·w·x̂
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += (d[j] * weight[j]) * (xr[j] * r);
    const float m = (float)(block_sum(s) / (layernorm_acc)C);
    if (accumulate_dx != 0) {
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) g[j] += (d[j] * weight[j] - (xr[j] * r) * m) * r;
    } else {
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) g[j] = (d[j] * weight[j] - (xr[j] * r) * m) * r;
    }
}

inline int rmsnorm_fwd(const float* x, const float* weight, int64_t N, int64_t C, float eps, float* out,
                       float* rstd) {
    A4J_LAUNCH(rmsnorm_fwd_kernel, N, rmsnorm_threads(C), N * C, x, weight, C, eps, out, rstd);
    return 0;
}

inline int rmsnorm_bwd(const float* dout, const float* x, const float* weight, const float* rstd, int64_t N,
                       int64_t C, int32_t accumulate_dx, float* dx, float* dweight) {
    // B before A: dx may alias dout or x, which B still reads.
    if (dweight != nullptr)
        A4J_LAUNCH(layernorm_bwd_params_kernel<false>, (C + LAYERNORM_SLICE - 1) / LAYERNORM_SLICE,
                   LAYERNORM_THREADS, N * C, dout, x, nullptr, rstd, N, C, dweight, nullptr);
    A4J_LAUNCH(rmsnorm_bwd_dx_kernel, N, rmsnorm_threads(C), N * C, dout, x, weight, rstd, C, accumulate_dx, dx);
    return 0;
}

}  // namespace a4j
