// embedding.cuh — GPT-2's input layer: token + position embedding, and its backward.
//   forward : tokens [B,T] (int32, in [0,V)), wte [V,C], wpe [maxT,C] (T <= maxT) -> out [B,T,C],
//             out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
//   backward: dout [B,T,C] -> dwte [V,C] += Σ_{(b,t): tokens[b,t]=v} dout[b,t,:],  dwpe [maxT,C] (rows < T)
//             += Σ_b dout[b,t,:]. Both ACCUMULATE (the output layer shares wte and adds its own gradient);
//             either may be null (frozen).
// Determinism without atomics: every element of dwte and dwpe has exactly one owner thread, which adds its
// contributions in ascending (b,t) order, so results are bitwise reproducible on each backend.
//   dwpe: a block per position t; its threads own channels; loop over b.
//   dwte: a block per (channel slice, vocabulary bucket): it owns dwte[v, slice] for every v with
//         v mod nb = bucket, scans all B·T token ids and adds the rows whose token falls in its bucket.
//         Cost beyond the floor: each block reads the B·T token ids (GPU: 256 buckets × C/128 slices, so
//         ~6 · 256 · B·T·4 bytes from L2/L1 at C = 768, B·T = 8192 — ~50 MB of cached reads, tens of µs);
//         no sort, no scratch. Worst case: many identical ids land in one bucket, whose C/slice blocks then
//         do all B·T row adds serially (GPU ~ B·T dependent adds per thread, ms at B·T = 8192; CPU one
//         thread per slice). Real text is far from that; correctness does not depend on it.
// Floor: forward reads wte rows and wpe rows and writes out: ~3·B·T·C·4 bytes. Backward reads dout once for
// each of dwte and dwpe and read-modify-writes the touched dwte rows: ~4·B·T·C·4 bytes at worst (dwpe's T
// rows stay in cache). At B = 8, T = 1024, C = 768: 75 MB forward, 100 MB backward.
// One version, single source. Host: a block is one thread owning whole rows (slice = C) of 2–64 buckets, so each
// add is a contiguous, vectorised C-float row; the forward gives a host block 32 tokens (one token per block
// cost more in OpenMP scheduling than in copying). All tokens equal: one host thread does every row add.
#pragma once
#include "portability.h"
#if !defined(A4J_GPU)
#include <omp.h>
#endif

namespace a4j {

constexpr int EMB_THREADS = 128;
#if defined(A4J_GPU)
constexpr int64_t EMB_SLICE = 128;   // channels per dwte block (= threads)
constexpr int64_t EMB_BUCKETS = 256; // power of two: bucket = id & (nb − 1)
constexpr int64_t EMB_FWD_ROWS = 1;  // tokens per forward block
#else
constexpr int64_t EMB_FWD_ROWS = 32;  // a host block per token would cost more in scheduling than in copying
constexpr int64_t EMB_SLICE = INT64_C(1) << 40;  // whole rows: contiguous C-float adds
constexpr int64_t EMB_BUCKETS = 64;
#endif

__global__ void embedding_fwd_kernel(const int32_t* A4J_RESTRICT tokens, const float* A4J_RESTRICT wte,
                                     const float* A4J_RESTRICT wpe, int64_t BT, int64_t T, int64_t C,
                                     float* A4J_RESTRICT out) {
    const int64_t r0 = (int64_t)blockIdx.x * EMB_FWD_ROWS;
    const int64_t r1 = BT - r0 < EMB_FWD_ROWS ? BT : r0 + EMB_FWD_ROWS;
    for (int64_t bt = r0; bt < r1; ++bt) {
        const float* e = wte + (int64_t)tokens[bt] * C;
        const float* p = wpe + (bt % T) * C;
        float* o = out + bt * C;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = e[c] + p[c];
    }
}

// Block per position t: dwpe[t,:] += dout[0,t,:], += dout[1,t,:], ... (ascending b).
__global__ void embedding_dwpe_kernel(const float* A4J_RESTRICT dout, int64_t B, int64_t T, int64_t C,
                                      float* A4J_RESTRICT dwpe) {
    const int64_t t = blockIdx.x;
    float* w = dwpe + t * C;
    for (int64_t b = 0; b < B; ++b) {
        const float* d = dout + (b * T + t) * C;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) w[c] += d[c];
    }
}

// Block per (slice, bucket): see the header. Ascending bt order within each owner.
__global__ void embedding_dwte_kernel(const float* A4J_RESTRICT dout, const int32_t* A4J_RESTRICT tokens,
                                      int64_t BT, int64_t C, int64_t slice, int64_t buckets,
                                      float* A4J_RESTRICT dwte) {
    const int64_t s = blockIdx.x / buckets;
    const int32_t bucket = (int32_t)(blockIdx.x % buckets);
    const int32_t bmask = (int32_t)buckets - 1;
    const int64_t c0 = s * slice;
    const int64_t len = C - c0 < slice ? C - c0 : slice;
    for (int64_t i = 0; i < BT; ++i) {
        const int32_t v = tokens[i];
        if ((v & bmask) != bucket) continue;
        const float* d = dout + i * C + c0;
        float* w = dwte + (int64_t)v * C + c0;
        for (int64_t c = threadIdx.x; c < len; c += blockDim.x) w[c] += d[c];
    }
}

inline int embedding_fwd(const int32_t* tokens, const float* wte, const float* wpe, int64_t B, int64_t T, int64_t C,
                         float* out) {
    if (T <= 0) return 0;
    A4J_LAUNCH(embedding_fwd_kernel, (B * T + EMB_FWD_ROWS - 1) / EMB_FWD_ROWS, EMB_THREADS, B * T * C, tokens, wte,
               wpe, B * T, T, C, out);
    return 0;
}

inline int embedding_bwd(const float* dout, const int32_t* tokens, int64_t B, int64_t T, int64_t C, float* dwte,
                         float* dwpe) {
    if (B <= 0 || T <= 0 || C <= 0) return 0;
    if (dwpe != nullptr) A4J_LAUNCH(embedding_dwpe_kernel, T, EMB_THREADS, B * T * C, dout, B, T, C, dwpe);
    if (dwte != nullptr) {
        const int64_t slices = (C + EMB_SLICE - 1) / EMB_SLICE;
#if defined(A4J_GPU)
        const int64_t buckets = EMB_BUCKETS;
#else
        // every bucket scans all B·T ids: as few as keep the threads busy (a power of two ≥ 2 per thread, at most
        // EMB_BUCKETS), since with narrow rows (a head's keys in the shared-prompt scatter: C = 32 in the demo) the
        // scans would cost more than the adds. The owner of each row and its order of adds, so the sums, stay.
        int64_t buckets = 2;
        while (buckets < 2 * (int64_t)omp_get_max_threads() && buckets < EMB_BUCKETS) buckets *= 2;
#endif
        A4J_LAUNCH(embedding_dwte_kernel, slices * buckets, EMB_THREADS, B * T * C + slices * buckets * B * T,
                   dout, tokens, B * T, C, EMB_SLICE, buckets, dwte);
    }
    return 0;
}

}  // namespace a4j
