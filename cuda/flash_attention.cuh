// flash_attention.cuh — fused causal attention (FlashAttention's tiling and online softmax): no [Tq, Tk] score
// tensor exists anywhere, only per-tile scratch.
//   q [B, H, Tq, D]; k, v [B, Hkv, S, D] (S: the slot stride, e.g. a KV cache's maxT; only slots [0, Tk) are read),
//   H % Hkv == 0 (grouped-query attention: query head h reads kv head h / (H / Hkv)), Tq <= Tk <= S, 1 <= D <= 128.
//   Query i sits at slot Tk − Tq + i and sees the keys ks_b <= j <= Tk − Tq + i, ks_b = key_start[b] (0 when
//   key_start is null: left padding of a KV cache is masked this way).
//   forward : o_i = Σ_j softmax_j(scale·q_i·k_j)·v_j,  lse_i = log Σ_j exp(scale·q_i·k_j) over the visible keys;
//             a query that sees no key gets o_i = 0 and lse_i = −inf (never NaN).
//   backward (from q, k, v, o, lse, dO): P_ij = exp(scale·q_i·k_j − lse_i), Δ_i = Σ_d dO_i·o_i,
//             dS_ij = scale·P_ij·(dO_i·v_j − Δ_i); dq_i = Σ_j dS_ij·k_j, dk_j = Σ_i dS_ij·q_i, dv_j = Σ_i P_ij·dO_i,
//             dk/dv summed over the H/Hkv query heads of a group. dq, dk, dv are written, not accumulated; dk, dv are
//             the full gradients of k, v [B, Hkv, S, D] (0 on slots that no query reads: j < ks_b, j >= Tk).
// Scores are kept in base 2 (scale·log2(e) folded into the staged k or q), so every exponential is exp2 of a
// number <= 0; the running max and sum are fp32; lse is stored in natural-log units.
// Floor: causal, Tq = Tk = T: 4·B·H·T²·D/2 FLOPs forward (q·kᵀ and p·v over the visible half), 10·B·H·T²·D/2
// backward (q·kᵀ and dO·vᵀ recomputed, then dv, dk, dq), plus B·H·T²/2 exponentials each way; memory is O(T·D):
// q, k, v, o read or written once per query or key tile.
// Two versions, one file, because the two machines want different tilings:
//   * GPU (nvcc and the emulated GPU): 128 threads per block, 16×16 tiles in shared memory. Forward and dq: one
//     block per (b, h, 16 queries), looping over key tiles; dk/dv: one block per (b, h, 16 keys), looping over
//     query tiles, so every output element has one writer (no atomics, deterministic). Each tile product is a
//     plain loop per thread over D from shared memory; the online softmax's row max and sum are half-warp
//     shuffles (a row's 16 keys on 16 lanes). Δ_i is recomputed from o and dO (D per row) by each block that
//     needs it rather than by a kernel and a buffer of its own. Grouped heads write per-query-head dk/dv partials
//     into `work`, summed by fa_kv_finish_kernel. Plain, not tuned (no tensor cores, no vector loads).
//   * CPU: one OpenMP thread per block, tiles of 64 queries × 64 keys copied (zero-padded to whole vectors) into
//     thread-local buffers, and the products as register-blocked micro-kernels on GCC vector types of the
//     machine's width (16 floats under AVX-512, 8 under the portable x86-64-v3 build's AVX2). Forward: one block
//     per (b, h, 64 queries), the costliest (last) query tiles first, scores computed transposed (k·qᵀ, the query
//     tile transposed once per block) so that the online softmax's per-query max and sum are vertical vector ops;
//     up to 8 queries (decoding) take their scores as dot products instead. Backward: FlashAttention-2's loop
//     order, one block per (b, h): key tiles outer (their dk, dv in registers and L1, k and v transposed once per
//     key tile), query tiles inner, dq accumulated in place (the block owns the head's dq rows), so nothing is
//     recomputed beyond the 10 units above and no atomics are needed. Fully masked key tiles (above the diagonal,
//     before key_start) are skipped. Measured (this machine, one Zen 5 core, D = 64, T = 1024): ~110 GFLOP/s
//     forward, ~120 backward, where the micro-kernels alone reach ~155 (exponentials and tile copies are the rest).
#pragma once
#include "portability.h"
#if !defined(A4J_GPU)
#include <type_traits>
#include <vector>
#endif

namespace a4j {

constexpr int64_t FA_MAX_D = 128;

A4J_HOSTDEV int64_t fa_min(int64_t a, int64_t b) { return a < b ? a : b; }
A4J_HOSTDEV int64_t fa_key_start(const int32_t* key_start, int64_t b) {
    return key_start == nullptr ? 0 : (int64_t)key_start[b];
}

// dk, dv [B, Hkv, S, D] from the kernels' output: with partials (grouped heads), rows j < Tk are the sums over the
// group's H/Hkv query heads of part_k/part_v [B, H, Tk, D] and rows j >= Tk are 0; without (H == Hkv, the main
// kernels wrote rows j < Tk themselves) only rows j >= Tk are zeroed. Block = `rows` consecutive (b, hk, j) rows.
__global__ void fa_kv_finish_kernel(const float* part_k, const float* part_v, int64_t H, int64_t Hkv, int64_t Tk,
                                    int64_t S, int64_t D, int64_t total, int64_t rows, float* dk, float* dv) {
    const int64_t G = H / Hkv;
    const int64_t r1 = fa_min(total, ((int64_t)blockIdx.x + 1) * rows);
    for (int64_t row = (int64_t)blockIdx.x * rows; row < r1; ++row) {
        const int64_t j = row % S, bhk = row / S;
        float* ok = dk + row * D;
        float* ov = dv + row * D;
        if (j >= Tk) {
            for (int64_t d = threadIdx.x; d < D; d += blockDim.x) ok[d] = ov[d] = 0.0f;
        } else if (part_k != nullptr) {
            // query heads hk·G .. hk·G + G − 1 of batch b = bhk / Hkv: partial rows (b·H + hk·G + g)·Tk + j
            const int64_t first = ((bhk / Hkv) * H + (bhk % Hkv) * G) * Tk + j;
            for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
                float sk = 0.0f, sv = 0.0f;
                for (int64_t g = 0; g < G; ++g) {
                    sk += part_k[(first + g * Tk) * D + d];
                    sv += part_v[(first + g * Tk) * D + d];
                }
                ok[d] = sk;
                ov[d] = sv;
            }
        }
    }
}

