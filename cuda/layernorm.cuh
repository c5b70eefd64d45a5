// layernorm.cuh — LayerNorm over the last dimension (GPT-2: eps = 1e-5), forward and backward, after llm.c's
// layernorm_forward/backward.
//   forward : x [N,C], weight [C], bias [C] -> out [N,C] = (x − mean)·rstd·weight + bias,
//             mean [N], rstd [N] = 1/sqrt(var + eps) (biased variance; both nullable, saved for the backward)
//   backward: dout [N,C], x, weight, mean, rstd -> dx [N,C] (overwritten, or += when accumulate_dx != 0),
//             dweight [C] += Σ_n dout·x̂, dbias [C] += Σ_n dout (ACCUMULATED, like llm.c, so gradient
//             accumulation over micro-batches works; zero them before the first micro-batch; each nullable).
//   x̂ = (x − mean)·rstd;  dx = rstd·(dout·w − mean_C(dout·w) − x̂·mean_C(dout·w·x̂)).
// out may alias x; dx may alias dout or x (every element is read before it is written, by the same thread,
// and the dweight/dbias kernel runs before the dx kernel). No N×C temporary exists.
// Row statistics use two passes (mean, then Σ(x − mean)²: no cancellation). On the CPU one thread reduces a
// whole row, so row sums accumulate in double (the conversion costs nothing next to the memory traffic); on
// the GPU a row is split over 256 threads and float partials are exact enough.
// Backward design: kernel A (block per row) computes dx with two block sums; kernel B (block per slice of
// channels) reduces dout·x̂ and dout over all N rows for its channels, re-reading dout, x, mean, rstd. This is
// deterministic and race-free on both backends without atomics and without a [blocks, C] partials buffer in
// the API; its price is a second read of dout and x (5 instead of 3 N·C·4-byte streams). The alternative —
// kernel A also accumulating per-block partials into a [G,2,C] scratch, then a finalize — saves that re-read
// and is the first thing to try if the backward shows up in a profile.
// GPU kernel B: 8 channels × 32 row phases per 256-thread block (a warp reads 4 rows × 32 contiguous bytes:
// whole sectors), partials meet through shared memory (block_sum_phases, in portability.h). CPU kernel B: one
// thread per 64-channel slice walks all rows, 64 double accumulators; its reads (256 bytes per row at a stride
// of C floats) are not followed by the hardware prefetchers, so it prefetches 16 rows ahead (3-4x faster than
// without). Even so kernel B is the slower half of the CPU backward (~2x its stream floor at N = 8192,
// C = 768): the [G,2,C] partials design above would remove it.
// Floor: forward reads N·C·4 and writes N·C·4 bytes; backward reads 2·N·C·4 and writes N·C·4 (this design:
// reads 4·N·C·4).
#pragma once
#include "portability.h"

namespace a4j {

constexpr int LAYERNORM_THREADS = 256;
// Launch geometry shared by the launcher (host code) and the kernels: A4J_GPU, not __CUDA_ARCH__, so both
// nvcc passes agree.
#if defined(A4J_GPU)
constexpr int LAYERNORM_SLICE = 8;          // channels per block of kernel B
constexpr int LAYERNORM_LANE_CHANNELS = 1;  // channels per thread of kernel B
using layernorm_acc = float;
#else
constexpr int LAYERNORM_SLICE = 64;
constexpr int LAYERNORM_LANE_CHANNELS = 64;
constexpr int64_t LAYERNORM_PREFETCH_ROWS = 16;  // kernel B's software prefetch distance (measured 4..32: 16)
using layernorm_acc = double;
#endif

__global__ void layernorm_fwd_kernel(const float* x, const float* A4J_RESTRICT weight,
                                     const float* A4J_RESTRICT bias, int64_t C, float eps, float* out,
                                     float* A4J_RESTRICT mean, float* A4J_RESTRICT rstd) {
    const int64_t row = blockIdx.x;
    const float* xr = x + row * C;
    float* o = out + row * C;
    layernorm_acc s = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += xr[j];
    const float m = (float)(block_sum(s) / (layernorm_acc)C);
    layernorm_acc v = 0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        const layernorm_acc d = (layernorm_acc)xr[j] - (layernorm_acc)m;
        v += d * d;
    }
    const float r = (float)(1.0 / sqrt((double)(block_sum(v) / (layernorm_acc)C) + (double)eps));
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) o[j] = fmaf((xr[j] - m) * r, weight[j], bias[j]);
    if (threadIdx.x == 0) {
        if (mean != nullptr) mean[row] = m;
        if (rstd != nullptr) rstd[row] = r;
    }
}

// Kernel A: dx for one row.
__global__ void layernorm_bwd_dx_kernel(const float* dout, const float* x, const float* A4J_RESTRICT weight,
                                        const float* A4J_RESTRICT mean, const float* A4J_RESTRICT rstd, int64_t C,
                                        int32_t accumulate_dx, float* dx) {
    const int64_t row = blockIdx.x;
    const float* d = dout + row * C;
    const float* xr = x + row * C;
    float* g = dx + row * C;
    const float m = mean[row], r = rstd[row];
    layernorm_acc s1 = 0, s2 = 0;  // Σ dout·w, Σ dout·w·x̂
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        const float dn = d[j] * weight[j];
        s1 += dn;
        s2 += dn * ((xr[j] - m) * r);
    }
    const float mean1 = (float)(block_sum(s1) / (layernorm_acc)C);
    const float mean2 = (float)(block_sum(s2) / (layernorm_acc)C);
    if (accumulate_dx != 0) {
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
            const float xh = (xr[j] - m) * r;
            g[j] += (d[j] * weight[j] - mean1 - xh * mean2) * r;
        }
    } else {
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
            const float xh = (xr[j] - m) * r;
            g[j] = (d[j] * weight[j] - mean1 - xh * mean2) * r;
        }
    }
}

