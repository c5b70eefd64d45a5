// gemm_cpu.h — GEMM on the CPU through OpenBLAS (CPU backend only: included by native/align4j.cpp).
//
// What: for b in [0, batch): C_b = alpha · op(A_b) · op(B_b) + beta · C_b, ROW-MAJOR, the same contract as
// cuda/gemm_cublas.cuh. OpenBLAS itself is loaded by JavaCPP's presets (org.bytedeco:openblas, which
// bundle libopenblas); Java hands us the address of cblas_sgemm (a4j_cpu_blas_register), so this library
// has no build-time dependency on OpenBLAS and one JNI call does a whole batch. Not used, deliberately: cblas_sgemm_batch_strided (OpenBLAS >= 0.3.29, not bound by
// the presets) — in the presets' 0.3.31 build it jumps to a null pointer (SIGSEGV) for small products
// (e.g. 3×(16×16·16×16), 3×(100×100·100×100) on a Cooper Lake CPU), which would kill the JVM.
// Threads: OpenBLAS runs single-threaded (dev.align4j.tensor.Blas sets 1 unless told otherwise) and a large product is
// cut here into slabs of C's rows or columns that the OpenMP threads share, each slab a single-threaded sgemm. OpenBLAS's own
// threads spin-wait for each other; on two shared cores one of them is always waiting for the other to be scheduled,
// and a decode step's small products paid more in synchronisation than in arithmetic (the demo's pair sampling ran 6×
// faster with one OpenBLAS thread on the loaded 2-core machine). OpenMP's idle threads sleep (the launcher sets
// OMP_WAIT_POLICY=PASSIVE), and a product smaller than SPLIT_MIN_FLOP stays on the calling thread. OpenBLAS's result
// for an element of C depends on the shape of the call it is computed in, so the slabs are a function of the shape
// alone (2, or 4 for the largest products, at multiples of SPLIT_ALIGN), never of the thread count: one thread
// computes them one after the other and gets the same bits as two. (A batch of products runs one product per thread,
// each unsplit.)
// Floor: compute-bound, 2·M·N·K / peak FLOP/s.
#pragma once
#include <omp.h>
#include <atomic>
#include <cstdint>
#include <string>

