// policy_loss.cuh — the clipped PPO policy loss (optionally dual-clipped), its gradient and TRL's metrics.
//   inputs : logp_new, logp_old, adv, mask [B,T] (mask exactly 0/1; all values finite, padding included)
//   outputs: dlogp_new [B,T] = ∂loss/∂logp_new (0 off-mask), stats[A4J_POLICY_STATS] = loss, clipfrac,
//            approxkl k1, approxkl k3, dual-clip fraction, token count; work[B·A4J_POLICY_ROW] scratch.
// Per token, with ρ = exp(ℓ_new − ℓ_old) and d = ℓ_old − ℓ_new:
//   L = max(−A·ρ, −A·clip(ρ, 1−ε_low, 1+ε_high)), and for A < 0 with dual clip c > 1: L = min(L, −c·A).
//   The clipped branch (or the cap) has gradient 0; ties go to the unclipped branch, gradient −A·ρ.
// agg A4J_AGG_TOKEN_MEAN: Σ m·L / Σ m over the batch; A4J_AGG_SEQUENCE_MEAN: mean over sequences with ≥ 1
// token of their token-means.
// Metrics are token-means whatever agg is. No token at all: every stat and gradient is 0.
// Floor: reads 4·B·T·4 bytes, writes B·T·4; the second launch re-reads and rewrites the gradient (from L2
// on the GPU at PPO batch sizes), so ~1.4× the floor.
// One version, single source, two launches (no grid sync): kernel 1 (block per sequence) writes the
// unscaled per-token gradient and the row's partial sums; kernel 2, shared with value_loss.cuh
// (ppo_loss_rows.cuh), applies the normaliser and writes the stats.
// Precision: each thread accumulates in double and block_sum<double> combines them, because on the host a
// "block" is one thread summing all T tokens in sequence (float would lose ~T·2^-24 relative, 6e-5 at T=1024,
// worse when per-token losses of both signs cancel); the row sums are then stored as float (one rounding,
// 6e-8 relative) and kernel 2 sums the B rows in double. Counts are exact in float up to T = 2^24.
#pragma once
#include "align4j.h"
#include "portability.h"
#include "ppo_loss_rows.cuh"

namespace a4j {

// A row of work: Σ m·L, Σ clipped, Σ d, Σ k3, Σ dual-capped, Σ m; stats are their means (see the top).
static_assert(A4J_POLICY_STATS == A4J_POLICY_ROW, "policy_loss: one stat per work column");

__global__ void policy_loss_row_kernel(const float* A4J_RESTRICT logp_new, const float* A4J_RESTRICT logp_old,
                                       const float* A4J_RESTRICT adv, const float* A4J_RESTRICT mask, int64_t T,
                                       float lo, float hi, float dual_clip, float* A4J_RESTRICT dlogp_new,
                                       float* A4J_RESTRICT work) {
    const int64_t base = (int64_t)blockIdx.x * T;
    double s_loss = 0.0, s_clip = 0.0, s_k1 = 0.0, s_k3 = 0.0, s_dual = 0.0, s_n = 0.0;
    // Branch-free (a4j_exp, selects of constants, inputs multiplied by the 0/1 mask) so that the host build
    // vectorises the loop: g++ does not vectorise several sums of `on ? x : 0` (conditional reductions).
    // Multiplying by the mask needs finite padding, which the Java layer checks.
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
        const int64_t i = base + t;
        const float m = mask[i];
        const bool on = m != 0.0f;
        const float a = adv[i] * m;
        const float d = (logp_old[i] - logp_new[i]) * m;
        const float rho = a4j_exp(-d);
        const float rho_c = rho < lo ? lo : (rho > hi ? hi : rho);
        // A = 0 gives 0 on both branches even where ρ overflowed to inf (0·inf would be NaN).
        const float l_unclipped = a == 0.0f ? 0.0f : -a * rho;
        const float l_clipped = a == 0.0f ? 0.0f : -a * rho_c;
        const bool clipped = l_clipped > l_unclipped;  // strict: ties take the unclipped branch
        const float l_pg = clipped ? l_clipped : l_unclipped;
        const float cap = -dual_clip * a;
        const bool capped = dual_clip > 0.0f && a < 0.0f && l_pg > cap;
        const float loss = capped ? cap : l_pg;
        // ∂(−A·ρ)/∂ℓ_new = −A·ρ on the unclipped branch, 0 where the clip or the cap is active
        dlogp_new[i] = !on || clipped || capped ? 0.0f : l_unclipped;  // unscaled: kernel 2 applies the normaliser
        // k3 = e^{−d} − 1 + d: the series near d = 0, where e^{−d} − 1 would cancel
        const float k3 = fabsf(d) < 0.0625f ? d * d * fmaf(d, fmaf(d, 1.0f / 24.0f, -1.0f / 6.0f), 0.5f)
                                            : rho - 1.0f + d;
        // Off the mask a = d = 0, so loss, d and k3 are exactly 0 and neither branch flag is set: the sums
        // need no select.
        s_loss += loss;
        s_clip += clipped ? 1.0f : 0.0f;
        s_k1 += d;
        s_k3 += k3;
        s_dual += capped ? 1.0f : 0.0f;
        s_n += on ? 1.0f : 0.0f;
    }
    ppo_loss_store_row<A4J_POLICY_ROW>(work, s_loss, s_clip, s_k1, s_k3, s_dual, s_n);
}

// eps_low, eps_high >= 0, dual_clip <= 0 (off) or > 1, agg an A4J_AGG_*: checked by the Java layer.
inline int policy_loss(const float* logp_new, const float* logp_old, const float* adv, const float* mask, int64_t B,
                       int64_t T, float eps_low, float eps_high, float dual_clip, int32_t agg, float* dlogp_new,
                       float* work, float* stats) {
    if (B < 0 || T < 0 || !ppo_loss_agg_ok(agg) || !(eps_low >= 0.0f) || !(eps_high >= 0.0f) ||
        !(dual_clip <= 0.0f || dual_clip > 1.0f))
        return A4J_ERR_ARGUMENT;
    A4J_LAUNCH(policy_loss_row_kernel, B, PPO_LOSS_THREADS, B * T, logp_new, logp_old, adv, mask, T, 1.0f - eps_low,
               1.0f + eps_high, dual_clip, dlogp_new, work);
    ppo_loss_finish<A4J_POLICY_ROW>(B, T, agg, dlogp_new, work, stats);
    return 0;
}

}  // namespace a4j
