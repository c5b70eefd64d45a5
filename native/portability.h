// portability.h — lets every kernel in cuda/*.cuh be compiled three times from one source:
//   * by nvcc for the GPU, with real blocks, warps and shared memory;
//   * by the host compiler for the CPU backend, where a block is ONE thread: threadIdx is the
//     compile-time constant 0 and blockDim the constant 1, so `for (j = threadIdx.x; j < n; j += blockDim.x)`
//     becomes a plain loop the compiler vectorises, and A4J_LAUNCH runs the grid's blocks in an
//     OpenMP loop;
//   * by the host compiler as the emulated GPU (A4J_EMULATED_GPU, native/gpu_emu.h): the GPU's code paths
//     with real blocks of fibers, barriers and warp shuffles, so that CI executes the device code too.
// All cooperation between the threads of a block goes through the helpers at the end of this file
// (block_max, block_sum, block_sum_phases, warp_suffix_scan_affine).
#pragma once

#include <cstdint>
#include <cstring>
#include <cmath>

// A4J_GPU: a GPU build (nvcc, or the emulated GPU of gpu_emu.h), i.e. blocks have many threads; the kernels use
// it for launch geometry, which host and device code must agree on. __CUDA_ARCH__ marks device code (nvcc's
// device pass; every line of the emulated build).
#if defined(__CUDACC__)
#define A4J_GPU 1

#include <cuda_runtime.h>
#define A4J_DEV __device__ __forceinline__
#define A4J_HOSTDEV __host__ __device__ __forceinline__
#define A4J_RESTRICT __restrict__

// Every launch goes to the backend's current stream (cuda_backend.cu). `work` (elements touched) only
// matters to the host build.
cudaStream_t a4j_stream();
#define A4J_LAUNCH(kernel, grid, block, work, ...)                                    \
    do {                                                                              \
        const long long a4j_grid_ = (long long)(grid);                               \
        if (a4j_grid_ > 0) kernel<<<(unsigned)a4j_grid_, (block), 0, a4j_stream()>>>(__VA_ARGS__); \
    } while (0)

#elif defined(A4J_EMULATED_GPU)  // ----------------------------------- emulated GPU (native/gpu_emu.h)
#define A4J_GPU 1
#define __CUDA_ARCH__ 900

#include "gpu_emu.h"
#define A4J_DEV inline  // not static: member functions (the reduction operators) use it too
#define A4J_HOSTDEV inline
#define A4J_RESTRICT __restrict__

#else  // ---------------------------------------------------------------- host build

#define A4J_DEV static inline
#define A4J_HOSTDEV static inline
#define A4J_RESTRICT __restrict__
#define __global__ static
#define __device__
#define __host__
#define __forceinline__ inline
#define __syncthreads() ((void)0)

struct a4j_dim3 { unsigned x, y, z; };
// A block is one thread: these are constants, so strided loops collapse to plain loops.
constexpr a4j_dim3 threadIdx{0u, 0u, 0u};
constexpr a4j_dim3 blockDim{1u, 1u, 1u};
// Set by the launcher for each block; each OpenMP thread has its own.
inline thread_local a4j_dim3 blockIdx{0u, 0u, 0u};
inline thread_local a4j_dim3 gridDim{1u, 1u, 1u};

// Blocks are independent by the CUDA contract, so any order and any thread is correct. Dynamic
// scheduling balances rows that are skipped by a mask against rows that are computed; it hands out blocks in
// chunks of grid/128, since one atomic claim per block cost more than a small block's own work (a [B·T] grid
// of 128-float rows). Launches that touch
// fewer than A4J_PARALLEL_MIN_WORK elements (`work`) run on the calling thread: a parallel region costs
// microseconds when the machine is idle, but on a loaded machine a descheduled worker stalls the whole
// region for a scheduler tick (4–8 ms was measured on these 2-core machines), far more than such a
// kernel's own work.
constexpr long long A4J_PARALLEL_MIN_WORK = 1LL << 20;
#define A4J_LAUNCH(kernel, grid, block, work, ...)                                    \
    do {                                                                              \
        const long long a4j_grid_ = (long long)(grid);                               \
        const bool a4j_par_ = a4j_grid_ > 1 && (long long)(work) >= A4J_PARALLEL_MIN_WORK; \
        const long long a4j_chunk_ = a4j_grid_ >= 256 ? a4j_grid_ / 128 : 1;           \
        _Pragma("omp parallel for schedule(dynamic, a4j_chunk_) if (a4j_par_)")      \
        for (long long a4j_b_ = 0; a4j_b_ < a4j_grid_; ++a4j_b_) {                  \
            blockIdx = a4j_dim3{(unsigned)a4j_b_, 0u, 0u};                          \
            gridDim = a4j_dim3{(unsigned)a4j_grid_, 1u, 1u};                        \
            kernel(__VA_ARGS__);                                                      \
        }                                                                             \
    } while (0)

