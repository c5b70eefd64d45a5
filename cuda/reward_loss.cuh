// reward_loss.cuh — Bradley–Terry reward-model loss with an optional margin and centring term.
//   inputs : r_chosen[B], r_rejected[B] (scalar rewards r⁺, r⁻), margin[B] (nullable = 0), center_coef c >= 0
//   outputs: dchosen[B], drejected[B]   ∂L/∂r⁺, ∂L/∂r⁻ of the mean loss
//            stats[A4J_RM_STATS]        loss, accuracy = mean[r⁺ > r⁻], mean r⁺, mean r⁻, mean (r⁺ − r⁻)
//   L = −mean log σ(r⁺ − r⁻ − m) + c·mean((r⁺ + r⁻)²)
//   ∂L/∂r⁺ = (−σ(−z) + 2c(r⁺ + r⁻)) / B,  ∂L/∂r⁻ = (σ(−z) + 2c(r⁺ + r⁻)) / B,  z = r⁺ − r⁻ − m
// The accuracy ignores the margin (it asks only whether the chosen response scores higher).
// B = 0 writes stats of zeros (the mean over no pairs is taken as 0).
// Floor: reads 3·B floats, writes 2·B: one launch's cost at any realistic B.
// One version, single source: one block of 256 threads strides over the pairs, block_sum for the means
// (grid = 1), sums in double.
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int RM_THREADS = 256;

__global__ void reward_loss_kernel(const float* A4J_RESTRICT r_chosen, const float* A4J_RESTRICT r_rejected,
                                   const float* A4J_RESTRICT margin, int64_t B, float center_coef,
                                   float* A4J_RESTRICT dchosen, float* A4J_RESTRICT drejected,
                                   float* A4J_RESTRICT stats) {
    const float inv_b = B > 0 ? 1.0f / (float)B : 0.0f;
    double s_loss = 0.0, s_acc = 0.0, s_c = 0.0, s_r = 0.0, s_margin = 0.0;
    for (int64_t i = threadIdx.x; i < B; i += blockDim.x) {
        const float rp = r_chosen[i], rn = r_rejected[i];
        // In double, the difference (and sum) of two floats is exact: a float r⁺ − r⁻ of rewards near 1e3 would
        // be off by ~3e-5 (B is small, so the double arithmetic costs nothing).
        const double diff = (double)rp - rn;
        const float z = (float)(margin != nullptr ? diff - margin[i] : diff);
        const float sum = (float)((double)rp + rn);
        const float sn = a4j_sigmoid(-z);  // −∂/∂z log σ(z)
        const float center = 2.0f * center_coef * sum;
        dchosen[i] = (center - sn) * inv_b;
        drejected[i] = (center + sn) * inv_b;
        s_loss += (double)(-a4j_log_sigmoid(z)) + (double)center_coef * ((double)sum * (double)sum);
        s_acc += rp > rn ? 1.0 : 0.0;
        s_c += rp;
        s_r += rn;
        s_margin += diff;
    }
    block_sums_store(stats, B > 0 ? 1.0 / (double)B : 0.0, s_loss, s_acc, s_c, s_r, s_margin);
}

inline int reward_loss(const float* r_chosen, const float* r_rejected, const float* margin, int64_t B,
                       float center_coef, float* dchosen, float* drejected, float* stats) {
    if (B < 0) return A4J_ERR_ARGUMENT;  // the Java layer prevents it
    // grid = 1 even for B = 0, so that the stats are written.
    A4J_LAUNCH(reward_loss_kernel, 1, RM_THREADS, B, r_chosen, r_rejected, margin, B, center_coef, dchosen, drejected,
               stats);
    return 0;
}

}  // namespace a4j
