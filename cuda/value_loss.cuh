// value_loss.cuh — the clipped PPO value loss, its gradient and clipfrac.
//   inputs : values, values_old, returns, mask [B,T] (mask exactly 0/1; all values finite, padding included)
//   outputs: dvalues [B,T] = ∂loss/∂values (0 off-mask), stats[A4J_VALUE_STATS] = loss, clipfrac, token
//            count; work[B·A4J_VALUE_ROW] scratch.
// Per token: V_clip = V_old + clip(V − V_old, −ε_v, ε_v), L = ½·max((V − G)², (V_clip − G)²). Where the
// clipped term is strictly larger V_clip is a constant, so the gradient is 0; otherwise (ties included)
// it is V − G. agg (A4J_AGG_TOKEN_MEAN or _SEQUENCE_MEAN) as in policy_loss.cuh.
// clipfrac = token-mean of [(V_clip − G)² > (V − G)²].
// No token: stats and gradient 0.
// Floor: reads 4·B·T·4 bytes, writes B·T·4; the second launch re-reads and rewrites the gradient.
// One version, single source, the two-launch scheme (kernel 2 in ppo_loss_rows.cuh) and precision argument of
// policy_loss.cuh: double per-thread and block sums, float row partials in work, double batch sums in kernel 2.
#pragma once
#include "align4j.h"
#include "portability.h"
#include "ppo_loss_rows.cuh"

namespace a4j {

// A row of work: Σ m·L, Σ clipped, Σ m; stats are loss, clipfrac, token count.
static_assert(A4J_VALUE_STATS == A4J_VALUE_ROW, "value_loss: one stat per work column");

__global__ void value_loss_row_kernel(const float* A4J_RESTRICT values, const float* A4J_RESTRICT values_old,
                                      const float* A4J_RESTRICT returns, const float* A4J_RESTRICT mask, int64_t T,
                                      float eps_v, float* A4J_RESTRICT dvalues, float* A4J_RESTRICT work) {
    const int64_t base = (int64_t)blockIdx.x * T;
    double s_loss = 0.0, s_clip = 0.0, s_n = 0.0;
    // Branch-free, with the errors multiplied by the 0/1 mask (padding must be finite, which the Java layer
    // checks), so that the host build vectorises the loop: off the mask e = e_clip = 0, so the loss and the
    // gradient are 0 and the token is not counted as clipped.
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
        const int64_t i = base + t;
        const float m = mask[i];
        const float v = values[i], v_old = values_old[i], g = returns[i];
        const float delta = v - v_old;
        // Inside the range V_clip is V itself, not V_old + (V − V_old), which float rounding could make
        // differ from V by an ulp and so look "clipped" with a zero gradient.
        const float v_clip = delta > eps_v ? v_old + eps_v : (delta < -eps_v ? v_old - eps_v : v);
        const float e = (v - g) * m;
        const float e_clip = (v_clip - g) * m;
        const float e2 = e * e, ec2 = e_clip * e_clip;
        const float clipped = ec2 > e2 ? 1.0f : 0.0f;  // strict: ties take the unclipped branch
        // max(e², e_clip²) as a blend: g++ does not vectorise a sum of `c ? x : y` of two computed values
        const float l = fmaf(clipped, ec2 - e2, e2);
        dvalues[i] = clipped != 0.0f || m == 0.0f ? 0.0f : e;  // unscaled: kernel 2 applies the normaliser
        s_loss += 0.5f * l;
        s_clip += clipped;
        s_n += m;
    }
    ppo_loss_store_row<A4J_VALUE_ROW>(work, s_loss, s_clip, s_n);
}

// eps_v >= 0 and agg _TOKEN_MEAN or _SEQUENCE_MEAN: checked by the Java layer.
inline int value_loss(const float* values, const float* values_old, const float* returns, const float* mask,
                      int64_t B, int64_t T, float eps_v, int32_t agg, float* dvalues, float* work, float* stats) {
    if (B < 0 || T < 0 || !ppo_loss_agg_ok(agg, false, 0.0) || !(eps_v >= 0.0f)) return A4J_ERR_ARGUMENT;
    A4J_LAUNCH(value_loss_row_kernel, B, PPO_LOSS_THREADS, B * T, values, values_old, returns, mask, T, eps_v, dvalues,
               work);
    ppo_loss_finish<A4J_VALUE_ROW>(B, T, agg, 0.0, dvalues, work, stats);
    return 0;
}

}  // namespace a4j
