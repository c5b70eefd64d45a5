// align4j.cpp — the CPU backend (the kernels of cuda/*.cuh compiled by the host compiler, see
// portability.h) and the dispatcher behind the flat C ABI of align4j.h. Device 0 calls the kernels
// here; devices >= 1 go to the CUDA backend, a separate shared library loaded with dlopen so that
// this library never depends on CUDA: on a machine without a GPU or without the CUDA library, only
// the CUDA calls fail, with a reason.
#include <dlfcn.h>
#include <cstdlib>
#include <mutex>
#include <string>

#include "align4j.h"
#include "all_kernels.cuh"
#include "gemm_cpu.h"

namespace {

thread_local std::string g_error;

int fail(int code, const std::string& msg) {
    g_error = msg;
    return code;
}

// The CUDA backend's exports (cuda/cuda_backend.cu), resolved once by a4j_cuda_load.
struct CudaApi {
    void* handle = nullptr;
    const char* (*last_error)() = nullptr;
    int (*device_count)() = nullptr;
    int64_t (*malloc_)(int32_t, int64_t) = nullptr;
    int (*free_)(int32_t, int64_t) = nullptr;
    int (*memset0)(int32_t, int64_t, int64_t) = nullptr;
    int (*copy_in)(int32_t, int64_t, const void*, int64_t) = nullptr;
    int (*copy_out)(int32_t, void*, int64_t, int64_t) = nullptr;
    int (*copy)(int32_t, int64_t, int64_t, int64_t) = nullptr;
    int (*synchronize)(int32_t) = nullptr;
    int (*gemm)(int32_t, int32_t, int32_t, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                const float*, int64_t, int64_t, float, float*, int64_t, int64_t, int64_t, int32_t) = nullptr;
#define A4J_FN(name, params, args) int(*name) A4J_WITH_DEVICE params = nullptr;
#include "kernels.def"
#undef A4J_FN
};

CudaApi g_cuda;
std::mutex g_cuda_mutex;

int no_cuda() {
    return fail(A4J_ERR_NO_CUDA, g_cuda.handle == nullptr ? "the CUDA backend is not loaded"
                                                           : "the CUDA backend has no usable device");
}

// A CUDA call failed: take its message from the CUDA library's own (thread-local) error.
int cuda_failed(int rc) { return rc == 0 ? 0 : fail(rc, g_cuda.last_error()); }

template <typename F> bool resolve(void* handle, const char* name, F& fn, std::string& missing) {
    fn = reinterpret_cast<F>(dlsym(handle, name));
    if (fn == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
    return fn != nullptr;
}

}  // namespace

extern "C" {

const char* a4j_last_error(void) { return g_error.c_str(); }

int a4j_cuda_load(const char* path) {
    std::lock_guard<std::mutex> lock(g_cuda_mutex);
    if (g_cuda.handle != nullptr) return 0;
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        const char* e = dlerror();
        return fail(A4J_ERR_NO_CUDA, std::string("cannot load ") + path + ": " + (e ? e : "unknown error"));
    }
    CudaApi api;
    std::string missing;
    resolve(h, "a4j_cuda_last_error", api.last_error, missing);
    resolve(h, "a4j_cuda_device_count", api.device_count, missing);
    resolve(h, "a4j_cuda_malloc", api.malloc_, missing);
    resolve(h, "a4j_cuda_free", api.free_, missing);
    resolve(h, "a4j_cuda_memset0", api.memset0, missing);
    resolve(h, "a4j_cuda_copy_in", api.copy_in, missing);
    resolve(h, "a4j_cuda_copy_out", api.copy_out, missing);
    resolve(h, "a4j_cuda_copy", api.copy, missing);
    resolve(h, "a4j_cuda_synchronize", api.synchronize, missing);
    resolve(h, "a4j_cuda_gemm", api.gemm, missing);
#define A4J_FN(name, params, args) resolve(h, "a4j_cuda_" #name, api.name, missing);
#include "kernels.def"
#undef A4J_FN
    if (!missing.empty()) {
        dlclose(h);
        return fail(A4J_ERR_NO_CUDA, std::string(path) + " lacks " + missing + " (built from other sources?)");
    }
    api.handle = h;
    g_cuda = api;
    return 0;
}

int a4j_cuda_device_count(void) {
    if (g_cuda.handle == nullptr) return no_cuda(), 0;
    const int n = g_cuda.device_count();
    if (n == 0) fail(A4J_ERR_NO_CUDA, g_cuda.last_error());
    return n;
}

int64_t a4j_malloc(int32_t device, int64_t bytes) {
    if (bytes < 0) return fail(A4J_ERR_ARGUMENT, "negative allocation size"), 0;
    if (device == A4J_DEVICE_CPU) {
        // 64-byte aligned (one cache line, one AVX-512 vector); never 0 bytes, so every tensor has an address.
        const size_t size = ((size_t)bytes + 63) / 64 * 64 + 64 * (bytes == 0);
        void* p = std::aligned_alloc(64, size);
        if (p == nullptr) fail(A4J_ERR_OUT_OF_MEMORY, "out of host memory allocating " + std::to_string(bytes) + " bytes");
        return (int64_t)(uintptr_t)p;
    }
    if (g_cuda.handle == nullptr) return no_cuda(), 0;
    const int64_t p = g_cuda.malloc_(device, bytes);
    if (p == 0) fail(A4J_ERR_OUT_OF_MEMORY, g_cuda.last_error());
    return p;
}

int a4j_free(int32_t device, int64_t ptr) {
    if (device == A4J_DEVICE_CPU) {
        std::free((void*)(uintptr_t)ptr);
        return 0;
    }
    return g_cuda.handle == nullptr ? no_cuda() : cuda_failed(g_cuda.free_(device, ptr));
}

int a4j_memset0(int32_t device, int64_t ptr, int64_t bytes) {
    if (device == A4J_DEVICE_CPU) {
        std::memset((void*)(uintptr_t)ptr, 0, (size_t)bytes);
        return 0;
    }
    return g_cuda.handle == nullptr ? no_cuda() : cuda_failed(g_cuda.memset0(device, ptr, bytes));
}

int a4j_copy_in(int32_t device, int64_t dst, const void* host_src, int64_t bytes) {
    if (device == A4J_DEVICE_CPU) {
        std::memcpy((void*)(uintptr_t)dst, host_src, (size_t)bytes);
        return 0;
    }
    return g_cuda.handle == nullptr ? no_cuda() : cuda_failed(g_cuda.copy_in(device, dst, host_src, bytes));
}

int a4j_copy_out(int32_t device, void* host_dst, int64_t src, int64_t bytes) {
    if (device == A4J_DEVICE_CPU) {
        std::memcpy(host_dst, (const void*)(uintptr_t)src, (size_t)bytes);
        return 0;
    }
    return g_cuda.handle == nullptr ? no_cuda() : cuda_failed(g_cuda.copy_out(device, host_dst, src, bytes));
}

int a4j_copy(int32_t device, int64_t dst, int64_t src, int64_t bytes) {
    if (device == A4J_DEVICE_CPU) {
        std::memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, (size_t)bytes);
        return 0;
    }
    return g_cuda.handle == nullptr ? no_cuda() : cuda_failed(g_cuda.copy(device, dst, src, bytes));
}