namespace a4j_cpu_blas {

enum : int { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

// A product of fewer FLOPs stays on the calling thread (about 0.1 ms of one core: waking a sleeping OpenMP thread
// costs tens of microseconds).
constexpr double SPLIT_MIN_FLOP = 8e6;
// Slab boundaries: a multiple of every OpenBLAS SGEMM kernel's M and N unrolling.
constexpr int64_t SPLIT_ALIGN = 64;

typedef void (*SgemmFn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                        const float* b, int ldb, float beta, float* c, int ldc);

inline std::atomic<SgemmFn>& sgemm_fn() {
    static std::atomic<SgemmFn> f{nullptr};
    return f;
}

typedef void (*SgemvFn)(int order, int trans, int m, int n, float alpha, const float* a, int lda, const float* x,
                        int incx, float beta, float* y, int incy);

// cblas_sgemv, optional: with it a product of one row (M = 1: a decode step's x·Wᵀ) reads each weight once, where
// cblas_sgemm first copies all of op(B) into packed panels for that single row (57% of a batch-1 decode step's CPU).
inline std::atomic<SgemvFn>& sgemv_fn() {
    static std::atomic<SgemvFn> f{nullptr};
    return f;
}

// Returns 0, or 1 with error set (OpenBLAS not registered, sizes beyond its 32-bit ints).
inline int gemm(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                int64_t ldc, int64_t stride_c, int64_t batch, std::string& error) {
    const SgemmFn sgemm = sgemm_fn().load();
    if (sgemm == nullptr) {
        error = "CPU GEMM: OpenBLAS is not registered (a4j_cpu_blas_register was not called)";
        return 1;
    }
    const int64_t int_max = 2147483647;
    if (M < 0 || N < 0 || K < 0 || batch < 0 || M > int_max || N > int_max || K > int_max || lda < 1 ||
        ldb < 1 || ldc < 1 || lda > int_max || ldb > int_max || ldc > int_max) {
        error = "CPU GEMM: bad sizes (M, N, K and leading dimensions must fit OpenBLAS's int)";
        return 1;
    }
    if (M == 0 || N == 0 || batch == 0) return 0;
    const int ta = trans_a ? TRANS : NO_TRANS, tb = trans_b ? TRANS : NO_TRANS;
    const SgemvFn sgemv = sgemv_fn().load();
    if (M == 1 && K > 0 && sgemv != nullptr) {
        // C[1×N] = alpha·x·op(B) + beta·C with x the one row of op(A) (contiguous; with trans_a, A is K×1, stride lda).
        // op(B) = Bᵀ, B [N×K]: y = B·x;  op(B) = B, B [K×N]: y = Bᵀ·x. sgemv, like sgemm, does not read y when beta = 0.
        for (int64_t i = 0; i < batch; i++)
            sgemv(ROW_MAJOR, trans_b ? NO_TRANS : TRANS, (int)(trans_b ? N : K), (int)(trans_b ? K : N), alpha,
                  B + i * stride_b, (int)ldb, A + i * stride_a, trans_a ? (int)lda : 1, beta, C + i * stride_c, 1);
        return 0;
    }
    const double flop = 2.0 * (double)M * (double)N * (double)K;
    if (flop * (double)batch >= SPLIT_MIN_FLOP && !omp_in_parallel()) {
        if (batch > 1) {
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < batch; i++)
                sgemm(ROW_MAJOR, ta, tb, (int)M, (int)N, (int)K, alpha, A + i * stride_a, (int)lda, B + i * stride_b,
                      (int)ldb, beta, C + i * stride_c, (int)ldc);
            return 0;
        }
        // One product: slabs of C's longer side, as many as its size says (never the thread count: see the top),
        // each a whole number of SPLIT_ALIGN units and the units spread evenly (384 rows in 4 slabs: 64, 128, 64, 128,
        // so that two threads' halves are equal; equal-width slabs of 128 made three, one thread doing two).
        const bool rows = M >= N;
        const int64_t len = rows ? M : N;
        const int64_t units = (len + SPLIT_ALIGN - 1) / SPLIT_ALIGN;
        const int64_t want = flop >= 8 * SPLIT_MIN_FLOP ? 4 : 2;
        const int slabs = (int)(units < want ? units : want);
        if (slabs > 1) {
#pragma omp parallel for schedule(static)
            for (int s = 0; s < slabs; s++) {
                const int64_t lo = s * units / slabs * SPLIT_ALIGN, hi = (s + 1) * units / slabs * SPLIT_ALIGN;
                const int64_t n = (hi < len ? hi : len) - lo;
                if (rows)  // C[lo:lo+n, :] = op(A)[lo:lo+n, :]·op(B): A is M×K row-major (K×M with trans_a)
                    sgemm(ROW_MAJOR, ta, tb, (int)n, (int)N, (int)K, alpha, A + (trans_a ? lo : lo * lda), (int)lda, B,
                          (int)ldb, beta, C + lo * ldc, (int)ldc);
                else       // C[:, lo:lo+n] = op(A)·op(B)[:, lo:lo+n]: B is K×N row-major (N×K with trans_b)
                    sgemm(ROW_MAJOR, ta, tb, (int)M, (int)n, (int)K, alpha, A, (int)lda, B + (trans_b ? lo * ldb : lo),
                          (int)ldb, beta, C + lo, (int)ldc);
            }
            return 0;
        }
    }
    for (int64_t i = 0; i < batch; i++)
        sgemm(ROW_MAJOR, ta, tb, (int)M, (int)N, (int)K, alpha, A + i * stride_a, (int)lda, B + i * stride_b, (int)ldb,
              beta, C + i * stride_c, (int)ldc);
    return 0;
}

}  // namespace a4j_cpu_blas
