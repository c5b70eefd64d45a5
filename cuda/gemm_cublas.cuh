// gemm_cublas.cuh — GEMM on CUDA through cuBLAS, loaded at run time with dlopen (CUDA backend only: included
// by cuda/cuda_backend.cu, never by the CPU backend, whose GEMM is OpenBLAS called from Java).
//
// What: for b in [0, batch): C_b = alpha · op(A_b) · op(B_b) + beta · C_b, ROW-MAJOR, op = identity or
// transpose; A_b = A + b·stride_a etc. (stride 0 broadcasts one matrix over the batch). op(A) is M×K,
// op(B) is K×N, C is M×N; lda/ldb/ldc are row-major leading dimensions (elements per stored row).
// Row-major maps onto cuBLAS's column-major without copies: a row-major X is a column-major Xᵀ, so
// Cᵀ = op(B)ᵀ·op(A)ᵀ is one column-major GEMM with the operands swapped (m = N, n = M).
// K = 0 gives C = beta·C (a small kernel here; we do not rely on cuBLAS's handling of k = 0).
// Floor: cuBLAS's own (compute-bound: ~2·M·N·K / peak FLOP/s; TF32 tensor cores when flags allow).
//
// Why dlopen and not JavaCPP's cuda presets: this library links cudart statically, and keeping cuBLAS
// behind the same C entry point means one native call per GEMM (no Java-side handle, no second JNI
// library, no libcudart.so.13 to find), and the handle is created on our own runtime's current device.
// cuBLAS uses the device's primary context, as our runtime does, so our cudaMalloc pointers are valid
// there, and it runs on the legacy default stream (handle stream NULL), as our kernels do, so GEMMs and
// kernels are ordered without events. Only the few entry points below are declared, by hand, with the
// ABI of cublas_api.h (stable since CUDA 11; the same in cuBLAS 12 and 13). Searched: $ALIGN4J_CUBLAS
// (a full path), then libcublas.so.13 and libcublas.so.12 through the loader (LD_LIBRARY_PATH, ld.so
// cache), then $CUDA_HOME/lib64, /usr/local/cuda/lib64, /usr/local/cuda-13/lib64.
#pragma once
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>

namespace a4j_cublas {

typedef void* Handle;
enum : int { STATUS_SUCCESS = 0, OP_N = 0, OP_T = 1, R_32F = 0, COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77,
             GEMM_DEFAULT = -1, MAX_DEVICES = 64 };

typedef int (*CreateFn)(Handle*);
typedef int (*SetStreamFn)(Handle, cudaStream_t);
typedef int (*GemmStridedBatchedExFn)(Handle, int transa, int transb, int m, int n, int k, const void* alpha,
                                      const void* A, int Atype, int lda, long long strideA, const void* B,
                                      int Btype, int ldb, long long strideB, const void* beta, void* C, int Ctype,
                                      int ldc, long long strideC, int batchCount, int computeType, int algo);
typedef const char* (*StatusStringFn)(int);

struct Api {
    bool tried = false;
    std::string failure;  // why cuBLAS is unusable (empty when loaded)
    CreateFn create = nullptr;
    SetStreamFn set_stream = nullptr;
    GemmStridedBatchedExFn gemm = nullptr;
    StatusStringFn status_string = nullptr;  // optional (cuBLAS >= 11.4)
    Handle handles[MAX_DEVICES] = {};
};

inline Api& api() {
    static Api a;
    return a;
}
inline std::mutex& api_mutex() {
    static std::mutex m;
    return m;
}

inline void* open_library(std::string& tried) {
    std::string candidates[8];
    int n = 0;
    if (const char* p = std::getenv("ALIGN4J_CUBLAS")) candidates[n++] = p;
    candidates[n++] = "libcublas.so.13";
    candidates[n++] = "libcublas.so.12";
    if (const char* h = std::getenv("CUDA_HOME")) candidates[n++] = std::string(h) + "/lib64/libcublas.so.13";
    candidates[n++] = "/usr/local/cuda/lib64/libcublas.so.13";
    candidates[n++] = "/usr/local/cuda-13/lib64/libcublas.so.13";
    for (int i = 0; i < n; i++) {
        void* h = dlopen(candidates[i].c_str(), RTLD_NOW | RTLD_LOCAL);
        if (h != nullptr) return h;
        const char* e = dlerror();
        tried += "\n  " + candidates[i] + ": " + (e ? e : "not found");
    }
    return nullptr;
}

// Loads cuBLAS once; on failure every later call reports the same reason.
inline bool load(std::string& error) {
    std::lock_guard<std::mutex> lock(api_mutex());
    Api& a = api();
    if (!a.tried) {
        a.tried = true;
        std::string tried;
        void* h = open_library(tried);
        if (h == nullptr) {
            a.failure = "cuBLAS is not available: no libcublas.so.13 (or .12) could be loaded; install the CUDA 13 "
                        "toolkit's cuBLAS (e.g. the libcublas-13-x package or pip nvidia-cublas), add its lib64 to "
                        "LD_LIBRARY_PATH, or set ALIGN4J_CUBLAS to the library's path. Tried:" + tried;
        } else {
            a.create = reinterpret_cast<CreateFn>(dlsym(h, "cublasCreate_v2"));
            a.set_stream = reinterpret_cast<SetStreamFn>(dlsym(h, "cublasSetStream_v2"));
            a.gemm = reinterpret_cast<GemmStridedBatchedExFn>(dlsym(h, "cublasGemmStridedBatchedEx"));
            a.status_string = reinterpret_cast<StatusStringFn>(dlsym(h, "cublasGetStatusString"));
            if (a.create == nullptr || a.set_stream == nullptr || a.gemm == nullptr)
                a.failure = "cuBLAS was loaded but lacks cublasCreate_v2, cublasSetStream_v2 or cublasGemmStridedBatchedEx";
        }
    }
    error = a.failure;
    return a.failure.empty();
}

inline std::string status_text(int s) {
    const char* t = api().status_string != nullptr ? api().status_string(s) : nullptr;
    return "cuBLAS status " + std::to_string(s) + (t != nullptr ? std::string(" (") + t + ")" : std::string());
}

// The handle of the current device (the caller has selected it), created on first use and kept for the
// life of the process (destroying handles at exit races the driver's own teardown).
inline int handle_for(int dev, Handle& out, std::string& error) {
    if (dev < 0 || dev >= MAX_DEVICES) {
        error = "cuBLAS: device index " + std::to_string(dev) + " out of range";
        return 1;
    }
    std::lock_guard<std::mutex> lock(api_mutex());
    Api& a = api();
    if (a.handles[dev] == nullptr) {
        Handle h = nullptr;
        int s = a.create(&h);
        if (s != STATUS_SUCCESS) {
            error = "cublasCreate on cuda:" + std::to_string(dev) + " failed: " + status_text(s);
            return 1;
        }
        s = a.set_stream(h, a4j_stream());
        if (s != STATUS_SUCCESS) {
            error = "cublasSetStream failed: " + status_text(s);
            return 1;
        }
        a.handles[dev] = h;
    }
    out = a.handles[dev];
    return 0;
}

#if defined(__CUDACC__)
// C_b = beta · C_b over M rows of N elements (row stride ldc): the K = 0 case.
__global__ void scale_kernel(float* c, int64_t rows, int64_t n, int64_t ldc, int64_t stride_c, float beta) {
    const int64_t row = blockIdx.x;  // over batch · rows
    float* r = c + (row / rows) * stride_c + (row % rows) * ldc;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) r[j] = beta == 0.0f ? 0.0f : beta * r[j];
}
#endif

}  // namespace a4j_cublas