#if defined(A4J_GPU)  // ---------------------------------------------------------------- GPU (and emulated GPU)

constexpr int FA_THREADS = 128;
constexpr int64_t FA_T = 16;                                // queries and keys per tile
constexpr int64_t FA_TS = FA_T + 1;                         // row stride of the score tiles
constexpr int FA_ACC = (int)(FA_T * FA_MAX_D / FA_THREADS);  // output elements per thread of a [16, D] tile
constexpr unsigned FA_FULL = 0xffffffffu;
// Full unrolling keeps each thread's accumulators in registers.
#if defined(__CUDACC__)
#define A4J_FA_UNROLL _Pragma("unroll")
#else
#define A4J_FA_UNROLL _Pragma("GCC unroll 16")
#endif

// dst[r·ld + d] = mul·src[r·D + d] for the rows r < n of a 16-row tile, 0 for rows n..15. (A k or v tile uses
// ld = D | 1, odd, so that 16 threads reading 16 rows at one d hit 16 banks.)
A4J_DEV void fa_stage(const float* src, int64_t n, int64_t D, int64_t ld, float mul, float* dst) {
    for (int64_t e = threadIdx.x; e < FA_T * D; e += blockDim.x) {
        const int64_t r = e / D, d = e - r * D;
        dst[r * ld + d] = r < n ? mul * src[r * D + d] : 0.0f;
    }
}

// s[r·FA_TS + c] = Σ_d a[r·lda + d]·b[c·ldb + d] over the 16 × 16 tile.
A4J_DEV void fa_dots(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t D, float* s) {
    for (int64_t e = threadIdx.x; e < FA_T * FA_T; e += blockDim.x) {
        const int64_t r = e / FA_T, c = e % FA_T;
        float acc = 0.0f;
        for (int64_t d = 0; d < D; ++d) acc = fmaf(a[r * lda + d], b[c * ldb + d], acc);
        s[r * FA_TS + c] = acc;
    }
}

// acc[x] (+)= Σ_{c < n} p[row·ps + c·pc]·m[c·ldm + d] for this thread's elements (row, d) = divmod(tid + x·128, D).
A4J_DEV void fa_accumulate(float* acc, const float* p, int64_t ps, int64_t pc, int64_t n, const float* m, int64_t ldm,
                           int64_t D) {
A4J_FA_UNROLL
    for (int x = 0; x < FA_ACC; ++x) {
        const int64_t e = threadIdx.x + (int64_t)x * FA_THREADS;
        if (e < FA_T * D) {
            const int64_t row = e / D, d = e - row * D;
            float a = acc[x];
            for (int64_t c = 0; c < n; ++c) a = fmaf(p[row * ps + c * pc], m[c * ldm + d], a);
            acc[x] = a;
        }
    }
}

// out[row·D + d] = mul·acc[x] for this thread's elements in rows < n (row stride D).
A4J_DEV void fa_store(const float* acc, int64_t n, int64_t D, float mul, float* out) {
A4J_FA_UNROLL
    for (int x = 0; x < FA_ACC; ++x) {
        const int64_t e = threadIdx.x + (int64_t)x * FA_THREADS;
        if (e < n * D) out[e] = mul * acc[x];
    }
}

