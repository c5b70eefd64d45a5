// bias.cuh — the bias of a Linear layer stored row-major, and the residual add.
//   bias_add : out [N,OC] += bias [OC] (in place, after the GEMM wrote x·W)
//   bias_bwd : dbias [OC] += Σ_n dout [n,OC]   (ACCUMULATES, as every parameter gradient)
//              work [ceil(N / BIAS_ROWS) · OC] floats of scratch (BIAS_ROWS = 64 on both backends)
//   residual_add: out [n] = a [n] + b [n]; out may alias a or b. Its backward is the identity: da = db =
//              dout, so the model just accumulates dout into both branches (no kernel).
// Column sums are deterministic without atomics: stage 1, a block per (channel slice, chunk of 64 rows)
// writes the chunk's partial sums to work; stage 2, a block per channel slice adds the chunk partials in
// ascending chunk order and then adds the total to dbias. Every value has one owner thread and a fixed
// summation order, so results are bitwise reproducible on each backend.
// Floor: bias_add reads and writes N·OC·4 bytes; bias_bwd reads N·OC·4 bytes (+ the small work array);
// residual_add reads 2·n·4 and writes n·4 bytes.
// One version, single source. The host and GPU builds order stage 1's loops differently (host: rows outer so
// the inner loop runs over contiguous channels and vectorises; GPU: a register accumulator per channel),
// with the same arithmetic: each column is summed in row order starting from its first row.
#pragma once
#include "portability.h"

namespace a4j {

constexpr int BIAS_THREADS = 256;
constexpr int64_t BIAS_ROWS = 64;  // rows per stage-1 chunk: the work size depends on it (see Bias.java)
#if defined(A4J_GPU)
constexpr int64_t BIAS_SLICE = 256;                 // channels per block (= threads)
constexpr int64_t RESIDUAL_CHUNK = 256 * 16;        // elements per block
#else
constexpr int64_t BIAS_SLICE = INT64_C(1) << 40;    // a host block owns every channel of its rows
constexpr int64_t RESIDUAL_CHUNK = INT64_C(1) << 16;
#endif

__global__ void bias_add_kernel(float* A4J_RESTRICT out, const float* A4J_RESTRICT bias, int64_t OC) {
    float* o = out + (int64_t)blockIdx.x * OC;
    for (int64_t c = threadIdx.x; c < OC; c += blockDim.x) o[c] += bias[c];
}

// Block (slice s, chunk r): work[r, slice] = Σ_{rows of chunk r} dout[row, slice].
__global__ void bias_partial_kernel(const float* A4J_RESTRICT dout, int64_t N, int64_t OC, int64_t slice,
                                    int64_t chunks, float* A4J_RESTRICT work) {
    const int64_t s = blockIdx.x / chunks;
    const int64_t r = blockIdx.x % chunks;
    const int64_t c0 = s * slice;
    const int64_t len = OC - c0 < slice ? OC - c0 : slice;
    const int64_t row0 = r * BIAS_ROWS;
    const int64_t rows = N - row0 < BIAS_ROWS ? N - row0 : BIAS_ROWS;
    const float* d = dout + row0 * OC + c0;
    float* w = work + r * OC + c0;
#if defined(__CUDA_ARCH__)
    for (int64_t c = threadIdx.x; c < len; c += blockDim.x) {
        float acc = d[c];
        for (int64_t i = 1; i < rows; ++i) acc += d[i * OC + c];
        w[c] = acc;
    }
#else
    for (int64_t c = 0; c < len; ++c) w[c] = d[c];
    for (int64_t i = 1; i < rows; ++i)
        for (int64_t c = 0; c < len; ++c) w[c] += d[i * OC + c];
#endif
}

// Block per slice: dbias[c] += work[0,c] + work[1,c] + ... (ascending chunks). Overwrites work's first row.
__global__ void bias_finalize_kernel(float* A4J_RESTRICT work, int64_t OC, int64_t slice, int64_t chunks,
                                     float* A4J_RESTRICT dbias) {
    const int64_t c0 = (int64_t)blockIdx.x * slice;
    const int64_t len = OC - c0 < slice ? OC - c0 : slice;
    float* w = work + c0;
#if defined(__CUDA_ARCH__)
    for (int64_t c = threadIdx.x; c < len; c += blockDim.x) {
        float acc = w[c];
        for (int64_t r = 1; r < chunks; ++r) acc += w[r * OC + c];
        dbias[c0 + c] += acc;
    }
#else
    for (int64_t r = 1; r < chunks; ++r)
        for (int64_t c = 0; c < len; ++c) w[c] += w[r * OC + c];
    for (int64_t c = 0; c < len; ++c) dbias[c0 + c] += w[c];
#endif
}

// a, b and out may alias each other: no restrict.
__global__ void residual_add_kernel(const float* a, const float* b, int64_t n, float* out) {
    const int64_t i0 = (int64_t)blockIdx.x * RESIDUAL_CHUNK;
    const int64_t len = n - i0 < RESIDUAL_CHUNK ? n - i0 : RESIDUAL_CHUNK;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) out[i0 + i] = a[i0 + i] + b[i0 + i];
}

inline int bias_add(float* out, const float* bias, int64_t N, int64_t OC) {
    if (OC <= 0) return 0;
    A4J_LAUNCH(bias_add_kernel, N, BIAS_THREADS, N * OC, out, bias, OC);
    return 0;
}

inline int bias_bwd(const float* dout, int64_t N, int64_t OC, float* work, float* dbias) {
    if (N <= 0 || OC <= 0) return 0;  // nothing to add
    const int64_t chunks = (N + BIAS_ROWS - 1) / BIAS_ROWS;
    const int64_t slices = (OC + BIAS_SLICE - 1) / BIAS_SLICE;
    A4J_LAUNCH(bias_partial_kernel, slices * chunks, BIAS_THREADS, N * OC, dout, N, OC, BIAS_SLICE, chunks, work);
    A4J_LAUNCH(bias_finalize_kernel, slices, BIAS_THREADS, chunks * OC, work, OC, BIAS_SLICE, chunks, dbias);
    return 0;
}

inline int residual_add(const float* a, const float* b, int64_t n, float* out) {
    A4J_LAUNCH(residual_add_kernel, (n + RESIDUAL_CHUNK - 1) / RESIDUAL_CHUNK, BIAS_THREADS, n, a, b, n, out);
    return 0;
}

}  // namespace a4j
