// rope.cuh — rotary position embedding in Hugging Face's rotate-half layout (transformers' apply_rotary_pos_emb
// for Llama, Qwen2/3, Mistral), forward and backward, on one tensor (q with H heads or k with H_kv heads).
//   x [B, H, T, D] (the layout after attention_permute), inv_freq [R] with 1 <= R <= D/2 (R < D/2: a partial
//   rotary factor; the dims [2R, D) pass through), token t at position p = pos0 + t, angle a_i = p·inv_freq[i]:
//     forward : out[i] = x[i]·cos a_i − x[i+R]·sin a_i,  out[i+R] = x[i+R]·cos a_i + x[i]·sin a_i   (i < R)
//     backward: the transpose, i.e. the rotation by −a_i:  dx[i] = d[i]·cos + d[i+R]·sin,  dx[i+R] = d[i+R]·cos − d[i]·sin
// out may alias x (in place): each pair is read, then written, by the same thread; the pass-through dims are
// copied only when out != x.
// Precision, at any position: the angle is p·inv_freq in double, exact for p < 2^29 (a float has 24 significant
// bits, so the product has at most 53) and correctly rounded beyond (an error of at most p·inv·2^-53 rad, 1.1e-7 rad
// at p = 1e9). cos and sin are evaluated in double (glibc, CUDA: <= 2 ulp, with full range reduction) and rounded
// to float, so each is within ~6e-8 of the exact value; the rotation in float then adds a few roundings:
// |out − exact| <= ~2.4e-7·(|x[i]| + |x[i+R]|), the same at position 10^6 as at 0. (transformers computes the
// angle in float32, off by up to p·2^-24 rad: 0.06 rad at p = 10^6; align4j is closer to the exact rotation.)
// Design: one block per token (b, t). It computes the cos/sin of its position once per frequency, into shared
// memory in tiles of ROPE_TILE frequencies (the host build: a stack array), and applies them to all H heads of
// the token: H·2·D floats per block for R double sin/cos, so the trigonometry is amortised over the heads (and
// does not depend on b, which is recomputed B times: cheap next to the H heads). GPU: the threads stride over the
// flattened (head, frequency) pairs of a tile (consecutive threads read consecutive floats of a head's D run);
// host: heads outer, frequencies inner (a vectorised loop). [B, T, H, D] would only change the index arithmetic
// (a token's heads contiguous); [B, H, T, D] is what the attention GEMMs read.
// Floor: reads and writes B·H·T·D·4 bytes each (plus R·4 of inv_freq per block, cached).
// One version, single source.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int ROPE_THREADS = 256;
constexpr int64_t ROPE_TILE = 128;  // frequencies whose cos/sin a block holds at once (head_dim 256 = one tile)

// The rotation of pair (x1, x2) = (x[i], x[i+R]) by the angle whose cos c and sin s are given (the backward passes
// −sin): (x1·c − x2·s, x2·c + x1·s).
A4J_HOSTDEV void rope_pair(const float* x, float* out, int64_t i, int64_t R, float c, float s) {
    const float x1 = x[i], x2 = x[i + R];
    out[i] = x1 * c - x2 * s;
    out[i + R] = x2 * c + x1 * s;
}

// Block = token row b·T + t. INVERSE: rotate by −angle (the backward).
template <bool INVERSE>
__global__ void rope_kernel(const float* x, const float* A4J_RESTRICT inv_freq, int64_t H, int64_t T, int64_t D,
                            int64_t R, int64_t pos0, float* out) {
#if defined(__CUDA_ARCH__)
    __shared__ float cs[ROPE_TILE], sn[ROPE_TILE];
#else
    float cs[ROPE_TILE], sn[ROPE_TILE];
#endif
    const int64_t row = blockIdx.x;
    const int64_t b = row / T, t = row % T;
    const double pos = (double)(pos0 + t);
    const int64_t hs = T * D;                 // head stride
    const int64_t base = (b * H * T + t) * D;  // head 0 of token (b, t); head h at base + h·hs
    for (int64_t i0 = 0; i0 < R; i0 += ROPE_TILE) {
        const int64_t n = R - i0 < ROPE_TILE ? R - i0 : ROPE_TILE;
        __syncthreads();  // the previous tile's readers are done with cs/sn
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            const double a = pos * (double)inv_freq[i0 + j];
            const float s = (float)sin(a);
            cs[j] = (float)cos(a);
            sn[j] = INVERSE ? -s : s;
        }
        __syncthreads();
#if defined(__CUDA_ARCH__)
        for (int64_t k = threadIdx.x; k < H * n; k += blockDim.x) {
            const int64_t h = k / n, j = k - h * n;
            rope_pair(x + base + h * hs + i0, out + base + h * hs + i0, j, R, cs[j], sn[j]);
        }
#else
        for (int64_t h = 0; h < H; ++h)
            for (int64_t j = 0; j < n; ++j) rope_pair(x + base + h * hs + i0, out + base + h * hs + i0, j, R, cs[j], sn[j]);
#endif
    }
    // Dims [2R, D) of each head are not rotated: copied when not in place.
    const int64_t P = D - 2 * R;
    if (P > 0 && out != x) {
        for (int64_t k = threadIdx.x; k < H * P; k += blockDim.x) {
            const int64_t h = k / P, j = 2 * R + (k - h * P);
            out[base + h * hs + j] = x[base + h * hs + j];
        }
    }
}

inline int rope_launch(const float* x, const float* inv_freq, int64_t B, int64_t H, int64_t T, int64_t D, int64_t R,
                       int64_t pos0, float* out, bool inverse) {
    if (inverse)
        A4J_LAUNCH(rope_kernel<true>, B * T, ROPE_THREADS, B * H * T * D, x, inv_freq, H, T, D, R, pos0, out);
    else
        A4J_LAUNCH(rope_kernel<false>, B * T, ROPE_THREADS, B * H * T * D, x, inv_freq, H, T, D, R, pos0, out);
    return 0;
}

inline int rope_fwd(const float* x, const float* inv_freq, int64_t B, int64_t H, int64_t T, int64_t D, int64_t R,
                    int64_t pos0, float* out) {
    return rope_launch(x, inv_freq, B, H, T, D, R, pos0, out, false);
}

inline int rope_bwd(const float* dout, const float* inv_freq, int64_t B, int64_t H, int64_t T, int64_t D, int64_t R,
                    int64_t pos0, float* dx) {
    return rope_launch(dout, inv_freq, B, H, T, D, R, pos0, dx, true);
}

}  // namespace a4j
