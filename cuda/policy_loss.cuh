// policy_loss.cuh — the clipped PPO/GRPO policy loss (optionally dual-clipped, with GSPO's sequence ratio and a k3
// KL to a reference), its gradient and TRL's metrics.
//   inputs : logp_new, logp_old, mask [B,T] (mask exactly 0/1); adv [B,T] (adv_per_token) or [B] (one advantage per
//            sequence, GRPO); logp_ref [B,T] when beta > 0 (not read otherwise, may be null). All values finite,
//            padding included.
//   outputs: dlogp_new [B,T] = ∂loss/∂logp_new (0 off-mask), stats[A4J_POLICY_STATS] = loss, clipfrac,
//            approxkl k1, approxkl k3, dual-clip fraction, kl, clip_ratio/low_mean, clip_ratio/high_mean, token
//            count; work[B·A4J_POLICY_ROW] scratch.
// The ratio ρ: level A4J_RATIO_TOKEN, per token ρ_t = exp(ℓ_new − ℓ_old); A4J_RATIO_SEQUENCE (GSPO), one per row,
// ρ_t = s = exp(Σ_t m·(ℓ_new − ℓ_old) / max(Σ_t m, 1)). Per token, with d = ℓ_old − ℓ_new and A its advantage:
//   L = max(−A·ρ, −A·clip(ρ, 1−ε_low, 1+ε_high)), and for A < 0 with dual clip c > 1: L = min(L, −c·A);
//   with beta > 0: L += β·k3, k3 = e^u − u − 1, u = ℓ_ref − ℓ_new (TRL's per_token_kl).
//   The clipped branch (or the cap) has gradient 0; ties go to the unclipped branch, gradient −A·ρ (token level).
//   Sequence level: ∂s/∂ℓ_new,t = s·m_t/n, so the row's unclipped terms G = Σ_t m_t·(−A_t·s) give every token
//   G·m_t/n (= −A·s·m_t when A is per sequence). The KL adds β·(1 − e^u) per token.
// agg (TRL's loss_type): A4J_AGG_TOKEN_MEAN (bnpo) Σ m·L / Σ m over the batch; A4J_AGG_SEQUENCE_MEAN (grpo) mean over
// sequences with ≥ 1 token of their token-means; A4J_AGG_DR_GRPO and _DAPO: Σ m·L / norm, where the Java layer
// passes norm = B·max_completion_length (Dr. GRPO) or the generation batch's completion tokens (DAPO).
// Against TRL's GRPOTrainer._compute_loss: grpo there divides by B, counting rows without a token as loss 0; here
// they are left out (PPO's sequence-mean, unchanged), which differs only when a whole row is masked (e.g.
// mask_truncated_completions). TRL also divides grpo, bnpo and dr_grpo by the gradient-accumulation steps; that
// is the caller's. dapo's num_items_in_batch / num_processes is norm on one process. At sequence level TRL's
// clip_ratio metrics are means over sequences; here every metric is a token-mean over the mask.
// When logp_new == logp_old bit for bit, d = 0 exactly, so ρ = exp(0) = 1.0f exactly at both levels (no clip).
// No token at all: every stat and gradient is 0.
// Floor: reads 4·B·T·4 bytes (5 with the reference), writes B·T·4; the second launch re-reads and rewrites the
// gradient (from L2 on the GPU at PPO batch sizes), so ~1.4× the floor; the sequence level reads the row twice more
// (the mean log-ratio before the losses, the gradient after), from cache.
// One version, single source, two launches (no grid sync): kernel 1 (block per sequence; one instantiation per
// level × KL × advantage shape, so the token-level PPO loop is the one it always was) writes the unscaled per-token
// gradient and the row's partial sums; kernel 2, shared with value_loss.cuh (ppo_loss_rows.cuh), applies the
// normaliser and writes the stats.
// Precision: each thread accumulates in double and block_sum<double> combines them, because on the host a
// "block" is one thread summing all T tokens in sequence (float would lose ~T·2^-24 relative, 6e-5 at T=1024,
// worse when per-token losses of both signs cancel); the row sums are then stored as float (one rounding,
// 6e-8 relative) and kernel 2 sums the B rows in double. Counts are exact in float up to T = 2^24. GSPO's mean
// log-ratio and G are row sums in double too. Overflow: a ratio above e^88.7 is +inf; with A > 0 the clip takes
// it (finite loss, gradient 0), with A < 0 the loss is +inf unless the dual clip caps it, as in float PyTorch; so
// is u > 88.7 in the KL.
#pragma once
#include "align4j.h"
#include "portability.h"
#include "ppo_loss_rows.cuh"