// Kernel B: dweight, dbias for the channels [c0, c0 + LAYERNORM_SLICE) of this block, summed over all rows.
// Threads: lanes (channels) × phases (rows n ≡ phase mod phases). Host: one thread, lanes = phases = 1, and it
// takes all LAYERNORM_LANE_CHANNELS channels of the slice in a vectorised inner loop.
// CENTRED = false is RMSNorm's dweight (rmsnorm.cuh): no mean (x̂ = x·rstd, bit for bit as x − 0) and no bias sum.
template <bool CENTRED>
__global__ void layernorm_bwd_params_kernel(const float* A4J_RESTRICT dout, const float* A4J_RESTRICT x,
                                            const float* A4J_RESTRICT mean, const float* A4J_RESTRICT rstd,
                                            int64_t N, int64_t C, float* A4J_RESTRICT dweight,
                                            float* A4J_RESTRICT dbias) {
    const int64_t c0 = (int64_t)blockIdx.x * LAYERNORM_SLICE;
    const int lanes = (int)blockDim.x < LAYERNORM_SLICE ? (int)blockDim.x : LAYERNORM_SLICE;
    const int lane = (int)threadIdx.x % lanes;
    const int64_t phase = threadIdx.x / lanes, phases = blockDim.x / lanes;
    const int width = C - c0 < LAYERNORM_SLICE ? (int)(C - c0) : LAYERNORM_SLICE;
    int iters = lane < width ? (width - lane + lanes - 1) / lanes : 0;
    if (iters > LAYERNORM_LANE_CHANNELS) iters = LAYERNORM_LANE_CHANNELS;
    layernorm_acc aw[LAYERNORM_LANE_CHANNELS], ab[LAYERNORM_LANE_CHANNELS];
    for (int i = 0; i < LAYERNORM_LANE_CHANNELS; ++i) aw[i] = ab[i] = 0;
    for (int64_t n = phase; n < N; n += phases) {
        const float m = CENTRED ? mean[n] : 0.0f, r = rstd[n];
        const float* dr = dout + n * C + c0 + lane;
        const float* xr = x + n * C + c0 + lane;
#if !defined(A4J_GPU)
        // The slice is a short strided read per row, which the hardware prefetchers do not follow: ask for the
        // rows LAYERNORM_PREFETCH_ROWS ahead (one line per 16 floats).
        if (n + LAYERNORM_PREFETCH_ROWS < N)
            for (int q = 0; q < width; q += 16) {
                __builtin_prefetch(dr + LAYERNORM_PREFETCH_ROWS * C + q);
                __builtin_prefetch(xr + LAYERNORM_PREFETCH_ROWS * C + q);
            }
#endif
        for (int i = 0; i < iters; ++i) {
            const float g = dr[i * lanes];
            aw[i] += (layernorm_acc)(g * ((xr[i * lanes] - m) * r));
            if (CENTRED) ab[i] += (layernorm_acc)g;
        }
    }
    for (int i = 0; i < LAYERNORM_LANE_CHANNELS; ++i) {  // uniform trip count: block_sum_phases synchronises
        const float w = block_sum_phases((float)aw[i], lanes);
        const float b = CENTRED ? block_sum_phases((float)ab[i], lanes) : 0.0f;
        if (phase == 0 && i < iters) {
            const int64_t c = c0 + lane + (int64_t)i * lanes;
            if (dweight != nullptr) dweight[c] += w;
            if (dbias != nullptr) dbias[c] += b;
        }
    }
}

inline int layernorm_fwd(const float* x, const float* weight, const float* bias, int64_t N, int64_t C, float eps,
                         float* out, float* mean, float* rstd) {
    A4J_LAUNCH(layernorm_fwd_kernel, N, LAYERNORM_THREADS, N * C, x, weight, bias, C, eps, out, mean, rstd);
    return 0;
}

inline int layernorm_bwd(const float* dout, const float* x, const float* weight, const float* mean,
                         const float* rstd, int64_t N, int64_t C, int32_t accumulate_dx, float* dx, float* dweight,
                         float* dbias) {
    // B before A: dx may alias dout or x, which B still reads.
    if (dweight != nullptr || dbias != nullptr)
        A4J_LAUNCH(layernorm_bwd_params_kernel<true>, (C + LAYERNORM_SLICE - 1) / LAYERNORM_SLICE, LAYERNORM_THREADS,
                   N * C, dout, x, mean, rstd, N, C, dweight, dbias);
    A4J_LAUNCH(layernorm_bwd_dx_kernel, N, LAYERNORM_THREADS, N * C, dout, x, weight, mean, rstd, C, accumulate_dx,
               dx);
    return 0;
}

}  // namespace a4j
