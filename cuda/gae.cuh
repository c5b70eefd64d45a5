// gae.cuh — generalised advantage estimation (Schulman et al.), the backward scan of PPO.
//   in : rewards, values, mask [B,T] (0/1), γ, λ
//   out: advantages, returns [B,T]; 0 off the mask
// The scan runs over the MASKED positions of each row only: a masked-out position is skipped (its outputs
// are 0 and the recursion carries across it), and V and A are zero after the last masked token. For
// masked t, with V_next and A_next the values at the next masked position (0 after the last):
//   δ_t = r_t + γ·V_next − V_t,   A_t = δ_t + γλ·A_next,   G_t = A_t + V_t.
// For a contiguous response this is exactly the textbook formula over the response tokens.
// Masked-out inputs are not used (selects), so padding may hold anything. No gradient: advantages and
// returns are targets in PPO.
// Floor: reads 3·B·T·4 bytes, writes 2·B·T·4.
//
// One version, single source. A warp owns a row and walks it backward in chunks of W = blockDim.x
// positions (32 on the GPU, 1 on the host, where everything below collapses to the plain sequential scan).
// Lane i holds position p = chunk start + i. Both recurrences are suffix compositions of affine maps x ->
// a + b·x, applied to the state carried in from the part of the row already done (carry_v = V at the first
// masked position at or after the chunk's end, carry_a = A there):
//   * "V at the first masked position after p" is the composition, over positions q in (p, chunk end), of
//     g_q(x) = m_q ? V_q : x. Lane i takes the map of position p+1 (lane W−1 the identity), so the inclusive
//     warp scan gives the exclusive result  V_next(p) = sa + sb·carry_v  without any lane shift.
//   * Then δ_p = (r_p − V_p + γ·sa) + γ·sb·carry_v, and A is the composition of f_p(x) = m_p ? δ_p + γλ·x : x.
//     Its offsets are linear in carry_v, so two scans with the same multipliers (offsets r − V + γ·sa, and
//     γ·sb) give A_p = a1 + a2·carry_v + b·carry_a.
// None of the scans depends on the carries, so GAE_GROUP chunks are loaded and scanned together (their
// loads and shuffles overlap); only the cheap carry updates, from each chunk's whole map (lane 0's,
// broadcast), run in sequence.
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int GAE_THREADS = 32;  // one warp per row: the scans are warp scans
constexpr int GAE_GROUP = 8;     // chunks in flight together
// Full unrolling keeps the per-chunk arrays in registers.
#if defined(__CUDACC__)
#define A4J_GAE_UNROLL _Pragma("unroll")
#else
#define A4J_GAE_UNROLL _Pragma("GCC unroll 8")
#endif

__global__ void gae_kernel(const float* A4J_RESTRICT rewards, const float* A4J_RESTRICT values,
                           const float* A4J_RESTRICT mask, int64_t T, float gamma, float lambda,
                           float* A4J_RESTRICT advantages, float* A4J_RESTRICT returns) {
    const int64_t row = blockIdx.x;
    const float* r = rewards + row * T;
    const float* v = values + row * T;
    const float* m = mask + row * T;
    float* adv = advantages + row * T;
    float* ret = returns + row * T;
    const int lane = (int)threadIdx.x;
    const int W = (int)blockDim.x;
    const float c = gamma * lambda;
    float carry_v = 0.0f, carry_a = 0.0f;
    for (int64_t end = T; end > 0; end -= (int64_t)W * GAE_GROUP) {
        bool on[GAE_GROUP];
        float val[GAE_GROUP], a1[GAE_GROUP], a2[GAE_GROUP], b[GAE_GROUP];
        float tva[GAE_GROUP], tvb[GAE_GROUP], ta1[GAE_GROUP], ta2[GAE_GROUP], tb[GAE_GROUP];
A4J_GAE_UNROLL
        for (int j = 0; j < GAE_GROUP; ++j) {  // chunk j covers [end − (j+1)·W, end − j·W)
            const int64_t p = end - (int64_t)(j + 1) * W + lane;
            on[j] = p >= 0 && m[p] != 0.0f;
            const float vp = on[j] ? v[p] : 0.0f;
            const float rp = on[j] ? r[p] : 0.0f;
            val[j] = vp;
            const int64_t q = p + 1;  // < chunk end for every lane but the last
            const bool q_on = lane < W - 1 && q >= 0 && m[q] != 0.0f;
            float sa = q_on ? v[q] : 0.0f, sb = q_on ? 0.0f : 1.0f;
            warp_suffix_scan_affine(sa, sb);
            // The chunk's whole V map: lane 0 puts its own position in front.
            float wa = on[j] ? vp : sa, wb = on[j] ? 0.0f : sb;
            warp_broadcast_first(wa, wb);
            tva[j] = wa;
            tvb[j] = wb;
            float x1 = on[j] ? rp - vp + gamma * sa : 0.0f, y1 = on[j] ? c : 1.0f;
            float x2 = on[j] ? gamma * sb : 0.0f, y2 = y1;
            warp_suffix_scan_affine(x1, y1);
            warp_suffix_scan_affine(x2, y2);
            a1[j] = x1;
            a2[j] = x2;
            b[j] = y1;
            warp_broadcast_first(x1, y1);
            warp_broadcast_first(x2, y2);
            ta1[j] = x1;
            ta2[j] = x2;
            tb[j] = y1;
        }
A4J_GAE_UNROLL
        for (int j = 0; j < GAE_GROUP; ++j) {
            const int64_t p = end - (int64_t)(j + 1) * W + lane;
            if (p >= 0) {
                const float a = fmaf(b[j], carry_a, fmaf(a2[j], carry_v, a1[j]));
                adv[p] = on[j] ? a : 0.0f;
                ret[p] = on[j] ? a + val[j] : 0.0f;
            }
            const float next_a = fmaf(tb[j], carry_a, fmaf(ta2[j], carry_v, ta1[j]));
            carry_v = fmaf(tvb[j], carry_v, tva[j]);
            carry_a = next_a;
        }
    }
}

inline int gae(const float* rewards, const float* values, const float* mask, int64_t B, int64_t T, float gamma,
               float lambda, float* advantages, float* returns) {
    if (!(gamma >= 0.0f && gamma <= 1.0f) || !(lambda >= 0.0f && lambda <= 1.0f)) return A4J_ERR_ARGUMENT;
    A4J_LAUNCH(gae_kernel, B, GAE_THREADS, B * T, rewards, values, mask, T, gamma, lambda, advantages, returns);
    return 0;
}

}  // namespace a4j