// Block = (b, h, query tile of 16). The row statistics m (running max, base 2), l (running sum) and the rescale
// factor live in shared memory; a row's 16 scores sit on 16 lanes of a half-warp.
__global__ void fa_fwd_kernel(const float* q, const float* k, const float* v, const int32_t* key_start, int64_t H,
                              int64_t Hkv, int64_t Tq, int64_t Tk, int64_t S, int64_t D, float scale, float* o,
                              float* lse) {
    __shared__ float qs[FA_T * FA_MAX_D], ks[FA_T * (FA_MAX_D + 1)], vs[FA_T * (FA_MAX_D + 1)], ps[FA_T * FA_TS];
    __shared__ float m_s[FA_T], l_s[FA_T], a_s[FA_T];
    const int64_t tiles = (Tq + FA_T - 1) / FA_T;
    const int64_t bh = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * FA_T, b = bh / H;
    const int64_t kvh = (b * Hkv + (bh % H) / (H / Hkv)) * S * D, ld = D | 1, off = Tk - Tq;
    const int64_t nq = fa_min(FA_T, Tq - i0), jend = off + i0 + nq;
    const int lane = threadIdx.x & 31, half_row = (int)(threadIdx.x >> 5) * 4 + (lane >> 4), c = lane & 15;
    fa_stage(q + (bh * Tq + i0) * D, nq, D, D, scale * A4J_LOG2E, qs);
    if (threadIdx.x < FA_T) {
        m_s[threadIdx.x] = -INFINITY;
        l_s[threadIdx.x] = 0.0f;
    }
    float acc[FA_ACC];
A4J_FA_UNROLL
    for (int x = 0; x < FA_ACC; ++x) acc[x] = 0.0f;
    for (int64_t j0 = fa_key_start(key_start, b); j0 < jend; j0 += FA_T) {
        const int64_t jn = fa_min(FA_T, jend - j0);
        __syncthreads();  // the previous tile's readers are done with ks, vs, ps
        fa_stage(k + kvh + j0 * D, jn, D, ld, 1.0f, ks);
        fa_stage(v + kvh + j0 * D, jn, D, ld, 1.0f, vs);
        __syncthreads();
        fa_dots(qs, D, ks, ld, D, ps);
        __syncthreads();
        for (int pass = 0; pass < 2; ++pass) {  // warp w: rows 4w + 2·pass + (lane / 16)
            const int64_t r = half_row + 2 * pass;
            const int64_t lim = r < nq ? fa_min(jn, off + i0 + r - j0 + 1) : 0;  // keys c < lim are visible
            const float s = c < lim ? ps[r * FA_TS + c] : -INFINITY;
            float mt = s;
            for (int w = 8; w > 0; w >>= 1) mt = fmaxf(mt, __shfl_xor_sync(FA_FULL, mt, w));
            const float m_old = m_s[r], m_new = fmaxf(m_old, mt);
            const float p = c < lim ? a4j_exp2_nonpos(s - m_new) : 0.0f;
            float sum = p;
            for (int w = 8; w > 0; w >>= 1) sum += __shfl_xor_sync(FA_FULL, sum, w);
            ps[r * FA_TS + c] = p;
            if (c == 0) {  // no visible key yet: nothing to rescale
                const float alpha = m_new == -INFINITY ? 1.0f : a4j_exp2_nonpos(m_old - m_new);
                a_s[r] = alpha;
                l_s[r] = l_s[r] * alpha + sum;
                m_s[r] = m_new;
            }
        }
        __syncthreads();
A4J_FA_UNROLL
        for (int x = 0; x < FA_ACC; ++x) {
            const int64_t e = threadIdx.x + (int64_t)x * FA_THREADS;
            if (e < FA_T * D) acc[x] *= a_s[e / D];
        }
        fa_accumulate(acc, ps, FA_TS, 1, jn, vs, ld, D);
    }
    __syncthreads();
A4J_FA_UNROLL
    for (int x = 0; x < FA_ACC; ++x) {
        const int64_t e = threadIdx.x + (int64_t)x * FA_THREADS;
        if (e < nq * D) acc[x] = l_s[e / D] > 0.0f ? acc[x] / l_s[e / D] : 0.0f;
    }
    fa_store(acc, nq, D, 1.0f, o + (bh * Tq + i0) * D);
    if (threadIdx.x < nq) {
        const float l = l_s[threadIdx.x];
        lse[bh * Tq + i0 + threadIdx.x] = l > 0.0f ? (m_s[threadIdx.x] + log2f(l)) * A4J_LN2 : -INFINITY;
    }
}

// The stage both backward kernels share, for a 16 × 16 tile (rows: queries i0 + r < i0 + nq, columns: keys j0 + c):
// ps holds the scores in base 2 on entry, dps holds dO·vᵀ; on exit ps = P, dps = dS = scale·P·(dP − Δ), both 0 on
// the masked entries (keys outside [ks, off + i], rows without a visible key: lse = −inf).
A4J_DEV void fa_probs(float* ps, float* dps, const float* lse2_s, const float* delta_s, int64_t nq, int64_t kn,
                      int64_t i0, int64_t j0, int64_t off, int64_t ks, float scale) {
    for (int64_t e = threadIdx.x; e < FA_T * FA_T; e += blockDim.x) {
        const int64_t r = e / FA_T, c = e % FA_T, j = j0 + c;
        const bool visible = r < nq && c < kn && j >= ks && j <= off + i0 + r && lse2_s[r] > -INFINITY;
        const float p = visible ? a4j_exp2_nonpos(fminf(ps[r * FA_TS + c] - lse2_s[r], 0.0f)) : 0.0f;
        ps[r * FA_TS + c] = p;
        dps[r * FA_TS + c] = scale * p * (dps[r * FA_TS + c] - delta_s[r]);
    }
}

// The per-query lse (as base 2) and Δ = Σ_d o·dout of the rows i0 .. i0 + nq − 1 (−inf and 0 beyond), from the
// rows' o, dout and lse. Δ costs D per row: recomputed by every block that needs it rather than a kernel of its own.
A4J_DEV void fa_stage_rows(const float* lse, const float* o, const float* dout, int64_t nq, int64_t D, float* lse2_s,
                           float* delta_s) {
    const int64_t r = threadIdx.x;
    if (r < FA_T) {
        float delta = 0.0f;
        for (int64_t d = 0; r < nq && d < D; ++d) delta = fmaf(o[r * D + d], dout[r * D + d], delta);
        lse2_s[r] = r < nq ? lse[r] * A4J_LOG2E : -INFINITY;
        delta_s[r] = delta;
    }
}

// dq: block = (b, h, query tile of 16), looping over the key tiles its rows see.
__global__ void fa_bwd_dq_kernel(const float* q, const float* k, const float* v, const float* o, const float* dout,
                                 const float* lse, const int32_t* key_start, int64_t H, int64_t Hkv, int64_t Tq,
                                 int64_t Tk, int64_t S, int64_t D, float scale, float* dq) {
    __shared__ float qs[FA_T * FA_MAX_D], dos[FA_T * FA_MAX_D], ks[FA_T * (FA_MAX_D + 1)], vs[FA_T * (FA_MAX_D + 1)];
    __shared__ float ps[FA_T * FA_TS], dps[FA_T * FA_TS], lse2_s[FA_T], delta_s[FA_T];
    const int64_t tiles = (Tq + FA_T - 1) / FA_T;
    const int64_t bh = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * FA_T, b = bh / H;
    const int64_t kvh = (b * Hkv + (bh % H) / (H / Hkv)) * S * D, ld = D | 1, off = Tk - Tq;
    const int64_t nq = fa_min(FA_T, Tq - i0), jend = off + i0 + nq, key0 = fa_key_start(key_start, b);
    fa_stage(q + (bh * Tq + i0) * D, nq, D, D, scale * A4J_LOG2E, qs);
    fa_stage(dout + (bh * Tq + i0) * D, nq, D, D, 1.0f, dos);
    fa_stage_rows(lse + bh * Tq + i0, o + (bh * Tq + i0) * D, dout + (bh * Tq + i0) * D, nq, D, lse2_s, delta_s);
    float acc[FA_ACC];
A4J_FA_UNROLL
    for (int x = 0; x < FA_ACC; ++x) acc[x] = 0.0f;
    for (int64_t j0 = key0; j0 < jend; j0 += FA_T) {
        const int64_t jn = fa_min(FA_T, jend - j0);
        __syncthreads();
        fa_stage(k + kvh + j0 * D, jn, D, ld, 1.0f, ks);
        fa_stage(v + kvh + j0 * D, jn, D, ld, 1.0f, vs);
        __syncthreads();
        fa_dots(qs, D, ks, ld, D, ps);
        fa_dots(dos, D, vs, ld, D, dps);
        __syncthreads();
        fa_probs(ps, dps, lse2_s, delta_s, nq, jn, i0, j0, off, key0, scale);
        __syncthreads();
        fa_accumulate(acc, dps, FA_TS, 1, jn, ks, ld, D);  // dq_i += Σ_j dS_ij·k_j
    }
    fa_store(acc, nq, D, 1.0f, dq + (bh * Tq + i0) * D);
}

