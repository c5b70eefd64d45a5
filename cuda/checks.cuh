// checks.cuh — validation kernels run by the Java layer before a kernel sees its inputs, so that a bad
// value is reported with its index instead of corrupting a result:
//   check_f32: first index of x[n] breaking a rule (A4J_CHECK_FINITE, _MASK: exactly 0 or 1, _POSITIVE)
//   check_i32: first index of x[n] outside [lo, hi)
// The result is the minimum bad index, or −1. Floor: one read of x.
// Blocks of CHECK_CHUNK elements; each block finds its first bad index and the minimum is taken with an
// atomic on the GPU and a critical section on the host (blocks run in any order on both).
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int CHECK_THREADS = 256;
constexpr int64_t CHECK_CHUNK = 1 << 16;

A4J_DEV bool f32_breaks(float v, int32_t rule) {
    switch (rule) {
        case A4J_CHECK_MASK: return !(v == 0.0f || v == 1.0f);      // NaN fails both comparisons
        case A4J_CHECK_POSITIVE: return !(v > 0.0f && v < INFINITY);
        default: return !(v > -INFINITY && v < INFINITY);            // A4J_CHECK_FINITE: NaN and ±inf
    }
}

A4J_DEV void record_first_bad(int64_t* first_bad, int64_t i) {
#if defined(__CUDA_ARCH__)
    atomicMin(reinterpret_cast<unsigned long long*>(first_bad), (unsigned long long)i);
#else
    #pragma omp critical(a4j_check)
    if ((uint64_t)i < (uint64_t)*first_bad) *first_bad = i;
#endif
}

// A branch-free count of bad values first (vectorised on the host), then, only in a chunk that has one, the
// scan for its first index.
__global__ void check_f32_kernel(const float* A4J_RESTRICT x, int64_t n, int32_t rule, int64_t* first_bad) {
    const int64_t begin = (int64_t)blockIdx.x * CHECK_CHUNK;
    const int64_t end = begin + CHECK_CHUNK < n ? begin + CHECK_CHUNK : n;
    int bad = 0;
    if (rule == A4J_CHECK_MASK) {
        for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) bad += (x[i] == 0.0f) | (x[i] == 1.0f) ? 0 : 1;
    } else if (rule == A4J_CHECK_POSITIVE) {
        for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
            bad += (x[i] > 0.0f) & (x[i] < INFINITY) ? 0 : 1;
    } else {
        for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
            bad += (x[i] > -INFINITY) & (x[i] < INFINITY) ? 0 : 1;
    }
    if (block_sum(bad) == 0) return;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
        if (f32_breaks(x[i], rule)) {
            record_first_bad(first_bad, i);
            break;
        }
}

__global__ void check_i32_kernel(const int32_t* A4J_RESTRICT x, int64_t n, int32_t lo, int32_t hi, int64_t* first_bad) {
    const int64_t begin = (int64_t)blockIdx.x * CHECK_CHUNK;
    const int64_t end = begin + CHECK_CHUNK < n ? begin + CHECK_CHUNK : n;
    int bad = 0;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) bad += (x[i] >= lo) & (x[i] < hi) ? 0 : 1;
    if (block_sum(bad) == 0) return;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
        if (x[i] < lo || x[i] >= hi) {
            record_first_bad(first_bad, i);
            break;
        }
}

// first_bad is set to −1 (all bits set = UINT64_MAX for the unsigned minimum) before the scan.
__global__ void check_init_kernel(int64_t* first_bad) {
    if (threadIdx.x == 0) *first_bad = -1;
}

inline int check_f32(const float* x, int64_t n, int32_t rule, int64_t* first_bad) {
    if (rule < A4J_CHECK_FINITE || rule > A4J_CHECK_POSITIVE) return A4J_ERR_ARGUMENT;  // Java passes only these
    A4J_LAUNCH(check_init_kernel, 1, 32, 1, first_bad);
    A4J_LAUNCH(check_f32_kernel, (n + CHECK_CHUNK - 1) / CHECK_CHUNK, CHECK_THREADS, n, x, n, rule, first_bad);
    return 0;
}

inline int check_i32(const int32_t* x, int64_t n, int32_t lo, int32_t hi, int64_t* first_bad) {
    A4J_LAUNCH(check_init_kernel, 1, 32, 1, first_bad);
    A4J_LAUNCH(check_i32_kernel, (n + CHECK_CHUNK - 1) / CHECK_CHUNK, CHECK_THREADS, n, x, n, lo, hi, first_bad);
    return 0;
}

}  // namespace a4j
