// kl_shaping.cuh — PPO's per-token rewards: a KL penalty against the reference policy on every response
// token plus the reward model's score on the last one.
//   in : logp_old, logp_ref, mask [B,T] (0/1); scores [B] (nullable: 0); tokens [B,T] int32 (nullable)
//   out: kl [B,T]      = k(d), d = logp_old − logp_ref, on the mask; 0 off it
//        rewards [B,T] = −β·kl on the mask, 0 off it; plus, at the LAST masked token of row b,
//                        scores[b] − (missing_eos_penalty if tokens and eos_id >= 0 and tokens[b,last] != eos_id)
//   k: kl_type A4J_KL_K1 = d, A4J_KL_K2 = d²/2, A4J_KL_K3 = e^(−d) − 1 + d (written expm1(−d) + d, which keeps
//   its relative accuracy for small d instead of cancelling to zero).
// A row with no masked token has no place for its score: it gets only zeros (the Java layer counts such
// rows and reports them). Masked-out inputs are not used (selects), so padding may hold anything.
// The last masked index travels through block_max as a float, exact for T <= 2^24 (the Java layer checks).
// No gradient: in PPO the shaped rewards are constants of the rollout.
// Floor: reads 3·B·T·4 bytes (+ B·T·4 with tokens, one element per row in fact), writes 2·B·T·4.
// One version, single source: a block owns a row; pass 1 finds the last masked token (each thread walks
// its stride class backward and stops at the first hit), pass 2 writes both outputs.
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int KL_SHAPING_THREADS = 256;

A4J_HOSTDEV float kl_estimate(float d, int32_t kl_type) {
    if (kl_type == A4J_KL_K1) return d;
    if (kl_type == A4J_KL_K2) return 0.5f * d * d;
    return expm1f(-d) + d;  // A4J_KL_K3
}

__global__ void kl_shaping_kernel(const float* A4J_RESTRICT logp_old, const float* A4J_RESTRICT logp_ref,
                                  const float* A4J_RESTRICT mask, const float* A4J_RESTRICT scores,
                                  const int32_t* A4J_RESTRICT tokens, int64_t T, float beta, int32_t kl_type,
                                  int32_t eos_id, float missing_eos_penalty, float* A4J_RESTRICT rewards,
                                  float* A4J_RESTRICT kl) {
    const int64_t row = blockIdx.x;
    const float* m = mask + row * T;
    float mine = -1.0f;
    for (int64_t t = T - 1 - (int64_t)threadIdx.x; t >= 0; t -= blockDim.x)
        if (m[t] != 0.0f) { mine = (float)t; break; }
    const int64_t last = (int64_t)block_max(mine);  // −1: no masked token

    float bonus = 0.0f;
    if (last >= 0) {
        if (scores != nullptr) bonus = scores[row];
        if (tokens != nullptr && eos_id >= 0 && tokens[row * T + last] != eos_id) bonus -= missing_eos_penalty;
    }
    const float* lo = logp_old + row * T;
    const float* lr = logp_ref + row * T;
    float* rw = rewards + row * T;
    float* k = kl + row * T;
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
        const bool on = m[t] != 0.0f;
        const float e = on ? kl_estimate(lo[t] - lr[t], kl_type) : 0.0f;
        k[t] = e;
        rw[t] = (on && beta != 0.0f ? -beta * e : 0.0f)  // β = 0: no 0·inf when k3 overflows
                 + (t == last ? bonus : 0.0f);
    }
}

inline int kl_shaping(const float* logp_old, const float* logp_ref, const float* mask, const float* scores,
                      const int32_t* tokens, int64_t B, int64_t T, float beta, int32_t kl_type, int32_t eos_id,
                      float missing_eos_penalty, float* rewards, float* kl) {
    if (kl_type < A4J_KL_K1 || kl_type > A4J_KL_K3 || !(beta >= 0.0f && beta < INFINITY) || T > (int64_t(1) << 24))
        return A4J_ERR_ARGUMENT;
    A4J_LAUNCH(kl_shaping_kernel, B, KL_SHAPING_THREADS, B * T, logp_old, logp_ref, mask, scores, tokens, T, beta, kl_type,
               eos_id, missing_eos_penalty, rewards, kl);
    return 0;
}

}  // namespace a4j