// dk, dv: block = (b, h, key tile of 16 keys of [0, Tk)), looping over the query tiles that see them; writes rows of
// dk/dv (H == Hkv: [B, Hkv, S, D] directly) or of the partials part_k/part_v [B, H, Tk, D] (grouped heads).
__global__ void fa_bwd_dkdv_kernel(const float* q, const float* k, const float* v, const float* o, const float* dout,
                                   const float* lse, const int32_t* key_start, int64_t H, int64_t Hkv, int64_t Tq,
                                   int64_t Tk, int64_t S, int64_t D, float scale, float* dk, float* dv,
                                   int64_t out_slots) {
    __shared__ float qs[FA_T * FA_MAX_D], dos[FA_T * FA_MAX_D], ks[FA_T * (FA_MAX_D + 1)], vs[FA_T * (FA_MAX_D + 1)];
    __shared__ float ps[FA_T * FA_TS], dps[FA_T * FA_TS], lse2_s[FA_T], delta_s[FA_T];
    const int64_t tiles = (Tk + FA_T - 1) / FA_T;
    const int64_t bh = blockIdx.x / tiles, j0 = (blockIdx.x % tiles) * FA_T, b = bh / H;
    const int64_t kvh = (b * Hkv + (bh % H) / (H / Hkv)) * S * D, ld = D | 1, off = Tk - Tq;
    const int64_t kn = fa_min(FA_T, Tk - j0), key0 = fa_key_start(key_start, b);
    // k staged with scale·log2(e): the scores come out in base 2 against unscaled q rows, which dk needs
    fa_stage(k + kvh + j0 * D, kn, D, ld, scale * A4J_LOG2E, ks);
    fa_stage(v + kvh + j0 * D, kn, D, ld, 1.0f, vs);
    float acc_k[FA_ACC], acc_v[FA_ACC];
A4J_FA_UNROLL
    for (int x = 0; x < FA_ACC; ++x) acc_k[x] = acc_v[x] = 0.0f;
    // the first query that sees key j0: off + i >= j0; none when every key of the tile is before key_start
    const int64_t first = j0 + kn > key0 ? (j0 - off > 0 ? j0 - off : 0) : Tq;
    for (int64_t i0 = first; i0 < Tq; i0 += FA_T) {
        const int64_t nq = fa_min(FA_T, Tq - i0);
        __syncthreads();
        fa_stage(q + (bh * Tq + i0) * D, nq, D, D, 1.0f, qs);
        fa_stage(dout + (bh * Tq + i0) * D, nq, D, D, 1.0f, dos);
        fa_stage_rows(lse + bh * Tq + i0, o + (bh * Tq + i0) * D, dout + (bh * Tq + i0) * D, nq, D, lse2_s, delta_s);
        __syncthreads();
        fa_dots(qs, D, ks, ld, D, ps);
        fa_dots(dos, D, vs, ld, D, dps);
        __syncthreads();
        fa_probs(ps, dps, lse2_s, delta_s, nq, kn, i0, j0, off, key0, scale);
        __syncthreads();
        fa_accumulate(acc_v, ps, 1, FA_TS, FA_T, dos, D, D);   // dv_j += Σ_i P_ij·dO_i
        fa_accumulate(acc_k, dps, 1, FA_TS, FA_T, qs, D, D);   // dk_j += Σ_i dS_ij·q_i
    }
    // row (b·H + h)·out_slots + j: with H == Hkv that is dk's own row (out_slots = S), else the partials' (Tk)
    fa_store(acc_k, kn, D, 1.0f, dk + (bh * out_slots + j0) * D);
    fa_store(acc_v, kn, D, 1.0f, dv + (bh * out_slots + j0) * D);
}

inline int fa_launch_fwd(const float* q, const float* k, const float* v, const int32_t* key_start, int64_t B,
                         int64_t H, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t S, int64_t D, float scale, float* o,
                         float* lse) {
    A4J_LAUNCH(fa_fwd_kernel, B * H * ((Tq + FA_T - 1) / FA_T), FA_THREADS, 0, q, k, v, key_start, H, Hkv, Tq, Tk, S,
               D, scale, o, lse);
    return 0;
}

