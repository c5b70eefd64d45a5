// gemm_cpu.h — GEMM on the CPU through OpenBLAS (CPU backend only: included by native/align4j.cpp).
//
// What: for b in [0, batch): C_b = alpha · op(A_b) · op(B_b) + beta · C_b, ROW-MAJOR, the same contract as
// cuda/gemm_cublas.cuh. OpenBLAS itself is loaded by JavaCPP's presets (org.bytedeco:openblas, which
// bundle libopenblas); Java hands us the address of cblas_sgemm (a4j_cpu_blas_register), so this library
// has no build-time dependency on OpenBLAS and one JNI call does a whole batch, each product using
// OpenBLAS's threads. Not used, deliberately: cblas_sgemm_batch_strided (OpenBLAS >= 0.3.29, not bound by
// the presets) — in the presets' 0.3.31 build it jumps to a null pointer (SIGSEGV) for small products
// (e.g. 3×(16×16·16×16), 3×(100×100·100×100) on a Cooper Lake CPU), which would kill the JVM.
// Floor: compute-bound, 2·M·N·K / peak FLOP/s.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

namespace a4j_cpu_blas {

enum : int { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*SgemmFn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                        const float* b, int ldb, float beta, float* c, int ldc);

inline std::atomic<SgemmFn>& sgemm_fn() {
    static std::atomic<SgemmFn> f{nullptr};
    return f;
}

typedef void (*SgemvFn)(int order, int trans, int m, int n, float alpha, const float* a, int lda, const float* x,
                        int incx, float beta, float* y, int incy);

// cblas_sgemv, optional (registered unless -Dalign4j.blasGemv=false, which also turns off small_m below): with it a
// product of one row (M = 1: a decode step's x·Wᵀ) reads each weight once, where
// cblas_sgemm first copies all of op(B) into packed panels for that single row (57% of a batch-1 decode step's CPU).
inline std::atomic<SgemvFn>& sgemv_fn() {
    static std::atomic<SgemvFn> f{nullptr};
    return f;
}

// Few rows times a weight matrix, C[M×N] = alpha·A[M×K]·B[N×K]ᵀ + beta·C with 2 ≤ M ≤ SMALL_M (a decode step of a
// batch: x·Wᵀ, W [out, in] as stored). cblas_sgemm first copies all of B into packed panels, which for so few rows
// costs more than the products (a batch-32 decode step of a 135M model ran at 25% of its compute floor); here each
// RN rows of B are read once, from where they are, while all M rows of A (≤ 64 × K floats: L2) stream past them.
// Register tile RM × RN of vector accumulators, lanes summed at the end (float, like any BLAS).
namespace small_m {
#if defined(__AVX512F__)
constexpr int VW = 16, RM = 4, RN = 4;  // 16 accumulators of 32 registers
#else
constexpr int VW = 8, RM = 2, RN = 4;   // x86-64-v3 (AVX2): 8 of 16
#endif
constexpr int64_t SMALL_M = 64;
typedef float vec __attribute__((vector_size(VW * 4)));

inline vec load(const float* p) {
    vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <int R, int S>
inline void tile(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t K, float alpha, float beta, float* C,
                 int64_t ldc) {
    vec acc[R][S];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < S; j++) acc[i][j] = vec{};
    int64_t k = 0;
    for (; k + VW <= K; k += VW) {
        vec b[S];
        for (int j = 0; j < S; j++) b[j] = load(B + j * ldb + k);
        for (int i = 0; i < R; i++) {
            const vec a = load(A + i * lda + k);
            for (int j = 0; j < S; j++) acc[i][j] += a * b[j];
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < S; j++) {
            float s = 0.0f;
            for (int l = 0; l < VW; l++) s += acc[i][j][l];
            for (int64_t q = k; q < K; q++) s += A[i * lda + q] * B[j * ldb + q];
            float* c = C + i * ldc + j;
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;  // beta = 0: C is not read (it may hold NaN)
        }
}

// Rows [m0, M) of A against rows [n0, n0 + S) of B: full RM-row tiles, then single rows.
template <int S>
inline void column(const float* A, int64_t lda, const float* B, int64_t ldb, int64_t M, int64_t K, float alpha, float beta,
                   float* C, int64_t ldc) {
    int64_t m = 0;
    for (; m + RM <= M; m += RM) tile<RM, S>(A + m * lda, lda, B, ldb, K, alpha, beta, C + m * ldc, ldc);
    for (; m < M; m++) tile<1, S>(A + m * lda, lda, B, ldb, K, alpha, beta, C + m * ldc, ldc);
}

inline void gemm_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float beta, float* C, int64_t ldc) {
    const int64_t blocks = (N + RN - 1) / RN;
    // threads only where there is work for them (a block is RN·K·M multiply-adds)
#pragma omp parallel for schedule(static) if (M * N * K >= (int64_t)1 << 20)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t n = blk * RN;
        if (n + RN <= N) column<RN>(A, lda, B + n * ldb, ldb, M, K, alpha, beta, C + n, ldc);
        else
            for (int64_t j = n; j < N; j++) column<1>(A, lda, B + j * ldb, ldb, M, K, alpha, beta, C + j, ldc);
    }
}
}  // namespace small_m

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
    if (!trans_a && trans_b && M >= 2 && M <= small_m::SMALL_M && K >= small_m::VW && sgemv != nullptr) {
        for (int64_t i = 0; i < batch; i++)
            small_m::gemm_nt(M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
        return 0;
    }
    for (int64_t i = 0; i < batch; i++)
        sgemm(ROW_MAJOR, ta, tb, (int)M, (int)N, (int)K, alpha, A + i * stride_a, (int)lda, B + i * stride_b, (int)ldb,
              beta, C + i * stride_c, (int)ldc);
    return 0;
}

}  // namespace a4j_cpu_blas
