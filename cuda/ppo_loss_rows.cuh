// ppo_loss_rows.cuh — the second launch shared by policy_loss.cuh and value_loss.cuh. Their first launch (a block
// per sequence) leaves an unscaled per-token gradient and, in work[b·ROW ..], the row's float partials:
// Σ m·L first, the token count Σ m last, the loss's other token sums between. This launch (block per sequence)
// sums the B row counts to get the normaliser of the aggregation (kernels.def agg: A4J_AGG_*; _DR_GRPO and _DAPO
// divide by the caller's norm instead), scales its row of the gradient, and block 0 writes stats[ROW] = loss, the
// token-means of the sums between, token count.
// Every block re-reads all B counts: O(B²) reads of one float, ~65k at B = 256, far below the B·T token traffic
// at PPO batch sizes, and cheaper than a third launch. Batch sums are in double (see policy_loss.cuh).
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int PPO_LOSS_THREADS = 256;  // both launches of both losses

// The end of a row kernel (block b = row b): stores the block sums of its partials into work[b·ROW ..], one per
// column, Σ m·L first and Σ m last.
template <int ROW, typename... Partials> A4J_DEV void ppo_loss_store_row(float* work, Partials... partials) {
    static_assert(sizeof...(Partials) == ROW, "one partial per column of the work row");
    block_sums_store(work + (int64_t)blockIdx.x * ROW, 1.0, partials...);
}

// Grid max(B, 1): block 0 exists even for B = 0 so that the stats are always written.
template <int ROW>
__global__ void ppo_loss_finish_kernel(int64_t B, int64_t T, int32_t agg, double norm, float* A4J_RESTRICT grad,
                                       const float* A4J_RESTRICT work, float* A4J_RESTRICT stats) {
    constexpr int COUNT = ROW - 1;  // the column of Σ m
    const int64_t b = blockIdx.x;
    double n = 0.0, nseq = 0.0;
    for (int64_t r = threadIdx.x; r < B; r += blockDim.x) {
        const float c = work[r * ROW + COUNT];
        n += c;
        nseq += c > 0.0f ? 1.0 : 0.0;
    }
    n = block_sum(n);
    nseq = block_sum(nseq);
    if (b < B) {
        const float c = work[b * ROW + COUNT];
        if (c > 0.0f) {  // rows without tokens hold zeros already
            const float scale = (float)(agg == A4J_AGG_TOKEN_MEAN      ? 1.0 / n
                                        : agg == A4J_AGG_SEQUENCE_MEAN ? 1.0 / (nseq * (double)c)
                                                                       : 1.0 / norm);
            float* g = grad + b * T;
            for (int64_t t = threadIdx.x; t < T; t += blockDim.x) g[t] *= scale;
        }
    }
    if (b == 0) {  // block-uniform branch: every thread of block 0 reaches the block_sums
        double s[COUNT] = {};
        double seq_loss = 0.0;
        for (int64_t r = threadIdx.x; r < B; r += blockDim.x) {
            const float* w = work + r * ROW;
            for (int k = 0; k < COUNT; ++k) s[k] += w[k];
            if (w[COUNT] > 0.0f) seq_loss += (double)w[0] / w[COUNT];
        }
        for (int k = 0; k < COUNT; ++k) s[k] = block_sum(s[k]);
        seq_loss = block_sum(seq_loss);
        if (threadIdx.x == 0) {
            const double inv_n = n > 0.0 ? 1.0 / n : 0.0;
            stats[0] = (float)(agg == A4J_AGG_TOKEN_MEAN      ? s[0] * inv_n
                               : agg == A4J_AGG_SEQUENCE_MEAN ? (nseq > 0.0 ? seq_loss / nseq : 0.0)
                                                              : s[0] / norm);
            for (int k = 1; k < COUNT; ++k) stats[k] = (float)(s[k] * inv_n);
            stats[COUNT] = (float)n;
        }
    }
}

// Whether agg is one of the aggregations (the Java layer passes only these): the token- and sequence-mean, and with
// `norm` (policy_loss) also _DR_GRPO and _DAPO, which need norm finite and > 0.
A4J_HOSTDEV bool ppo_loss_agg_ok(int32_t agg, bool with_norm, double norm) {
    if (agg == A4J_AGG_TOKEN_MEAN || agg == A4J_AGG_SEQUENCE_MEAN) return true;
    return with_norm && (agg == A4J_AGG_DR_GRPO || agg == A4J_AGG_DAPO) && norm > 0.0 && norm < INFINITY;
}

// The second launch; stats has ROW floats. norm: the divisor of _DR_GRPO and _DAPO (unused by the others).
template <int ROW>
inline void ppo_loss_finish(int64_t B, int64_t T, int32_t agg, double norm, float* grad, const float* work,
                            float* stats) {
    A4J_LAUNCH(ppo_loss_finish_kernel<ROW>, B > 0 ? B : 1, PPO_LOSS_THREADS, B * T, B, T, agg, norm, grad, work,
               stats);
}

}  // namespace a4j