inline int fa_launch_bwd(const float* q, const float* k, const float* v, const float* o, const float* lse,
                         const float* dout, const int32_t* key_start, int64_t B, int64_t H, int64_t Hkv, int64_t Tq,
                         int64_t Tk, int64_t S, int64_t D, float scale, float* dq, float* dk, float* dv,
                         float* part_k, float* part_v) {
    A4J_LAUNCH(fa_bwd_dq_kernel, B * H * ((Tq + FA_T - 1) / FA_T), FA_THREADS, 0, q, k, v, o, dout, lse, key_start, H,
               Hkv, Tq, Tk, S, D, scale, dq);
    const bool grouped = part_k != nullptr;
    A4J_LAUNCH(fa_bwd_dkdv_kernel, B * H * ((Tk + FA_T - 1) / FA_T), FA_THREADS, 0, q, k, v, o, dout, lse,
               key_start, H, Hkv, Tq, Tk, S, D, scale, grouped ? part_k : dk, grouped ? part_v : dv,
               grouped ? Tk : S);
    return 0;
}

constexpr int FA_FINISH_THREADS = 128;
constexpr int64_t FA_FINISH_ROWS = 16;

#else  // ---------------------------------------------------------------------------------------------------- CPU

namespace fa_cpu {

// The machine's vector register (GCC vector extension): AVX-512 under -march=native on these machines, AVX2 in the
// portable x86-64-v3 build (a 64-byte vector type there is split and spilled: ~30x slower). ACC: accumulators per
// register tile, half the register file, leaving room for the operands.
#if defined(__AVX512F__)
constexpr int VW = 16;
constexpr int ACC = 16;
#else
constexpr int VW = 8;
constexpr int ACC = 8;
#endif
typedef float vec __attribute__((vector_size(VW * 4)));
constexpr int64_t BQ = 64;           // queries per tile
constexpr int64_t BK = 64;           // keys per tile
constexpr int NB = (int)(BK / VW);   // vectors per score row
constexpr int RA = ACC / NB > 0 ? ACC / NB : 1;  // score rows per register tile: RA × NB accumulators

// Rows per register tile of the [rows, DP] products: R × NV <= ACC accumulators (R a power of 2, at most 8).
template <int NV> struct Tile {
    static constexpr int R = ACC / NV >= 8 ? 8 : (ACC / NV >= 4 ? 4 : (ACC / NV >= 2 ? 2 : 1));
};

inline int64_t round8(int64_t n) { return (n + 7) / 8 * 8; }

// This thread's scratch, 64-byte aligned, grown on demand (at most ~300 KB at D = 128).
inline float* scratch(int64_t floats) {
    struct alignas(64) Line {
        float f[16];
    };
    thread_local std::vector<Line> buf;
    const size_t n = (size_t)((floats + 15) / 16);
    if (buf.size() < n) buf.resize(n);
    return buf.data()->f;
}

// dst[r][0..DP) = mul·src[r][0..D) zero-padded, rows r < n; rows n .. nr − 1 all zero.
template <int DP> inline void load_rows(const float* src, int64_t n, int64_t nr, int64_t D, float mul, float* dst) {
    for (int64_t r = 0; r < nr; ++r) {
        float* d = dst + r * DP;
        const float* s = src + r * D;
        if (r < n) {
#pragma omp simd
            for (int64_t x = 0; x < D; ++x) d[x] = mul * s[x];
            for (int64_t x = D; x < DP; ++x) d[x] = 0.0f;
        } else {
            for (int64_t x = 0; x < DP; ++x) d[x] = 0.0f;
        }
    }
}

// dst[x][c] (row stride BK) = mul·src[c][x] for keys c < n, 0 for c in [n, BK) and for x in [D, DP).
template <int DP> inline void load_transposed(const float* src, int64_t n, int64_t D, float mul, float* dst) {
    for (int64_t x = 0; x < DP; ++x) {
        float* d = dst + x * BK;
        if (x < D) {
            for (int64_t c = 0; c < n; ++c) d[c] = mul * src[c * D + x];
            for (int64_t c = n; c < BK; ++c) d[c] = 0.0f;
        } else {
            for (int64_t c = 0; c < BK; ++c) d[c] = 0.0f;
        }
    }
}

// C[r][0..BK) = Σ_x A[r][x]·Bt[x][0..BK) for rows r < m (a multiple of RA); A rows of DP, C rows of BK.
template <int NV> inline void abt(const float* A4J_RESTRICT A, const float* A4J_RESTRICT Bt, int64_t m,
                                  float* A4J_RESTRICT C) {
    constexpr int DP = NV * VW;
    for (int64_t r0 = 0; r0 < m; r0 += RA) {
        vec acc[RA][NB] = {};
        const float* a = A + r0 * DP;
        for (int x = 0; x < DP; ++x) {
            const vec* b = reinterpret_cast<const vec*>(Bt + x * BK);
#pragma GCC unroll 8
            for (int r = 0; r < RA; ++r) {
                const float s = a[r * DP + x];
#pragma GCC unroll 8
                for (int n = 0; n < NB; ++n) acc[r][n] += s * b[n];
            }
        }
        for (int r = 0; r < RA; ++r)
            for (int n = 0; n < NB; ++n) *reinterpret_cast<vec*>(C + (r0 + r) * BK + n * VW) = acc[r][n];
    }
}

// Rows r0 .. r0 + R − 1 of pm (below).
template <int NV, int R, bool ACCUMULATE>
inline void pm_rows(const float* A4J_RESTRICT P, int64_t ps, int64_t pc, int64_t n, const float* A4J_RESTRICT M,
                    int64_t r0, float* A4J_RESTRICT C) {
    constexpr int DP = NV * VW;
    vec acc[R][NV];
    for (int r = 0; r < R; ++r)
        for (int x = 0; x < NV; ++x)
            acc[r][x] = ACCUMULATE ? *reinterpret_cast<const vec*>(C + (r0 + r) * DP + x * VW) : vec{};
    const float* p = P + r0 * ps;
    for (int64_t c = 0; c < n; ++c) {
        const vec* mr = reinterpret_cast<const vec*>(M + c * DP);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const float s = p[r * ps + c * pc];
#pragma GCC unroll 8
            for (int x = 0; x < NV; ++x) acc[r][x] += s * mr[x];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int x = 0; x < NV; ++x) *reinterpret_cast<vec*>(C + (r0 + r) * DP + x * VW) = acc[r][x];
}

// C[r][0..DP) (+)= Σ_{c < n} P[r·ps + c·pc]·M[c][0..DP) for rows r < m; C and M rows of DP.
template <int NV, bool ACCUMULATE>
inline void pm(const float* P, int64_t ps, int64_t pc, int64_t n, const float* M, int64_t m, float* C) {
    constexpr int R = Tile<NV>::R;
    int64_t r0 = 0;
    for (; r0 + R <= m; r0 += R) pm_rows<NV, R, ACCUMULATE>(P, ps, pc, n, M, r0, C);
    for (; r0 < m; ++r0) pm_rows<NV, 1, ACCUMULATE>(P, ps, pc, n, M, r0, C);
}

// St[c·ld + r] = Σ_x K[c][x]·Q[r][x] for keys c < n and the few queries r < nq (rows of DP): the scores of a
// decoding step, where a BQ-wide transposed product would be mostly padding.
template <int NV> inline void dots(const float* A4J_RESTRICT K, int64_t n, const float* A4J_RESTRICT Q, int64_t nq,
                                   int64_t ld, float* A4J_RESTRICT St) {
    constexpr int DP = NV * VW;
    for (int64_t c = 0; c < n; ++c) {
        const vec* kr = reinterpret_cast<const vec*>(K + c * DP);
        for (int64_t r = 0; r < nq; ++r) {
            const vec* qr = reinterpret_cast<const vec*>(Q + r * DP);
            vec acc = kr[0] * qr[0];
            for (int x = 1; x < NV; ++x) acc += kr[x] * qr[x];
            float s = 0.0f;
            for (int x = 0; x < VW; ++x) s += acc[x];
            St[c * ld + r] = s;
        }
    }
}

// Forward block = (b, h, tile of BQ queries), tiles in reverse so that the costliest start first. The scores are
// computed transposed, St[key][query] = k·qᵀ: the query tile is transposed once per block (not a key tile once per
// (query, key) tile pair), and the online softmax's per-query max and sum become elementwise vector ops down the
// key rows instead of horizontal reductions.
template <int NV>
__global__ void fwd_kernel(const float* q, const float* k, const float* v, const int32_t* key_start, int64_t H,
                           int64_t Hkv, int64_t Tq, int64_t Tk, int64_t S, int64_t D, float scale, float* o,
                           float* lse) {
    static_assert(BQ == BK, "the score tile is BK x BQ, computed by abt, whose output rows are BK wide");
    constexpr int DP = NV * VW;
    const int64_t tiles = (Tq + BQ - 1) / BQ;
    const int64_t bh = blockIdx.x / tiles, i0 = (tiles - 1 - (int64_t)blockIdx.x % tiles) * BQ, b = bh / H;
    const int64_t kvh = (b * Hkv + (bh % H) / (H / Hkv)) * S * D, off = Tk - Tq;
    const int64_t nq = fa_min(BQ, Tq - i0), jend = off + i0 + nq;
    // A few queries (decoding: one) take their scores as dot products, and the softmax runs on one vector of columns.
    const bool few = nq <= 8;
    const int64_t width = few ? 16 : BQ;  // score columns the softmax works on, and St's row stride
    float* Qt = scratch(2 * BQ * DP + 2 * BK * DP + BQ * BK + 4 * BQ);
    float* O = Qt + BQ * DP;
    float* Ks = O + BQ * DP;
    float* Vs = Ks + BK * DP;
    float* St = Vs + BK * DP;
    float* m = St + BQ * BK;
    float* l = m + BQ;
    float* m_new = l + BQ;
    float* alpha = m_new + BQ;
    if (few) {
        load_rows<DP>(q + (bh * Tq + i0) * D, nq, nq, D, 1.0f, Qt);  // rows, not transposed
        for (int64_t x = 0; x < BK * width; ++x) St[x] = 0.0f;       // columns [nq, 16): finite, never used
    } else {
        load_transposed<DP>(q + (bh * Tq + i0) * D, nq, D, 1.0f, Qt);
    }
    for (int64_t x = 0; x < nq * DP; ++x) O[x] = 0.0f;
    for (int64_t r = 0; r < width; ++r) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    for (int64_t j0 = fa_key_start(key_start, b); j0 < jend; j0 += BK) {
        const int64_t jn = fa_min(BK, jend - j0);
        load_rows<DP>(k + kvh + j0 * D, jn, round8(jn), D, scale * A4J_LOG2E, Ks);
        load_rows<DP>(v + kvh + j0 * D, jn, jn, D, 1.0f, Vs);
        if (few)
            dots<NV>(Ks, jn, Qt, nq, width, St);
        else
            abt<NV>(Ks, Qt, round8(jn), St);  // St[c][r]: key j0 + c, query i0 + r, base 2
        // key c is visible to the queries r >= c + j0 − off − i0 (the causal bound; key_start is j0's lower bound)
        const int64_t lo0 = j0 - off - i0;
        for (int64_t r = 0; r < width; ++r) m_new[r] = m[r];
        for (int64_t c = 0; c < jn; ++c) {
            const float* sr = St + c * width;
#pragma omp simd
            for (int64_t r = 0; r < width; ++r) {
                const float x = r >= c + lo0 ? sr[r] : -INFINITY;
                m_new[r] = x > m_new[r] ? x : m_new[r];
            }
        }
#pragma omp simd
        for (int64_t r = 0; r < width; ++r) {
            // a query with no visible key so far keeps m = −inf: nothing to rescale, and its exponentials are all 0
            alpha[r] = m_new[r] == -INFINITY ? 1.0f : a4j_exp2_nonpos(m[r] - m_new[r]);
            m[r] = m_new[r];
            l[r] *= alpha[r];
        }
        for (int64_t c = 0; c < jn; ++c) {
            float* sr = St + c * width;
#pragma omp simd
            for (int64_t r = 0; r < width; ++r) {
                const float p = a4j_exp2_nonpos(r >= c + lo0 ? sr[r] - m[r] : -INFINITY);
                sr[r] = p;
                l[r] += p;
            }
        }
        for (int64_t r = 0; r < nq; ++r) {
            float* orow = O + r * DP;
            const float a = alpha[r];
#pragma omp simd
            for (int64_t x = 0; x < DP; ++x) orow[x] *= a;
        }
        pm<NV, true>(St, 1, width, jn, Vs, nq, O);  // O[r] += Σ_c P[c][r]·v_c
    }
    for (int64_t r = 0; r < nq; ++r) {
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        float* orow = o + (bh * Tq + i0 + r) * D;
        const float* src = O + r * DP;
#pragma omp simd
        for (int64_t x = 0; x < D; ++x) orow[x] = src[x] * inv;
        lse[bh * Tq + i0 + r] = l[r] > 0.0f ? (m[r] + log2f(l[r])) * A4J_LN2 : -INFINITY;
    }
}

// Backward block = (b, h): key tiles outer, query tiles inner (FlashAttention-2's order). dk/dv rows go to
// dk/dv (row (b·H + h)·out_slots + j: with H == Hkv the real outputs, out_slots = S) or to the partials.
template <int NV>
__global__ void bwd_kernel(const float* q, const float* k, const float* v, const float* o, const float* lse,
                           const float* dout, const int32_t* key_start, int64_t H, int64_t Hkv, int64_t Tq,
                           int64_t Tk, int64_t S, int64_t D, float scale, float* dq, float* dk, float* dv,
                           int64_t out_slots) {
    constexpr int DP = NV * VW;
    const int64_t bh = blockIdx.x, b = bh / H;
    const int64_t kvh = (b * Hkv + (bh % H) / (H / Hkv)) * S * D, off = Tk - Tq, key0 = fa_key_start(key_start, b);
    const float* qh = q + bh * Tq * D;
    const float* doh = dout + bh * Tq * D;
    float* dqh = dq + bh * Tq * D;
    float* dkh = dk + bh * out_slots * D;
    float* dvh = dv + bh * out_slots * D;
    float* Qs = scratch(3 * BQ * DP + 5 * BK * DP + 2 * BQ * BK + Tq);
    float* dl = Qs + 3 * BQ * DP + 5 * BK * DP + 2 * BQ * BK;  // Δ of the head's queries
    for (int64_t i = 0; i < Tq; ++i) {
        float s = 0.0f;
        const float* orow = o + (bh * Tq + i) * D;
#pragma omp simd reduction(+ : s)
        for (int64_t x = 0; x < D; ++x) s += orow[x] * doh[i * D + x];
        dl[i] = s;
    }
    for (int64_t x = 0; x < Tq * D; ++x) dqh[x] = 0.0f;
    for (int64_t x = 0; x < key0 * D; ++x) dkh[x] = dvh[x] = 0.0f;  // keys before key_start: no query reads them
    float* dOs = Qs + BQ * DP;
    float* dQs = dOs + BQ * DP;
    float* Kt = dQs + BQ * DP;
    float* Vt = Kt + BK * DP;
    float* Ks = Vt + BK * DP;
    float* dKs = Ks + BK * DP;
    float* dVs = dKs + BK * DP;
    float* P = dVs + BK * DP;
    float* dS = P + BQ * BK;
    for (int64_t j0 = key0; j0 < Tk; j0 += BK) {
        const int64_t jn = fa_min(BK, Tk - j0), njr = round8(jn);
        load_transposed<DP>(k + kvh + j0 * D, jn, D, scale * A4J_LOG2E, Kt);
        load_transposed<DP>(v + kvh + j0 * D, jn, D, 1.0f, Vt);
        load_rows<DP>(k + kvh + j0 * D, jn, jn, D, 1.0f, Ks);
        for (int64_t x = 0; x < njr * DP; ++x) dKs[x] = dVs[x] = 0.0f;
        for (int64_t i0 = j0 - off > 0 ? j0 - off : 0; i0 < Tq; i0 += BQ) {
            const int64_t nq = fa_min(BQ, Tq - i0), nr = round8(nq);
            load_rows<DP>(qh + i0 * D, nq, nr, D, 1.0f, Qs);
            load_rows<DP>(doh + i0 * D, nq, nr, D, 1.0f, dOs);
            abt<NV>(Qs, Kt, nr, P);   // scores, base 2
            abt<NV>(dOs, Vt, nr, dS);  // dP = dO·vᵀ
            for (int64_t r = 0; r < nr; ++r) {
                const float l2 = r < nq ? lse[bh * Tq + i0 + r] * A4J_LOG2E : -INFINITY;
                const int64_t lim = l2 > -INFINITY ? fa_min(jn, off + i0 + r - j0 + 1) : 0;
                const float d = r < nq ? dl[i0 + r] : 0.0f;
                float* pr = P + r * BK;
                float* sr = dS + r * BK;
#pragma omp simd
                for (int64_t c = 0; c < BK; ++c) {
                    const float x = pr[c] - l2;  // <= 0 up to rounding; clamped (a comparison: fminf would not vectorise)
                    const float p = a4j_exp2_nonpos(c < lim ? (x > 0.0f ? 0.0f : x) : -INFINITY);
                    pr[c] = p;
                    sr[c] = scale * p * (sr[c] - d);
                }
            }
            pm<NV, true>(P, 1, BK, nr, dOs, njr, dVs);   // dv_j += Σ_i P_ij·dO_i
            pm<NV, true>(dS, 1, BK, nr, Qs, njr, dKs);   // dk_j += Σ_i dS_ij·q_i
            pm<NV, false>(dS, BK, 1, jn, Ks, nr, dQs);   // dq_i += Σ_j dS_ij·k_j
            for (int64_t r = 0; r < nq; ++r) {
                float* dst = dqh + (i0 + r) * D;
                const float* src = dQs + r * DP;
#pragma omp simd
                for (int64_t x = 0; x < D; ++x) dst[x] += src[x];
            }
        }
        for (int64_t c = 0; c < jn; ++c) {
            float* dkr = dkh + (j0 + c) * D;
            float* dvr = dvh + (j0 + c) * D;
#pragma omp simd
            for (int64_t x = 0; x < D; ++x) {
                dkr[x] = dKs[c * DP + x];
                dvr[x] = dVs[c * DP + x];
            }
        }
    }
}

// f(std::integral_constant<int, NV>) with NV = ceil(D / VW), the head dimension in whole vectors (D <= 128).
template <int NV, typename F> inline void with_nv_from(int64_t nv, F& f) {
    if constexpr (NV >= (int)(FA_MAX_D / VW)) {
        f(std::integral_constant<int, NV>());
    } else {
        if (nv == NV)
            f(std::integral_constant<int, NV>());
        else
            with_nv_from<NV + 1>(nv, f);
    }
}
template <typename F> inline void with_nv(int64_t D, F f) { with_nv_from<1>((D + VW - 1) / VW, f); }

// Elements of work, for A4J_LAUNCH's choice of threads: about the FLOPs / 4 of the causal products.
inline long long work_of(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D) {
    return (long long)(B * H * Tq * (Tk - Tq / 2 + 1) * D);
}

}  // namespace fa_cpu

