// seq_reduce.cuh — masked sequence sums, the step from token log-probs to sequence log-probs
// ℓ(y) = Σ_t m_t ℓ_t and lengths |y| = Σ_t m_t (DPO family, SFT normalisation), and its backward.
//   forward : values [B,T], mask [B,T] (0/1) -> sums [B] = Σ_t m·v, counts [B] = Σ_t m
//   backward: dsums [B], mask [B,T]          -> dvalues [B,T] = dsums[b]·m[b,t]
// Masked-out values are not used (a select, not m·v), so padding may hold anything, NaN included.
// Counts are float sums of 0/1, exact for T < 2^24.
// Floor: forward reads B·T·8 bytes; backward reads B·T·4 and writes B·T·4.
// One version, single source: a block owns a row, threads stride over T, block_sum combines.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int SEQ_REDUCE_THREADS = 256;

// Σ_t m·v and Σ_t m over row `row` of [B,T] values and mask, accumulated in Acc (float here; whiten.cuh sums in
// double), each returned to every thread of the block.
template <typename Acc>
A4J_DEV void masked_row_sums(const float* A4J_RESTRICT values, const float* A4J_RESTRICT mask, int64_t row, int64_t T,
                             Acc& sum, Acc& count) {
    const float* v = values + row * T;
    const float* m = mask + row * T;
    Acc s = 0, n = 0;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
        const bool on = m[t] != 0.0f;
        s += on ? (Acc)v[t] : (Acc)0;
        n += on ? (Acc)1 : (Acc)0;
    }
    sum = block_sum(s);
    count = block_sum(n);
}

__global__ void seq_reduce_fwd_kernel(const float* A4J_RESTRICT values, const float* A4J_RESTRICT mask, int64_t T,
                                      float* A4J_RESTRICT sums, float* A4J_RESTRICT counts) {
    const int64_t row = blockIdx.x;
    float s, n;
    masked_row_sums(values, mask, row, T, s, n);
    if (threadIdx.x == 0) {
        sums[row] = s;
        counts[row] = n;
    }
}

__global__ void seq_reduce_bwd_kernel(const float* A4J_RESTRICT dsums, const float* A4J_RESTRICT mask, int64_t T,
                                      float* A4J_RESTRICT dvalues) {
    const int64_t row = blockIdx.x;
    const float g = dsums[row];
    const float* m = mask + row * T;
    float* dv = dvalues + row * T;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) dv[t] = m[t] != 0.0f ? g : 0.0f;
}

inline int seq_reduce_fwd(const float* values, const float* mask, int64_t B, int64_t T, float* sums, float* counts) {
    A4J_LAUNCH(seq_reduce_fwd_kernel, B, SEQ_REDUCE_THREADS, B * T, values, mask, T, sums, counts);
    return 0;
}

inline int seq_reduce_bwd(const float* dsums, const float* mask, int64_t B, int64_t T, float* dvalues) {
    A4J_LAUNCH(seq_reduce_bwd_kernel, B, SEQ_REDUCE_THREADS, B * T, dsums, mask, T, dvalues);
    return 0;
}

}  // namespace a4j