namespace a4j {

// A row of work: Σ m·L, Σ clipped, Σ d, Σ k3(d), Σ dual-capped, Σ kl, Σ low-clipped, Σ high-clipped, Σ m; stats are
// their means (see the top).
static_assert(A4J_POLICY_STATS == A4J_POLICY_ROW, "policy_loss: one stat per work column");

// Kernel 1's variants, the bits of its template argument.
constexpr int POLICY_SEQUENCE = 1;   // GSPO's sequence ratio
constexpr int POLICY_KL = 2;         // beta > 0: the k3 term to logp_ref
constexpr int POLICY_ADV_TOKEN = 4;  // adv is [B,T] (else [B])

// The reference KL's terms for u = ℓ_ref − ℓ_new, given eu = e^u: em1 = e^u − 1 and k3 = e^u − 1 − u. For |u| < 1/2
// the Taylor series to u^9 (truncation < 3e-9 relative), because e^u − 1 − u from a rounded e^u would keep only
// ~ulp(1)/k3 of relative accuracy (2e-5 at u = 0.1); beyond, the direct forms lose under 1e-6.
A4J_HOSTDEV void policy_kl_terms(float u, float eu, float& em1, float& k3) {
    float p = 1.0f / 362880.0f;
    p = fmaf(p, u, 1.0f / 40320.0f);
    p = fmaf(p, u, 1.0f / 5040.0f);
    p = fmaf(p, u, 1.0f / 720.0f);
    p = fmaf(p, u, 1.0f / 120.0f);
    p = fmaf(p, u, 1.0f / 24.0f);
    p = fmaf(p, u, 1.0f / 6.0f);
    p = fmaf(p, u, 0.5f);
    const float series = u * u * p;
    const bool small = fabsf(u) < 0.5f;
    k3 = small ? series : (eu - 1.0f) - u;
    em1 = small ? u + series : eu - 1.0f;
}

// x on the mask, +0 off it, by clearing every bit: a select (`on ? x : 0`) stops g++ vectorising these loops, and
// x·m gives −0 for x < 0.
A4J_HOSTDEV float policy_zero_off(float x, bool on) { return a4j_as_float(a4j_as_int(x) & (on ? -1 : 0)); }

template <int FLAGS>
__global__ void policy_loss_row_kernel(const float* A4J_RESTRICT logp_new, const float* A4J_RESTRICT logp_old,
                                       const float* A4J_RESTRICT logp_ref, const float* A4J_RESTRICT adv,
                                       const float* A4J_RESTRICT mask, int64_t T, float lo, float hi, float dual_clip,
                                       float beta, float* A4J_RESTRICT dlogp_new, float* A4J_RESTRICT work) {
    constexpr bool SEQ = (FLAGS & POLICY_SEQUENCE) != 0;
    constexpr bool KL = (FLAGS & POLICY_KL) != 0;
    constexpr bool ADV_TOKEN = (FLAGS & POLICY_ADV_TOKEN) != 0;
    const int64_t base = (int64_t)blockIdx.x * T;
    const float adv_row = ADV_TOKEN ? 0.0f : adv[blockIdx.x];
    // GSPO: the row's ratio, the same for each of its tokens. Σ m·0 is exactly 0, so equal log-probs give
    // exp(0) = 1.0f exactly.
    float s_row = 1.0f;
    double n_row = 0.0;
    if constexpr (SEQ) {
        double s_lr = 0.0, s_m = 0.0;
        for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
            const int64_t i = base + t;
            const float m = mask[i];
            s_lr += (logp_new[i] - logp_old[i]) * m;
            s_m += m;
        }
        s_lr = block_sum(s_lr);
        n_row = block_sum(s_m);
        s_row = a4j_exp((float)(s_lr / (n_row > 1.0 ? n_row : 1.0)));
    }
    // The row's clipped ratio and clip flags, outside the loop: g++ does not vectorise a select on a loop-invariant
    // condition (what `s_row < lo` in the loop would be).
    const float rc_row = s_row < lo ? lo : (s_row > hi ? hi : s_row);
    const float low_row = s_row < lo ? 1.0f : 0.0f, high_row = s_row > hi ? 1.0f : 0.0f;
    double s_loss = 0.0, s_clip = 0.0, s_k1 = 0.0, s_k3 = 0.0, s_dual = 0.0, s_kl = 0.0, s_low = 0.0, s_high = 0.0,
           s_n = 0.0, s_g = 0.0;
    // Branch-free (a4j_exp, selects of constants, inputs multiplied by the 0/1 mask) so that the host build
    // vectorises the loop: g++ does not vectorise several sums of `on ? x : 0` (conditional reductions).
    // Multiplying by the mask needs finite padding, which the Java layer checks.
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
        const int64_t i = base + t;
        const float m = mask[i];
        const bool on = m != 0.0f;
        const float a = (ADV_TOKEN ? adv[i] : adv_row) * m;
        const float d = (logp_old[i] - logp_new[i]) * m;
        const float e_d = a4j_exp(-d);  // the token's own ratio: the ratio at token level, approxkl at both
        const float rho = SEQ ? s_row : e_d;
        const float rho_c = SEQ ? rc_row : (rho < lo ? lo : (rho > hi ? hi : rho));
        // A = 0 gives 0 on both branches even where ρ overflowed to inf (0·inf would be NaN).
        const float l_unclipped = a == 0.0f ? 0.0f : -a * rho;
        const float l_clipped = a == 0.0f ? 0.0f : -a * rho_c;
        const bool clipped = l_clipped > l_unclipped;  // strict: ties take the unclipped branch
        const float l_pg = clipped ? l_clipped : l_unclipped;
        const float cap = -dual_clip * a;
        const bool capped = dual_clip > 0.0f && a < 0.0f && l_pg > cap;
        float loss = capped ? cap : l_pg;
        // ∂(−A·ρ)/∂ℓ_new = −A·ρ on the unclipped branch, 0 where the clip or the cap is active; at sequence level
        // the unclipped terms are summed into G and spread over the row after the loop.
        const float g_pg = !on || clipped || capped ? 0.0f : l_unclipped;
        float g = SEQ ? 0.0f : g_pg;  // unscaled: kernel 2 applies the normaliser
        if constexpr (KL) {
            const float u = (logp_ref[i] - logp_new[i]) * m;  // 0 off the mask: k3 = em1 = 0
            float em1, kl;
            policy_kl_terms(u, a4j_exp(u), em1, kl);
            loss += beta * kl;
            g -= beta * em1;
            s_kl += kl;
        }
        // Off the mask the KL's gradient is a zero whose sign -fno-signed-zeros leaves open (the host build);
        // the policy term's is +0 already. The sequence level without KL writes only after the loop (storing a
        // constant 0 here would become a memset that stops g++ vectorising the loop).
        if constexpr (!SEQ || KL) dlogp_new[i] = KL ? policy_zero_off(g, on) : g;
        // k3 = e^{−d} − 1 + d: the series near d = 0, where e^{−d} − 1 would cancel
        const float k3 = fabsf(d) < 0.0625f ? d * d * fmaf(d, fmaf(d, 1.0f / 24.0f, -1.0f / 6.0f), 0.5f)
                                            : e_d - 1.0f + d;
        // Off the mask a = d = 0, so loss, d and k3 are exactly 0 and no branch flag is set: the sums need no
        // select.
        s_loss += loss;
        s_clip += clipped ? 1.0f : 0.0f;
        s_k1 += d;
        s_k3 += k3;
        s_dual += capped ? 1.0f : 0.0f;
        s_low += SEQ ? (a < 0.0f ? low_row : 0.0f) : (rho < lo && a < 0.0f ? 1.0f : 0.0f);
        s_high += SEQ ? (a > 0.0f ? high_row : 0.0f) : (rho > hi && a > 0.0f ? 1.0f : 0.0f);
        s_n += on ? 1.0f : 0.0f;
        // g_pg (off the mask l_unclipped is 0 already), not as a select, which g++ would not vectorise here
        if constexpr (SEQ) s_g += a4j_as_float(a4j_as_int(l_unclipped) & (clipped ? 0 : -1) & (capped ? 0 : -1));
    }
    if constexpr (SEQ) {
        // Each thread rewrites the elements it wrote above (with the KL): no barrier needed.
        const double g_row = block_sum(s_g);
        const float gs = n_row > 0.0 ? (float)(g_row / n_row) : 0.0f;
        for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
            const int64_t i = base + t;
            dlogp_new[i] = policy_zero_off((KL ? dlogp_new[i] : 0.0f) + gs, mask[i] != 0.0f);
        }
    }
    ppo_loss_store_row<A4J_POLICY_ROW>(work, s_loss, s_clip, s_k1, s_k3, s_dual, s_kl, s_low, s_high, s_n);
}