inline int fa_launch_fwd(const float* q, const float* k, const float* v, const int32_t* key_start, int64_t B,
                         int64_t H, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t S, int64_t D, float scale, float* o,
                         float* lse) {
    fa_cpu::with_nv(D, [&](auto nv) {
        A4J_LAUNCH(fa_cpu::fwd_kernel<decltype(nv)::value>, B * H * ((Tq + fa_cpu::BQ - 1) / fa_cpu::BQ), 1,
                   fa_cpu::work_of(B, H, Tq, Tk, D), q, k, v, key_start, H, Hkv, Tq, Tk, S, D, scale, o, lse);
    });
    return 0;
}

inline int fa_launch_bwd(const float* q, const float* k, const float* v, const float* o, const float* lse,
                         const float* dout, const int32_t* key_start, int64_t B, int64_t H, int64_t Hkv, int64_t Tq,
                         int64_t Tk, int64_t S, int64_t D, float scale, float* dq, float* dk, float* dv,
                         float* part_k, float* part_v) {
    const bool grouped = part_k != nullptr;
    float* out_k = grouped ? part_k : dk;
    float* out_v = grouped ? part_v : dv;
    const int64_t out_slots = grouped ? Tk : S;
    fa_cpu::with_nv(D, [&](auto nv) {
        A4J_LAUNCH(fa_cpu::bwd_kernel<decltype(nv)::value>, B * H, 1, fa_cpu::work_of(B, H, Tq, Tk, D), q, k, v, o,
                   lse, dout, key_start, H, Hkv, Tq, Tk, S, D, scale, dq, out_k, out_v, out_slots);
    });
    return 0;
}

