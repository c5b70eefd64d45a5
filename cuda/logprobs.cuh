// logprobs.cuh — token log-probs: fused log-softmax + gather under a row mask, optional temperature and
// per-token entropy, and its backward (for both the log-prob and the entropy).
//   forward : logits [N,V], labels [N], mask [N] (nullable = all rows) -> logp [N], entropy [N]
//             (nullable), lse [N] (logsumexp of s = logits/τ, saved for the backward)
//   backward: dlogits [N,V] from dlogp [N] and dentropy [N] (nullable), recomputing p from lse; dlogits
//             may alias logits (in-place).
// Rows with mask 0 are not read; their outputs are 0. No N×V temporary exists.
// Floor: forward reads N·V·4 bytes once; backward reads and writes N·V·4 bytes each (a row with
// |lse| >= LOGPROBS_RENORM_LSE is read twice, see the backward).
// One version, single source: a block owns a row, threads stride over V. The forward is an online softmax
// in chunks (see the kernel); the backward is one elementwise pass.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int LOGPROBS_THREADS = 256;
#if defined(__CUDA_ARCH__)
constexpr int64_t LOGPROBS_PER_THREAD = 8;     // 8 strided floats per thread per chunk, kept in registers/L1
#else
constexpr int64_t LOGPROBS_PER_THREAD = 2048;  // 8 KB contiguous: stays in L1 between max and exp
#endif

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
    // One pass, online softmax: each thread keeps a running max m and sums relative to it, taking its share of
    // the row a chunk at a time (max of the chunk, then its exponentials while the chunk is in L1). On the CPU a
    // chunk is 2048 contiguous floats, so the memory stream overlaps the exp arithmetic (a whole-row max pass
    // then a whole-row exp pass alternates between the two); on the GPU a chunk is 8 strided floats per
    // thread, so the row is read from memory once. The threads' partial sums meet in one block reduction.
    // Base 2 relative to the max: d = (z − m)·τ⁻¹·log2(e) ≤ 0, so nothing overflows; subtracting before
    // scaling keeps d exact near the max even for logits of 1e4.
    const float k = inv_temp * A4J_LOG2E;
    const int64_t chunk = (int64_t)blockDim.x * LOGPROBS_PER_THREAD;
    float m = -INFINITY, sum = 0.0f, sum_pd = 0.0f;  // sum = Σ 2^d, sum_pd = Σ 2^d·d
    for (int64_t c0 = 0; c0 < V; c0 += chunk) {
        const int64_t len = V - c0 < chunk ? V - c0 : chunk;
        const float* zc = z + c0;
        const float cmax = thread_max(zc, len);
        if (cmax > m) {
            if (m > -INFINITY) {  // move the sums to the new max: d → d + shift
                const float shift = (m - cmax) * k;
                const float scale = a4j_exp2_nonpos(shift);
                sum_pd = scale * fmaf(shift, sum, sum_pd);
                sum *= scale;
            }
            m = cmax;
        }
        if (m == -INFINITY) continue;  // only −inf so far: nothing to add (and z − m would be NaN)
        float s = 0.0f;
        if (entropy != nullptr) {
            float spd = 0.0f;
            for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
                const float d = (zc[j] - m) * k;
                const float e = a4j_exp2_nonpos(d);
                s += e;
                spd += e * (d < -128.0f ? -128.0f : d);  // e = 0 where z = −inf, and 0·(−inf) must be 0
            }
            sum_pd += spd;
        } else {
            for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += a4j_exp2_nonpos((zc[j] - m) * k);
        }
        sum += s;
    }
    // Combine the threads: move each thread's sums to the row max (a thread that saw only −inf has none).
    const float zmax = block_max(m);
    const float shift = m > -INFINITY ? (m - zmax) * k : 0.0f;
    const float scale = m > -INFINITY ? a4j_exp2_nonpos(shift) : 0.0f;
    const float my_pd = scale * fmaf(shift, sum, sum_pd);
    sum = block_sum(sum * scale);
    if (entropy != nullptr) sum_pd = block_sum(my_pd);
    if (threadIdx.x == 0) {
        const float log_sum = logf(sum);
        const int32_t c = labels[row];
        logp[row] = (z[c] - zmax) * inv_temp - log_sum;  // ℓ = (s_c − smax) − log Σ
        lse[row] = fmaf(zmax, inv_temp, log_sum);
        // H = lse − Σ p s = log Σ − Σ p (s − smax), and s − smax = d·ln 2
        if (entropy != nullptr) entropy[row] = log_sum - (sum_pd / sum) * A4J_LN2;
    }
}

// From this |lse| on, the backward renormalises p (below), at the cost of a second read of the row; under it,
// p = exp(s − lse) is within ~3e-7·|lse| relative (the roundings of lse and of s·log2(e)), and those rows keep
// exactly the arithmetic they always had, so training at ordinary logit magnitudes is unchanged bit for bit.
constexpr float LOGPROBS_RENORM_LSE = 64.0f;

// dz_j = (1/τ)[ g(1[j=c] − p_j) − h·p_j(s_j − Σ_k p_k s_k) ],  p_j = exp(s_j − lse),
// Σ_k p_k s_k = lse − H (the saved entropy).
// The saved lse is rounded to fp32, so for huge logits it is off by up to half an ulp of |lse| (2.4e-4 at
// 3000; the log of the sum it carries, often far smaller, may be lost entirely): every p would be off by
// that factor, and the gradient by up to ~1e-3, sign included. That error is common to the row, so rows
// with |lse| >= LOGPROBS_RENORM_LSE divide it out: q_j = 2^(z_j·k − lse·log2 e) (the product exact inside
// the FMA, so per element only small numbers round), p_j = q_j / Σ q = 2^(t_j), t_j = log2 q_j − log2 Σ q.
// s_j − Σ p s = log p_j + H then needs no large number either.
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
    // NaN and ±inf (no distribution) take the first branch, which propagates them as before.
    const float big = fabsf(lse[row]);
    if (!(big >= LOGPROBS_RENORM_LSE) || big == INFINITY) {
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
        return;
    }
    // q_j may exceed 1 by a hair (lse can round below the true value); a4j_exp2_nonpos's range reduction holds
    // for any x below 127. log2 Σ q is small, so it is subtracted from each exponent separately: folding it
    // into lse2 would round at lse's magnitude again.
    float part = 0.0f;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) part += a4j_exp2_nonpos(fmaf(z[j], k, -lse2));
    const float log2_sum = log2f(block_sum(part));
    if (dentropy == nullptr) {
        for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
            const float p = a4j_exp2_nonpos(fmaf(z[j], k, -lse2) - log2_sum);
            dz[j] = (j == c ? g : 0.0f) - g * p;
        }
    } else {
        const float h = dentropy[row] * inv_temp;
        const float ent = entropy[row];
        for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
            const float t = fmaf(z[j], k, -lse2) - log2_sum;  // log2 p_j
            const float p = a4j_exp2_nonpos(t);
            const float ds = t < -1e30f ? 0.0f : fmaf(t, A4J_LN2, ent);  // log p_j + H; 0·(−inf) must be 0
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