// Launches the instantiation FLAGS of kernel 1 (found by recursion from F = 0; one name, so no comma inside the
// launch macro's argument).
template <int F, typename... Args> inline void policy_loss_rows(int flags, int64_t B, int64_t T, Args... args) {
    if constexpr (F < 7) {
        if (flags != F) {
            policy_loss_rows<F + 1>(flags, B, T, args...);
            return;
        }
    }
    A4J_LAUNCH(policy_loss_row_kernel<F>, B, PPO_LOSS_THREADS, B * T, args...);
}

// eps_low, eps_high >= 0, dual_clip <= 0 (off) or > 1, beta >= 0 (> 0 needs logp_ref), agg an A4J_AGG_* (_DR_GRPO and
// _DAPO with norm > 0), level an A4J_RATIO_*, adv_per_token 0/1: checked by the Java layer.
inline int policy_loss(const float* logp_new, const float* logp_old, const float* logp_ref, const float* adv,
                       const float* mask, int64_t B, int64_t T, int32_t adv_per_token, int32_t level, float eps_low,
                       float eps_high, float dual_clip, float beta, int32_t agg, double norm, float* dlogp_new,
                       float* work, float* stats) {
    if (B < 0 || T < 0 || !ppo_loss_agg_ok(agg, true, norm) || !(eps_low >= 0.0f) || !(eps_high >= 0.0f) ||
        !(dual_clip <= 0.0f || dual_clip > 1.0f) || !(beta >= 0.0f && beta < INFINITY) ||
        (beta > 0.0f && logp_ref == nullptr) || (level != A4J_RATIO_TOKEN && level != A4J_RATIO_SEQUENCE) ||
        (adv_per_token != 0 && adv_per_token != 1))
        return A4J_ERR_ARGUMENT;
    const int flags = (level == A4J_RATIO_SEQUENCE ? POLICY_SEQUENCE : 0) | (beta > 0.0f ? POLICY_KL : 0) |
                      (adv_per_token != 0 ? POLICY_ADV_TOKEN : 0);
    policy_loss_rows<0>(flags, B, T, logp_new, logp_old, logp_ref, adv, mask, T, 1.0f - eps_low, 1.0f + eps_high,
                        dual_clip, beta, dlogp_new, work);
    ppo_loss_finish<A4J_POLICY_ROW>(B, T, agg, norm, dlogp_new, work, stats);
    return 0;
}

}  // namespace a4j
