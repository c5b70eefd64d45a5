// adamw.cuh — one AdamW step (PyTorch torch.optim.AdamW semantics, decoupled weight decay) on the range
// [offset, offset + n) of flat parameter, gradient and moment buffers.
//   in/out: params, m, v [offset + n...]; in: grads; scalars lr, beta1, beta2, eps, weight_decay, step t >= 1,
//           grad_scale (host) times clip[1] (device, nullable = 1): clip is grad_norm's out[2], whose [1] is
//           the global-norm clip factor, so clipping needs no host round trip.
//   Per element, exactly PyTorch's order (single-tensor path):
//     g = grad·scale
//     p ← p·(1 − lr·wd)                                  (decoupled decay, applied to the old p)
//     m ← m + (1 − β1)(g − m)                            (torch.lerp)
//     v ← β2·v + (1 − β2)·g²
//     p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
//   The bias corrections are computed once per launch on the host in double.
// Decay masks: the caller launches once per contiguous range with that range's weight_decay (0 for biases,
// LayerNorm, etc.; llm.c decays only 2-D weights); Java's AdamW merges ranges, so a GPT-2 layout takes a
// handful of launches. No mask array is read.
// Floor: reads params, grads, m, v and writes params, m, v: 28 bytes per parameter (3.5 GB at 124M).
// One version, single source: a block owns a contiguous chunk, threads stride over it.
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int ADAMW_THREADS = 256;
#if defined(A4J_GPU)
constexpr int64_t ADAMW_CHUNK = 256 * 8;
#else
constexpr int64_t ADAMW_CHUNK = INT64_C(1) << 15;
#endif

__global__ void adamw_kernel(float* A4J_RESTRICT params, const float* A4J_RESTRICT grads, float* A4J_RESTRICT m,
                             float* A4J_RESTRICT v, int64_t n, float beta1, float beta2, float eps, float decay_factor,
                             float step_size, float bc2_sqrt, float grad_scale,
                             const float* A4J_RESTRICT clip) {
    const int64_t i0 = (int64_t)blockIdx.x * ADAMW_CHUNK;
    const int64_t len = n - i0 < ADAMW_CHUNK ? n - i0 : ADAMW_CHUNK;
    const float scale = clip != nullptr ? grad_scale * clip[1] : grad_scale;
    const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    float* p = params + i0;
    const float* gr = grads + i0;
    float* mm = m + i0;
    float* vv = v + i0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        const float g = gr[j] * scale;
        const float mj = mm[j] + a1 * (g - mm[j]);
        const float vj = beta2 * vv[j] + a2 * (g * g);
        mm[j] = mj;
        vv[j] = vj;
        const float denom = sqrtf(vj) / bc2_sqrt + eps;
        p[j] = p[j] * decay_factor - step_size * (mj / denom);
    }
}

inline int adamw(float* params, const float* grads, float* m, float* v, int64_t offset, int64_t n, float lr,
                 float beta1, float beta2, float eps, float weight_decay, int64_t step, float grad_scale,
                 const float* clip) {
    if (n <= 0) return 0;
    if (step < 1) return A4J_ERR_ARGUMENT;  // bias corrections need t >= 1 (Java validates first)
    const double bc1 = 1.0 - pow((double)beta1, (double)step);
    const double bc2 = 1.0 - pow((double)beta2, (double)step);
    const float decay_factor = (float)(1.0 - (double)lr * (double)weight_decay);
    const float step_size = (float)((double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    A4J_LAUNCH(adamw_kernel, (n + ADAMW_CHUNK - 1) / ADAMW_CHUNK, ADAMW_THREADS, n, params + offset, grads + offset,
               m + offset, v + offset, n, beta1, beta2, eps, decay_factor, step_size, bc2_sqrt, grad_scale,
               clip);
    return 0;
}

}  // namespace a4j
