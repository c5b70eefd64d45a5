// preference_loss.cuh — the DPO family of pairwise preference losses, forward and gradient in one pass.
//   inputs : chosen[B], rejected[B]           policy sequence log-probs ℓ⁺θ, ℓ⁻θ (Σ of token log-probs)
//            ref_chosen[B], ref_rejected[B]   reference ℓ⁺ref, ℓ⁻ref (nullable for SimPO only)
//            chosen_len[B], rejected_len[B]   |y⁺|, |y⁻| as float counts (nullable unless IPO/LN_DPO/SimPO)
//   outputs: dchosen[B], drejected[B]  ∂(mean loss)/∂ℓ⁺θ, ∂(mean loss)/∂ℓ⁻θ
//            losses[B]                 per-pair losses (not divided by B)
//            rewards_chosen[B], rewards_rejected[B]   implicit rewards β(ℓθ − ℓref); per-token averages
//                                      β(ℓθ − ℓref)/|y| for IPO and LN_DPO; β ℓθ/|y| for SimPO
//            stats[A4J_PREF_STATS]     loss, mean rewards/chosen, mean rewards/rejected,
//                                      rewards/accuracies = mean[chosen > rejected], rewards/margins
// type is an A4J_PREF_* (A4J_PREF_CDPO is A4J_PREF_SIGMOID). Every loss is a function of one scalar per pair,
// z, linear in ℓ⁺θ and ℓ⁻θ, so the gradient is L'(z)·∂z/∂ℓ (Δ = (ℓ⁺θ − ℓ⁺ref) − (ℓ⁻θ − ℓ⁻ref); z is formed in
// double, then L(z) in float):
//   SIGMOID (and cDPO) z = βΔ,  L = −(1−ε) log σ(z) − ε log σ(−z)           (ε = label_smoothing)
//   ROBUST             z = βΔ,  L = [−(1−ε) log σ(z) + ε log σ(−z)] / (1 − 2ε)
//   HINGE              z = βΔ,  L = max(0, 1 − z), L'(z) = 0 at and beyond the kink
//   IPO                z = Δ̄ = (ℓ⁺θ − ℓ⁺ref)/|y⁺| − (ℓ⁻θ − ℓ⁻ref)/|y⁻|,  L = (z − 1/(2β))²
//   LN_DPO             z = βΔ̄,  L as SIGMOID (label smoothing included, as TRL's CPO does for SimPO)
//   SIMPO              z = β ℓ⁺θ/|y⁺| − β ℓ⁻θ/|y⁻| − γ,  L as SIGMOID (γ absolute, not γ/β)
// log σ is a4j_log_sigmoid (never overflows), so |z| = 1e3 and beyond stay finite.
// B = 0 writes stats of zeros (the mean over no pairs is taken as 0, not NaN).
// Floor: reads 6·B floats and writes 5·B: microseconds at any realistic B; the cost is one launch.
// One version, single source: B is small (64 typical, thousands at most), so one block of 256 threads
// strides over the pairs and block_sum gives the means (grid = 1, no second launch, no atomics). Sums are
// accumulated in double so the stats do not depend on the reduction order beyond float rounding.
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int PREF_THREADS = 256;

// Per-pair scalar pieces: the loss argument z, ∂z/∂ℓ⁺θ, ∂z/∂ℓ⁻θ, and the implicit rewards. z and the rewards
// are formed in double: sequence log-probs reach 1e3 and more, and a float (ℓ⁻θ − ℓ⁻ref) of that size would
// carry an absolute error of ~3e-5 into z (visible in a hinge or robust loss near its kink or cancellation);
// in double the differences of float inputs are exact. B is small, so the double arithmetic costs nothing.
struct PrefTerms {
    float z, dz_chosen, dz_rejected, reward_chosen, reward_rejected;
};

A4J_DEV PrefTerms preference_terms(int32_t type, float beta, float gamma, float c, float r, float rc, float rr,
                                    float lc, float lr) {
    PrefTerms t;
    const double b = beta;
    switch (type) {
        case A4J_PREF_IPO:       // β does not scale z; rewards are per-token averages
        case A4J_PREF_LN_DPO: {
            const double ac = ((double)c - rc) / lc, ar = ((double)r - rr) / lr;
            const double k = type == A4J_PREF_IPO ? 1.0 : b;
            t.z = (float)(k * (ac - ar));
            t.dz_chosen = (float)(k / lc);
            t.dz_rejected = (float)(-k / lr);
            t.reward_chosen = (float)(b * ac);
            t.reward_rejected = (float)(b * ar);
            break;
        }
        case A4J_PREF_SIMPO: {  // no reference
            const double wc = b * c / lc, wr = b * r / lr;
            t.z = (float)((wc - wr) - gamma);
            t.dz_chosen = (float)(b / lc);
            t.dz_rejected = (float)(-b / lr);
            t.reward_chosen = (float)wc;
            t.reward_rejected = (float)wr;
            break;
        }
        default: {  // A4J_PREF_SIGMOID, _ROBUST, _HINGE
            const double dc = (double)c - rc, dr = (double)r - rr;
            t.z = (float)(b * (dc - dr));
            t.dz_chosen = beta;
            t.dz_rejected = -beta;
            t.reward_chosen = (float)(b * dc);
            t.reward_rejected = (float)(b * dr);
            break;
        }
    }
    return t;
}