namespace a4j_cublas {

// The GEMM of the header comment, on device index dev (already selected by the caller). Returns 0 or an
// A4J_ERR_* code with error set. flags: A4J_GEMM_TF32 allows TF32 tensor-core math (FP32 in and out).
inline int gemm(int dev, int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                float beta, float* C, int64_t ldc, int64_t stride_c, int64_t batch, int32_t flags,
                std::string& error) {
    const int64_t int_max = 2147483647;
    if (M < 0 || N < 0 || K < 0 || batch < 0 || M > int_max || N > int_max || K > int_max || batch > int_max ||
        lda < 1 || ldb < 1 || ldc < 1 || lda > int_max || ldb > int_max || ldc > int_max) {
        error = "gemm: bad sizes (M, N, K, batch and leading dimensions must fit cuBLAS's int)";
        return A4J_ERR_ARGUMENT;
    }
    if (!load(error)) return A4J_ERR_NO_CUDA;
    if (M == 0 || N == 0 || batch == 0) return 0;
    if (K == 0 || alpha == 0.0f) {
        // BLAS semantics without relying on cuBLAS's k = 0 path: C = beta·C (beta = 0 writes zeros, so
        // NaN in an uninitialised C does not survive).
        if (beta == 1.0f) return 0;
        if (M * batch > int_max) {
            error = "gemm: batch·M too large for the K = 0 path";
            return A4J_ERR_ARGUMENT;
        }
#if defined(__CUDACC__)
        scale_kernel<<<(unsigned)(M * batch), 128, 0, a4j_stream()>>>(C, M, N, ldc, stride_c, beta);
#endif
        return 0;
    }
    Handle h = nullptr;
    if (handle_for(dev, h, error) != 0) return A4J_ERR_CUDA;
    const int compute = (flags & A4J_GEMM_TF32) ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F;
    // Column-major view: Cᵀ (N×M) = op(B)ᵀ (N×K) · op(A)ᵀ (K×M).
    const int s = api().gemm(h, trans_b ? OP_T : OP_N, trans_a ? OP_T : OP_N, (int)N, (int)M, (int)K, &alpha,
                             B, R_32F, (int)ldb, (long long)stride_b, A, R_32F, (int)lda, (long long)stride_a,
                             &beta, C, R_32F, (int)ldc, (long long)stride_c, (int)batch, compute, GEMM_DEFAULT);
    if (s != STATUS_SUCCESS) {
        error = "cublasGemmStridedBatchedEx (M=" + std::to_string(M) + " N=" + std::to_string(N) +
                " K=" + std::to_string(K) + " batch=" + std::to_string(batch) + ") failed: " + status_text(s);
        return A4J_ERR_CUDA;
    }
    return 0;
}

}  // namespace a4j_cublas