constexpr int FA_FINISH_THREADS = 1;
constexpr int64_t FA_FINISH_ROWS = 64;

#endif

// Floats of flash_attention_bwd's work: with grouped heads (H > Hkv) the dk and dv partials of every query head,
// [B, H, Tk, D] each; none otherwise (work may be null).
A4J_HOSTDEV int64_t fa_work_floats(int64_t B, int64_t H, int64_t Hkv, int64_t Tk, int64_t D) {
    return H > Hkv ? 2 * B * H * Tk * D : 0;
}

inline bool fa_shapes_ok(int64_t B, int64_t H, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t S, int64_t D) {
    return B >= 0 && Hkv >= 1 && H >= Hkv && H % Hkv == 0 && Tq >= 0 && Tk >= Tq && S >= Tk && D >= 1 && D <= FA_MAX_D;
}

inline int flash_attention_fwd(const float* q, const float* k, const float* v, const int32_t* key_start, int64_t B,
                               int64_t H, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t S, int64_t D, float scale,
                               float* o, float* lse) {
    if (!fa_shapes_ok(B, H, Hkv, Tq, Tk, S, D) || !(scale > 0.0f)) return A4J_ERR_ARGUMENT;
    return B * Tq == 0 ? 0 : fa_launch_fwd(q, k, v, key_start, B, H, Hkv, Tq, Tk, S, D, scale, o, lse);
}