int a4j_synchronize(int32_t device) {
    if (device == A4J_DEVICE_CPU) return 0;
    return g_cuda.handle == nullptr ? no_cuda() : cuda_failed(g_cuda.synchronize(device));
}

int a4j_cpu_blas_register(int64_t sgemm) {
    if (sgemm == 0) return fail(A4J_ERR_ARGUMENT, "a4j_cpu_blas_register: cblas_sgemm's address is 0");
    a4j_cpu_blas::sgemm_fn().store(reinterpret_cast<a4j_cpu_blas::SgemmFn>((uintptr_t)sgemm));
    return 0;
}

int a4j_gemm(int32_t device, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha,
             const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
             float beta, float* C, int64_t ldc, int64_t stride_c, int64_t batch, int32_t flags) {
    if (device == A4J_DEVICE_CPU) {
        std::string error;
        return a4j_cpu_blas::gemm(trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                                  stride_c, batch, error) == 0 ? 0 : fail(A4J_ERR_ARGUMENT, error);
    }
    if (g_cuda.handle == nullptr) return no_cuda();
    return cuda_failed(g_cuda.gemm(device, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta,
                                   C, ldc, stride_c, batch, flags));
}

#define A4J_WITH_DEVICE_ARGS(...) (device, __VA_ARGS__)
#define A4J_FN(name, params, args)                                             \
    int a4j_##name A4J_WITH_DEVICE params {                                    \
        if (device == A4J_DEVICE_CPU) return a4j::name args;                   \
        if (g_cuda.handle == nullptr) return no_cuda();                        \
        return cuda_failed(g_cuda.name A4J_WITH_DEVICE_ARGS args);             \
    }
#include "kernels.def"
#undef A4J_FN

}  // extern "C"
