// align4j.h — the flat C ABI between Java and the native backends. Every function returns 0 or an
// A4J_ERR_* code; a4j_last_error() then describes the failure (per thread). Device 0 is the CPU,
// device 1 + k is CUDA device k. Memory functions take addresses as int64_t; the kernel functions,
// generated from kernels.def, take typed pointers (JavaCPP casts the Java longs). Public Java code
// never sees an address.
#pragma once
#include <stdint.h>

// The constants of constants.def: A4J_OK, A4J_ERR_*, A4J_PREF_*, A4J_KL_*, A4J_AGG_*, stats and work sizes, ...
#define A4J_CONST(name, value) A4J_##name = value,
enum {
#include "constants.def"
};
#undef A4J_CONST

#ifdef __cplusplus
extern "C" {
#endif

const char* a4j_last_error(void);
// Loads the CUDA backend from a shared library path; 0 on success. Safe to call again.
int a4j_cuda_load(const char* path);
// Number of CUDA devices (0 when the backend is not loaded or there is no driver/device).
int a4j_cuda_device_count(void);
int64_t a4j_malloc(int32_t device, int64_t bytes);   // 0 on failure (see a4j_last_error)
int a4j_free(int32_t device, int64_t ptr);
int a4j_memset0(int32_t device, int64_t ptr, int64_t bytes);
int a4j_copy_in(int32_t device, int64_t dst, const void* host_src, int64_t bytes);
int a4j_copy_out(int32_t device, void* host_dst, int64_t src, int64_t bytes);
int a4j_copy(int32_t device, int64_t dst, int64_t src, int64_t bytes);  // same device
int a4j_synchronize(int32_t device);
// Row-major strided-batched SGEMM, C_b = alpha·op(A_b)·op(B_b) + beta·C_b for b < batch: OpenBLAS on the
// CPU (native/gemm_cpu.h; after a4j_cpu_blas_register), cuBLAS on CUDA (cuda/gemm_cublas.cuh).
int a4j_gemm(int32_t device, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha,
             const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
             float beta, float* C, int64_t ldc, int64_t stride_c, int64_t batch, int32_t flags);
// The address of OpenBLAS's cblas_sgemm, as loaded by JavaCPP's OpenBLAS presets.
int a4j_cpu_blas_register(int64_t sgemm);
// The address of cblas_sgemv (0: none): products with one row (M = 1) then use it (native/gemm_cpu.h).
int a4j_cpu_blas_register_gemv(int64_t sgemv);
// NCCL through the CUDA backend (cuda/nccl_shim.cuh; loaded from path, e.g. libnccl.so.2): the 128 bytes of a new
// ncclUniqueId (rank 0), this process's communicator (rank of nranks on a CUDA device), in-place sum of n F32 (0) or
// F64 (1) elements of device memory, and the communicator's end. A backend without NCCL returns A4J_ERR_NO_CUDA.
int a4j_nccl_load(const char* path);
int a4j_nccl_unique_id(signed char* out);
int a4j_nccl_init(int32_t device, int32_t nranks, int32_t rank, const signed char* id);
int a4j_nccl_allreduce(int32_t device, int64_t ptr, int64_t n, int32_t dtype);
int a4j_nccl_destroy(void);
// MPI (native/mpi_shim.h): loads Open MPI's libmpi from path (RTLD_GLOBAL) and initialises it (MPI_THREAD_SERIALIZED,
// errors returned); then rank and size of MPI_COMM_WORLD, in-place all-reduce (dtype 0 F32, 1 F64; op 0 sum, 1 max)
// and broadcast of host memory, barrier, abort (ends every rank), finalize (only when this library initialised MPI).
int a4j_mpi_load(const char* path);
int32_t a4j_mpi_rank(void);
int32_t a4j_mpi_size(void);
int a4j_mpi_allreduce(int64_t ptr, int64_t n, int32_t dtype, int32_t op);
int a4j_mpi_bcast(int64_t ptr, int64_t n, int32_t root);
int a4j_mpi_barrier(void);
int a4j_mpi_abort(int32_t code);
int a4j_mpi_finalize(void);
// The i-th line of constants.def as compiled into this library: its name without A4J_ (NULL past the last
// line) and its value (0 past the last line). For the test that holds the generated Java constants against it.
const char* a4j_constant_name(int32_t i);
int32_t a4j_constant_value(int32_t i);

#define A4J_WITH_DEVICE(...) (int32_t device, __VA_ARGS__)
#define A4J_FN(name, params, args) int a4j_##name A4J_WITH_DEVICE params;
#include "kernels.def"
#undef A4J_FN
#ifdef __cplusplus
}
#endif