// Loss L(z) and L'(z) for the given type.
A4J_DEV void preference_loss_of(int32_t type, float beta, float eps, float z, float& loss, float& dloss) {
    if (type == A4J_PREF_HINGE) {
        const float h = 1.0f - z;
        loss = h > 0.0f ? h : 0.0f;
        dloss = h > 0.0f ? -1.0f : 0.0f;
    } else if (type == A4J_PREF_IPO) {
        const float d = z - 0.5f / beta;
        loss = d * d;
        dloss = 2.0f * d;
    } else {
        // d/dz log σ(z) = σ(−z), d/dz log σ(−z) = −σ(z)
        const float lsp = a4j_log_sigmoid(z), lsn = a4j_log_sigmoid(-z);
        const float sp = a4j_sigmoid(z), sn = a4j_sigmoid(-z);
        if (type == A4J_PREF_ROBUST) {
            const float inv = 1.0f / (1.0f - 2.0f * eps);
            loss = (-(1.0f - eps) * lsp + eps * lsn) * inv;
            dloss = (-(1.0f - eps) * sn - eps * sp) * inv;
        } else {  // SIGMOID / cDPO, LN_DPO, SIMPO
            loss = -(1.0f - eps) * lsp - eps * lsn;
            dloss = -(1.0f - eps) * sn + eps * sp;
        }
    }
}

__global__ void preference_loss_kernel(const float* A4J_RESTRICT chosen, const float* A4J_RESTRICT rejected,
                                       const float* A4J_RESTRICT ref_chosen, const float* A4J_RESTRICT ref_rejected,
                                       const float* A4J_RESTRICT chosen_len, const float* A4J_RESTRICT rejected_len,
                                       int64_t B, int32_t type, float beta, float eps, float gamma,
                                       float* A4J_RESTRICT dchosen, float* A4J_RESTRICT drejected,
                                       float* A4J_RESTRICT losses, float* A4J_RESTRICT rewards_chosen,
                                       float* A4J_RESTRICT rewards_rejected, float* A4J_RESTRICT stats) {
    const float inv_b = B > 0 ? 1.0f / (float)B : 0.0f;
    double s_loss = 0.0, s_rc = 0.0, s_rr = 0.0, s_acc = 0.0, s_margin = 0.0;
    for (int64_t i = threadIdx.x; i < B; i += blockDim.x) {
        const float rc = ref_chosen != nullptr ? ref_chosen[i] : 0.0f;
        const float rr = ref_rejected != nullptr ? ref_rejected[i] : 0.0f;
        const float lc = chosen_len != nullptr ? chosen_len[i] : 1.0f;
        const float lr = rejected_len != nullptr ? rejected_len[i] : 1.0f;
        const PrefTerms t = preference_terms(type, beta, gamma, chosen[i], rejected[i], rc, rr, lc, lr);
        float loss, dloss;
        preference_loss_of(type, beta, eps, t.z, loss, dloss);
        const float g = dloss * inv_b;
        dchosen[i] = g * t.dz_chosen;
        drejected[i] = g * t.dz_rejected;
        losses[i] = loss;
        rewards_chosen[i] = t.reward_chosen;
        rewards_rejected[i] = t.reward_rejected;
        s_loss += loss;
        s_rc += t.reward_chosen;
        s_rr += t.reward_rejected;
        s_acc += t.reward_chosen > t.reward_rejected ? 1.0 : 0.0;
        s_margin += (double)t.reward_chosen - (double)t.reward_rejected;  // exact in double
    }
    // Every thread reaches this (block_sum synchronises the block).
    block_sums_store(stats, B > 0 ? 1.0 / (double)B : 0.0, s_loss, s_rc, s_rr, s_acc, s_margin);
}

inline int preference_loss(const float* chosen, const float* rejected, const float* ref_chosen,
                           const float* ref_rejected, const float* chosen_len, const float* rejected_len, int64_t B,
                           int32_t type, float beta, float label_smoothing, float gamma, float* dchosen,
                           float* drejected, float* losses, float* rewards_chosen, float* rewards_rejected,
                           float* stats) {
    if (B < 0 || type < A4J_PREF_SIGMOID || type > A4J_PREF_SIMPO) return A4J_ERR_ARGUMENT;  // Java prevents it
    // grid = 1 even for B = 0, so that the stats are written.
    A4J_LAUNCH(preference_loss_kernel, 1, PREF_THREADS, B, chosen, rejected, ref_chosen, ref_rejected, chosen_len,
               rejected_len, B, type, beta, label_smoothing, gamma, dchosen, drejected, losses, rewards_chosen,
               rewards_rejected, stats);
    return 0;
}

}  // namespace a4j
