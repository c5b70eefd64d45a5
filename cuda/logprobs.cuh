// logprobs.cuh — token log-probs: fused log-softmax + gather under a row mask, optional temperature and
// per-token entropy, and its backward (for both the log-prob and the entropy).
//   forward : logits [N,V], labels [N], mask [N] (nullable = all rows) -> logp [N], entropy [N]
//             (nullable), lse [N] (logsumexp of s = logits/τ, saved for the backward)
//   backward: dlogits [N,V] from dlogp [N] and dentropy [N] (nullable), recomputing p from lse; dlogits
//             may alias logits (in-place).
// Rows with mask 0 are not read; their outputs are 0. No N×V temporary exists.
// Floor: forward reads N·V·4 bytes once; backward reads and writes N·V·4 bytes each.
// One version, single source: a block owns a row, threads stride over V. The forward reads the row
// twice (max, then Σexp); at V = 32000 the row is 128 KB and the second read comes from cache.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int LOGPROBS_THREADS = 256;

__global__ void logprobs_fwd_kernel(const float* A4J_RESTRICT logits, const int32_t* A4J_RESTRICT labels,
                                    const float* A4J_RESTRICT mask, int64_t V, float inv_temp,
                                    float* A4J_RESTRICT logp, float* A4J_RESTRICT entropy,
                                    float* A4J_RESTRICT lse) {
    const int64_t row = blockIdx.x;
    if (mask != nullptr && mask[row] == 0.0f) {
        if (threadIdx.x == 0) {
            logp[row] = 0.0f;
            lse[row] = 0.0f;
            if (entropy != nullptr) entropy[row] = 0.0f;
        }
        return;
    }
    const float* z = logits + row * V;
    const float zmax = block_max(thread_max(z, V));
    // Base 2, relative to the max: d_j = (z_j − zmax)·τ⁻¹·log2(e) ≤ 0 and sum = Σ 2^d_j ∈ [1, V], so nothing
    // overflows. Subtracting before scaling keeps d exact near the max even for logits of 1e4 (a fused
    // z·k − zmax·k would carry the rounding of zmax·k, ~1e-3 there, into every term).
    const float k = inv_temp * A4J_LOG2E;
    float sum = 0.0f, sum_pd = 0.0f;
    if (entropy != nullptr) {
        for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
            const float d = (z[j] - zmax) * k;
            const float e = a4j_exp2_nonpos(d);
            sum += e;
            sum_pd += e * (d < -128.0f ? -128.0f : d);  // e = 0 where z = −inf, and 0·(−inf) must be 0
        }
        sum_pd = block_sum(sum_pd);
    } else {
        for (int64_t j = threadIdx.x; j < V; j += blockDim.x) sum += a4j_exp2_nonpos((z[j] - zmax) * k);
    }
    sum = block_sum(sum);
    if (threadIdx.x == 0) {
        const float log_sum = logf(sum);
        const int32_t c = labels[row];
        logp[row] = (z[c] - zmax) * inv_temp - log_sum;  // ℓ = (s_c − smax) − log Σ
        lse[row] = fmaf(zmax, inv_temp, log_sum);
        // H = lse − Σ p s = log Σ − Σ p (s − smax), and s − smax = d·ln 2
        if (entropy != nullptr) entropy[row] = log_sum - (sum_pd / sum) * A4J_LN2;
    }
}

// dz_j = (1/τ)[ g(1[j=c] − p_j) − h·p_j(s_j − Σ_k p_k s_k) ],  p_j = exp(s_j − lse),
// Σ_k p_k s_k = lse − H (the saved entropy).
__global__ void logprobs_bwd_kernel(const float* logits, const int32_t* A4J_RESTRICT labels,
                                    const float* A4J_RESTRICT mask, int64_t V, float inv_temp,
                                    const float* A4J_RESTRICT lse, const float* A4J_RESTRICT entropy,
                                    const float* A4J_RESTRICT dlogp, const float* A4J_RESTRICT dentropy,
                                    float* dlogits) {
    const int64_t row = blockIdx.x;
    float* dz = dlogits + row * V;
    if (mask != nullptr && mask[row] == 0.0f) {
        for (int64_t j = threadIdx.x; j < V; j += blockDim.x) dz[j] = 0.0f;
        return;
    }
    const float* z = logits + row * V;  // may alias dz: each element is read before it is written
    const int32_t c = labels[row];
    const float k = inv_temp * A4J_LOG2E;
    const float lse2 = lse[row] * A4J_LOG2E;
    const float g = dlogp[row] * inv_temp;
    if (dentropy == nullptr) {
        for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
            const float p = a4j_exp2_nonpos(fmaf(z[j], k, -lse2));
            dz[j] = (j == c ? g : 0.0f) - g * p;
        }
    } else {
        const float h = dentropy[row] * inv_temp;
        const float mean_s = lse[row] - entropy[row];  // Σ_k p_k s_k
        for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
            const float s = z[j] * inv_temp;
            const float p = a4j_exp2_nonpos(fmaf(z[j], k, -lse2));
            const float ds = s < -1e30f ? 0.0f : s - mean_s;  // p = 0 where s = −inf: 0·(−inf) must be 0
            dz[j] = (j == c ? g : 0.0f) - p * fmaf(h, ds, g);
        }
    }
}

inline int logprobs_fwd(const float* logits, const int32_t* labels, const float* mask, int64_t N, int64_t V,
                        float inv_temp, float* logp, float* entropy, float* lse) {
    A4J_LAUNCH(logprobs_fwd_kernel, N, LOGPROBS_THREADS, N * V, logits, labels, mask, V, inv_temp, logp, entropy, lse);
    return 0;
}

inline int logprobs_bwd(const float* logits, const int32_t* labels, const float* mask, int64_t N, int64_t V,
                        float inv_temp, const float* lse, const float* entropy, const float* dlogp,
                        const float* dentropy, float* dlogits) {
    A4J_LAUNCH(logprobs_bwd_kernel, N, LOGPROBS_THREADS, N * V, logits, labels, mask, V, inv_temp, lse, entropy, dlogp,
               dentropy, dlogits);
    return 0;
}

}  // namespace a4j