#endif

// ------------------------------------------------------------------------------ math helpers

A4J_HOSTDEV float a4j_as_float(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
A4J_HOSTDEV int32_t a4j_as_int(float f) { int32_t i; memcpy(&i, &f, 4); return i; }

// 2^x for x <= 0 (NaN in gives NaN out; x < -126 gives 0): the exponential of the softmax kernels,
// which work in base 2 (s·log2(e) folded into one FMA) so that range reduction is exact.
// GPU: exp2f. Host: branch-free x = k + r, |r| <= 1/2, 2^r by a degree-5 polynomial (coefficients
// fitted for minimax relative error; max 1.9e-7 = ~3 ulp, measured over 2e5 points), 2^k by exponent
// bits. g++ vectorises it without -ffast-math; glibc's vector expf is only declared under
// __FAST_MATH__, and -ffast-math would also let the compiler assume that no -inf or NaN exists, which
// -inf logits and NaN propagation need. About 15 vector ops per 16 floats: this, not memory, bounds
// the CPU log-prob kernels on a 2-core machine.
A4J_HOSTDEV float a4j_exp2_nonpos(float x) {
#if defined(__CUDA_ARCH__)
    return exp2f(x);
#else
    const float xc = x < -127.0f ? -127.0f : x;          // comparison keeps NaN as NaN
    // rintf, not the 1.5·2^23 magic-number trick: -fassociative-math (needed to vectorise the sums)
    // lets g++ fold (x + M) − M back to x.
    const float k = rintf(xc);
    const float r = xc - k;                                // exact, in [-1/2, 1/2]
    float p = 1.326472731307149e-3f;
    p = fmaf(p, r, 9.671512991189957e-3f);
    p = fmaf(p, r, 5.550733581185341e-2f);
    p = fmaf(p, r, 2.4022242426872253e-1f);
    p = fmaf(p, r, 6.931470036506653e-1f);
    p = fmaf(p, r, 1.0f);
    // k in [-127, 0]: exponent field k + 127 in [0, 127]; field 0 gives +0, so 2^-127 flushes to 0.
    return p * a4j_as_float(((int32_t)k + 127) << 23);
#endif
}

// e^x for any x: GPU expf; host Cody–Waite range reduction x = k·ln2 + r, |r| <= ln2/2, Cephes' degree-6
// polynomial (~1 ulp), 2^k by exponent bits, vectorisable like a4j_exp2_nonpos. x < −87.7 flushes to 0;
// x > 88.38 gives +inf (a sliver below FLT_MAX's 88.72 is lost); NaN gives NaN.
A4J_HOSTDEV float a4j_exp(float x) {
#if defined(__CUDA_ARCH__)
    return expf(x);
#else
    const float xc = x < -88.0f ? -88.0f : (x > 88.8f ? 88.8f : x);  // comparisons keep NaN as NaN
    const float k = rintf(xc * 1.4426950408889634f);                    // in [-127, 128]
    float r = fmaf(k, -0.693359375f, xc);
    r = fmaf(k, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r + 1.0f);
    // exponent field k + 127 in [0, 255]: 0 gives +0 (flush), 255 gives +inf
    return p * a4j_as_float(((int32_t)k + 127) << 23);
#endif
}

constexpr float A4J_LOG2E = 1.4426950408889634f;
constexpr float A4J_LN2 = 0.6931471805599453f;

// log(sigmoid(z)) = min(z, 0) - log1p(exp(-|z|)): never overflows, exact for large |z|.
A4J_HOSTDEV float a4j_log_sigmoid(float z) { return fminf(z, 0.0f) - log1pf(expf(-fabsf(z))); }
A4J_HOSTDEV float a4j_sigmoid(float z) {
    return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

// ------------------------------------------------------------------------- block helpers

// Max over this thread's share of row[0..n) (elements threadIdx.x, +blockDim.x, ...), NaN-ignoring.
// Host: 16 independent lanes with compare-and-select, because g++ vectorises neither an fmaxf
// reduction nor a `z > m ? z : m` one unless it may assume there are no NaNs (-ffinite-math-only),
// which would break -inf logits. The lane form is plain elementwise code, which it does vectorise.
A4J_DEV float thread_max(const float* A4J_RESTRICT row, int64_t n) {
#if defined(__CUDA_ARCH__)
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, row[j]);
    return m;
#else
    constexpr int L = 16;
    float lane[L];
    for (int l = 0; l < L; ++l) lane[l] = -INFINITY;
    int64_t j = 0;
    for (; j + L <= n; j += L)
        for (int l = 0; l < L; ++l) lane[l] = row[j + l] > lane[l] ? row[j + l] : lane[l];
    float m = -INFINITY;
    for (; j < n; ++j) m = row[j] > m ? row[j] : m;
    for (int l = 0; l < L; ++l) m = lane[l] > m ? lane[l] : m;
    return m;
#endif
}

#if defined(__CUDA_ARCH__)

struct A4jAdd {
    template <typename T> A4J_DEV T operator()(T a, T b) const { return a + b; }
};
struct A4jMax {
    A4J_DEV float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <typename T, typename Op> A4J_DEV T a4j_warp_reduce(T v, Op op) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// op over the block, returned to every thread; `identity` stands in for the warps that do not exist.
// blockDim.x must be a multiple of 32 (<= 1024). Each instantiation has its own scratch array; the leading
// __syncthreads makes back-to-back calls safe.
template <typename T, typename Op> A4J_DEV T a4j_block_reduce(T v, T identity, Op op) {
    __shared__ T scratch[32];
    v = a4j_warp_reduce(v, op);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    const int nwarps = blockDim.x >> 5;
    T r = (int)threadIdx.x < nwarps ? scratch[threadIdx.x] : identity;
    if (threadIdx.x < 32) r = a4j_warp_reduce(r, op);
    if (threadIdx.x == 0) scratch[0] = r;
    __syncthreads();
    return scratch[0];
}

// Sum over the block, returned to every thread.
template <typename T> A4J_DEV T block_sum(T v) { return a4j_block_reduce(v, T(0), A4jAdd()); }

// Max over the block (NaN-ignoring, as fmaxf), returned to every thread.
A4J_DEV float block_max(float v) { return a4j_block_reduce(v, -INFINITY, A4jMax()); }

// Inclusive suffix scan of affine maps f_i(x) = a_i + b_i·x over the 32 lanes of a warp:
// on return lane i holds f_i ∘ f_{i+1} ∘ … ∘ f_31. Used by the backward GAE scan.
A4J_DEV void warp_suffix_scan_affine(float& a, float& b) {
    const int lane = threadIdx.x & 31;
    for (int o = 1; o < 32; o <<= 1) {
        const float an = __shfl_down_sync(0xffffffffu, a, o);
        const float bn = __shfl_down_sync(0xffffffffu, b, o);
        if (lane + o < 32) { a = fmaf(b, an, a); b = b * bn; }
    }
}
// The composition of all 32 maps (what lane 0 holds after the scan), broadcast.
A4J_DEV void warp_broadcast_first(float& a, float& b) {
    a = __shfl_sync(0xffffffffu, a, 0);
    b = __shfl_sync(0xffffffffu, b, 0);
}

// Sum of v over the threads of the block that share a lane (thread t = phase·lanes + lane); the result is
// valid in the threads of phase 0. Fixed order: deterministic. The leading __syncthreads makes back-to-back
// calls safe. blockDim.x <= 1024. Used by the column reductions of the norm backwards (dweight over rows).
A4J_DEV float block_sum_phases(float v, int lanes) {
    __shared__ float buf[1024];
    __syncthreads();
    buf[threadIdx.x] = v;
    __syncthreads();
    float s = 0.0f;
    if ((int)threadIdx.x < lanes)
        for (int p = threadIdx.x; p < (int)blockDim.x; p += lanes) s += buf[p];
    return s;
}

#else  // host: one thread per block, so every block-level helper is the identity

template <typename T> A4J_DEV T block_sum(T v) { return v; }
A4J_DEV float block_max(float v) { return v; }
A4J_DEV void warp_suffix_scan_affine(float&, float&) {}
A4J_DEV void warp_broadcast_first(float&, float&) {}
A4J_DEV float block_sum_phases(float v, int) { return v; }

#endif

// The end of a kernel that reduces several per-thread double sums: each is summed over the block, in argument
// order, and thread 0 stores out[k] = (float)(sum_k · scale) (scale 1 for raw sums, 1/n for means).
template <typename... Partials> A4J_DEV void block_sums_store(float* out, double scale, Partials... partials) {
    const double sums[] = {block_sum((double)partials)...};
    if (threadIdx.x == 0)
        for (int k = 0; k < (int)sizeof...(Partials); ++k) out[k] = (float)(sums[k] * scale);
}