inline int flash_attention_bwd(const float* q, const float* k, const float* v, const float* o, const float* lse,
                               const float* dout, const int32_t* key_start, int64_t B, int64_t H, int64_t Hkv,
                               int64_t Tq, int64_t Tk, int64_t S, int64_t D, float scale, float* dq, float* dk,
                               float* dv, float* work) {
    if (!fa_shapes_ok(B, H, Hkv, Tq, Tk, S, D) || !(scale > 0.0f)) return A4J_ERR_ARGUMENT;
    if (B == 0) return 0;
    const bool grouped = H > Hkv;
    float* part_k = grouped ? work : nullptr;
    float* part_v = grouped ? work + B * H * Tk * D : nullptr;
    fa_launch_bwd(q, k, v, o, lse, dout, key_start, B, H, Hkv, Tq, Tk, S, D, scale, dq, dk, dv, part_k, part_v);
    const int64_t total = B * Hkv * S;
    if (grouped || S > Tk)
        A4J_LAUNCH(fa_kv_finish_kernel, (total + FA_FINISH_ROWS - 1) / FA_FINISH_ROWS, FA_FINISH_THREADS, total * D,
                   part_k, part_v, H, Hkv, Tk, S, D, total, FA_FINISH_ROWS, dk, dv);
    return 0;
}

}  // namespace a4j
