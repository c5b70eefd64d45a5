// cuda_backend.cu — the CUDA backend: the kernels of cuda/*.cuh compiled by nvcc, device memory, and
// one export a4j_cuda_<name> per launcher of native/kernels.def, which native/align4j.cpp resolves with
// dlsym. Linked with the static cudart (-cudart static), so this library loads on any machine; with no
// driver or no GPU, a4j_cuda_device_count() is 0 and a4j_cuda_last_error() says why.
#include <cuda_runtime.h>
#include <string>

#include "align4j.h"
#include "all_kernels.cuh"
#include "gemm_cublas.cuh"

cudaStream_t a4j_stream() { return 0; }  // the legacy default stream: calls are ordered, copies synchronise

namespace {

thread_local std::string g_error;

int check(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return 0;
    g_error = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    return e == cudaErrorMemoryAllocation ? A4J_ERR_OUT_OF_MEMORY : A4J_ERR_CUDA;
}

int select_device(int32_t device) {
    if (device < 1) {
        g_error = "not a CUDA device: " + std::to_string(device);
        return A4J_ERR_ARGUMENT;
    }
    return check(cudaSetDevice(device - 1), "cudaSetDevice");
}

}  // namespace

extern "C" {

const char* a4j_cuda_last_error() { return g_error.c_str(); }

int a4j_cuda_device_count() {
    int n = 0;
    if (check(cudaGetDeviceCount(&n), "cudaGetDeviceCount") != 0) return 0;
    if (n == 0) g_error = "no CUDA device is visible";
    return n;
}

int64_t a4j_cuda_malloc(int32_t device, int64_t bytes) {
    if (select_device(device) != 0) return 0;
    void* p = nullptr;
    if (check(cudaMalloc(&p, bytes == 0 ? 256 : (size_t)bytes), "cudaMalloc") != 0) return 0;
    return (int64_t)(uintptr_t)p;
}

int a4j_cuda_free(int32_t device, int64_t ptr) {
    int rc = select_device(device);
    return rc != 0 ? rc : check(cudaFree((void*)(uintptr_t)ptr), "cudaFree");
}

int a4j_cuda_memset0(int32_t device, int64_t ptr, int64_t bytes) {
    int rc = select_device(device);
    return rc != 0 ? rc : check(cudaMemset((void*)(uintptr_t)ptr, 0, (size_t)bytes), "cudaMemset");
}

int a4j_cuda_copy_in(int32_t device, int64_t dst, const void* src, int64_t bytes) {
    int rc = select_device(device);
    return rc != 0 ? rc : check(cudaMemcpy((void*)(uintptr_t)dst, src, (size_t)bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
}

int a4j_cuda_copy_out(int32_t device, void* dst, int64_t src, int64_t bytes) {
    int rc = select_device(device);
    return rc != 0 ? rc : check(cudaMemcpy(dst, (const void*)(uintptr_t)src, (size_t)bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
}

int a4j_cuda_copy(int32_t device, int64_t dst, int64_t src, int64_t bytes) {
    int rc = select_device(device);
    return rc != 0 ? rc
                   : check(cudaMemcpy((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, (size_t)bytes,
                                      cudaMemcpyDeviceToDevice), "cudaMemcpy D2D");
}

int a4j_cuda_synchronize(int32_t device) {
    int rc = select_device(device);
    return rc != 0 ? rc : check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

int a4j_cuda_gemm(int32_t device, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                  float beta, float* C, int64_t ldc, int64_t stride_c, int64_t batch, int32_t flags) {
    int rc = select_device(device);
    if (rc == 0)
        rc = a4j_cublas::gemm(device - 1, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta,
                              C, ldc, stride_c, batch, flags, g_error);
    return rc != 0 ? rc : check(cudaGetLastError(), "gemm");
}

#define A4J_FN(name, params, args)                                   \
    int a4j_cuda_##name A4J_WITH_DEVICE params {                     \
        int rc = select_device(device);                              \
        if (rc == 0) rc = a4j::name args;                            \
        return rc != 0 ? rc : check(cudaGetLastError(), #name);      \
    }
#include "kernels.def"
#undef A4J_FN

}  // extern "C"
