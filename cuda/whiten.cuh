// whiten.cuh — masked whitening of advantages: one mean and one std over every masked element of the batch.
//   in : x, mask [B,T] (0/1); shift_mean (0: add the mean back, as TRL's masked_whiten(shift_mean=False))
//   out: out [B,T] = (x − mean)/(std + 1e-8) on the mask (+ mean when shift_mean == 0), 0 off it;
//        stats[0] = mean, stats[1] = std (unbiased, n − 1; std = 0 when n < 2; mean = 0 when n = 0)
//   work: B·A4J_WHITEN_ROW doubles of scratch.
// out may alias x (each element is read before it is written, by the same thread). Masked-out inputs are
// not used (selects). No gradient: whitening is applied to advantages, which are constants in PPO.
// Two passes (mean, then the sum of squared deviations about it), accumulated in double: no cancellation
// of Σx² − n·mean². Deviations are taken about the float mean c; the bias n·(mean − c)² is below
// (2⁻²⁴·|mean|/std)² relative, far under float output precision.
// Floor: reads x and mask three times (2 reductions + apply) and writes out: ~6·B·T·4 + B·T·4 bytes.
// One version, single source, five launches (no grid sync): per-row partials into work (sum, count), a
// one-block finalize (mean), per-row squared deviations (count kept), a one-block finalize (std), apply.
#pragma once
#include "align4j.h"
#include "portability.h"
#include "seq_reduce.cuh"

namespace a4j {

constexpr int WHITEN_THREADS = 256;

// A row of work: a sum (of x, then of squared deviations), the count Σ m
constexpr int WHITEN_ROW = A4J_WHITEN_ROW;
static_assert(WHITEN_ROW == 2, "whiten work layout");

__global__ void whiten_sum_kernel(const float* A4J_RESTRICT x, const float* A4J_RESTRICT mask, int64_t T,
                                  double* A4J_RESTRICT work) {
    const int64_t row = blockIdx.x;
    double s, n;
    masked_row_sums(x, mask, row, T, s, n);
    if (threadIdx.x == 0) {
        work[WHITEN_ROW * row] = s;
        work[WHITEN_ROW * row + 1] = n;
    }
}

// The batch totals of the rows' sums and counts in work (one block).
A4J_DEV void whiten_totals(const double* A4J_RESTRICT work, int64_t B, double& sum, double& count) {
    double s = 0.0, n = 0.0;
    for (int64_t b = threadIdx.x; b < B; b += blockDim.x) {
        s += work[WHITEN_ROW * b];
        n += work[WHITEN_ROW * b + 1];
    }
    sum = block_sum(s);
    count = block_sum(n);
}

__global__ void whiten_mean_kernel(const double* A4J_RESTRICT work, int64_t B, float* A4J_RESTRICT stats) {
    double s, n;
    whiten_totals(work, B, s, n);
    if (threadIdx.x == 0) stats[0] = n > 0.0 ? (float)(s / n) : 0.0f;
}

__global__ void whiten_dev_kernel(const float* A4J_RESTRICT x, const float* A4J_RESTRICT mask, int64_t T,
                                  const float* A4J_RESTRICT stats, double* A4J_RESTRICT work) {
    const int64_t row = blockIdx.x;
    const float* xr = x + row * T;
    const float* m = mask + row * T;
    const double mean = stats[0];
    double s = 0.0;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
        const double d = m[t] != 0.0f ? (double)xr[t] - mean : 0.0;
        s += d * d;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) work[WHITEN_ROW * row] = s;  // the row's count stays
}

__global__ void whiten_std_kernel(const double* A4J_RESTRICT work, int64_t B, float* A4J_RESTRICT stats) {
    double s, n;
    whiten_totals(work, B, s, n);
    if (threadIdx.x == 0) stats[1] = n >= 2.0 ? (float)sqrt(s / (n - 1.0)) : 0.0f;
}

// x and out may alias: no restrict on them.
__global__ void whiten_apply_kernel(const float* x, const float* A4J_RESTRICT mask, int64_t T, int32_t shift_mean,
                                    const float* A4J_RESTRICT stats, float* out) {
    const int64_t row = blockIdx.x;
    const float* xr = x + row * T;
    const float* m = mask + row * T;
    float* o = out + row * T;
    const float mean = stats[0];
    const float denom = stats[1] + 1e-8f;
    const float back = shift_mean != 0 ? 0.0f : mean;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x)
        o[t] = m[t] != 0.0f ? (xr[t] - mean) / denom + back : 0.0f;
}

inline int whiten(const float* x, const float* mask, int64_t B, int64_t T, int32_t shift_mean, float* out,
                  double* work, float* stats) {
    A4J_LAUNCH(whiten_sum_kernel, B, WHITEN_THREADS, B * T, x, mask, T, work);
    A4J_LAUNCH(whiten_mean_kernel, 1, WHITEN_THREADS, B, work, B, stats);
    A4J_LAUNCH(whiten_dev_kernel, B, WHITEN_THREADS, B * T, x, mask, T, stats, work);
    A4J_LAUNCH(whiten_std_kernel, 1, WHITEN_THREADS, B, work, B, stats);
    A4J_LAUNCH(whiten_apply_kernel, B, WHITEN_THREADS, B * T, x, mask, T, shift_mean, stats, out);
    return 0;
}

}  // namespace a4j
