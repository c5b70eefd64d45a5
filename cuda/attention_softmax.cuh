// attention_softmax.cuh — causal masked softmax of attention scores, forward and backward.
//   scores [BH, Tq, Tk] row-major (row = query i, column = key j), Tk >= Tq; query i sits at absolute
//   position i + (Tk − Tq), so it sees keys j <= i + Tk − Tq (Tq = Tk: the ordinary causal mask; Tq < Tk:
//   new queries against a KV cache). scale > 0 (GPT-2: 1/√head_size).
//   forward : probs[j] = exp(scale·s_j − max) / Σ_k exp(scale·s_k − max) over the visible keys; exactly 0 on
//             the masked keys (which are not read).
//   backward: dscores[j] = scale·P_j·(dP_j − Σ_k P_k·dP_k) on the visible keys, exactly 0 on the masked ones
//             (masked P and dP are not read).
// probs may alias scores; dscores may alias probs or dprobs (same thread reads an element before writing it).
// A visible row of −inf gives NaN (no distribution); NaN propagates.
// Floor: a row i reads its v = i + Tk − Tq + 1 visible floats and writes all Tk: forward Σ v·4 + BH·Tq·Tk·4
// bytes, backward 2·Σ v·4 + BH·Tq·Tk·4; for Tq = Tk = T about 1.5·BH·T²·4 and 2·BH·T²·4 bytes.
// One version, single source: a block owns a row; max (thread_max + block_max), then exponentials written to
// probs while summing, then one rescale of the row (in L1). Base 2, with scale·log2(e) folded into one
// multiply; exponents are ≤ 0 so nothing overflows. The backward's dot product accumulates in double on the
// CPU (one thread per row) to keep dP_j − Σ P·dP accurate for long rows.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int ATTN_SOFTMAX_THREADS = 128;
#if defined(A4J_GPU)
using attn_acc = float;
#else
using attn_acc = double;
#endif

__global__ void attention_softmax_fwd_kernel(const float* scores, int64_t Tq, int64_t Tk, float scale,
                                             float* probs) {
    const int64_t row = blockIdx.x;
    const int64_t visible = row % Tq + (Tk - Tq) + 1;
    const float* s = scores + row * Tk;
    float* p = probs + row * Tk;
    const float m = block_max(thread_max(s, visible));
    const float k = scale * A4J_LOG2E;
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) {
        const float e = a4j_exp2_nonpos((s[j] - m) * k);
        p[j] = e;
        sum += e;
    }
    const float inv = 1.0f / block_sum(sum);
    for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) p[j] *= inv;
    for (int64_t j = visible + threadIdx.x; j < Tk; j += blockDim.x) p[j] = 0.0f;
}

__global__ void attention_softmax_bwd_kernel(const float* probs, const float* dprobs, int64_t Tq, int64_t Tk,
                                             float scale, float* dscores) {
    const int64_t row = blockIdx.x;
    const int64_t visible = row % Tq + (Tk - Tq) + 1;
    const float* p = probs + row * Tk;
    const float* dp = dprobs + row * Tk;
    float* ds = dscores + row * Tk;
    attn_acc dot = 0;
    for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) dot += (attn_acc)(p[j] * dp[j]);
    const float c = (float)block_sum(dot);
    for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) ds[j] = scale * p[j] * (dp[j] - c);
    for (int64_t j = visible + threadIdx.x; j < Tk; j += blockDim.x) ds[j] = 0.0f;
}

inline int attention_softmax_fwd(const float* scores, int64_t BH, int64_t Tq, int64_t Tk, float scale,
                                 float* probs) {
    A4J_LAUNCH(attention_softmax_fwd_kernel, BH * Tq, ATTN_SOFTMAX_THREADS, BH * Tq * Tk, scores, Tq, Tk, scale,
               probs);
    return 0;
}

inline int attention_softmax_bwd(const float* probs, const float* dprobs, int64_t BH, int64_t Tq, int64_t Tk,
                                 float scale, float* dscores) {
    A4J_LAUNCH(attention_softmax_bwd_kernel, BH * Tq, ATTN_SOFTMAX_THREADS, BH * Tq * Tk, probs, dprobs, Tq, Tk,
               scale, dscores);
    return 0;
}

}  // namespace a4j
