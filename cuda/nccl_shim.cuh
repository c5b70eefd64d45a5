// nccl_shim.cuh — NCCL for the CUDA backend (cuda_backend.cu only; the emulated GPU has none), loaded at run time from
// the user's CUDA installation (libnccl.so.2), like MPI and cuBLAS: the backend neither links nor needs NCCL's headers,
// and a machine without NCCL only loses the GPU all-reduce (Collectives then goes through the host). One communicator
// per process (one GPU per rank), created from the ncclUniqueId that rank 0 makes and MPI broadcasts. The values below
// are NCCL 2's ABI: ncclUniqueId is 128 bytes, ncclFloat32 = 7, ncclFloat64 = 8, ncclSum = 0, ncclSuccess = 0.
#pragma once
#include <dlfcn.h>
#include <cuda_runtime.h>
#include <cstring>
#include <mutex>
#include <string>
#include "dl_symbols.h"

namespace a4j_nccl {

struct UniqueId {
    char internal[128];
};
using Comm = void*;
constexpr int FLOAT32 = 7, FLOAT64 = 8, SUM = 0;

struct Api {
    void* lib = nullptr;
    int (*get_unique_id)(UniqueId*) = nullptr;
    int (*comm_init_rank)(Comm*, int, UniqueId, int) = nullptr;
    int (*all_reduce)(const void*, void*, size_t, int, int, Comm, cudaStream_t) = nullptr;
    int (*comm_destroy)(Comm) = nullptr;
    const char* (*error_string)(int) = nullptr;
    int (*get_version)(int*) = nullptr;
    Comm comm = nullptr;
    int device = -1;
};

inline Api& api() {
    static Api a;
    return a;
}

inline std::mutex& api_mutex() {
    static std::mutex m;
    return m;
}

inline std::string error_text(int rc) {
    const char* s = api().error_string != nullptr ? api().error_string(rc) : nullptr;
    return s != nullptr ? std::string(s) : "NCCL error " + std::to_string(rc);
}

// Loads NCCL from path; "" when loaded, else why not.
inline std::string load(const char* path) {
    std::lock_guard<std::mutex> lock(api_mutex());
    Api& a = api();
    if (a.lib != nullptr) return "";
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        const char* e = dlerror();
        return std::string("cannot load ") + path + ": " + (e ? e : "unknown error");
    }
    std::string missing;
    a4j::resolve_symbol(h, "ncclGetUniqueId", a.get_unique_id, missing);
    a4j::resolve_symbol(h, "ncclCommInitRank", a.comm_init_rank, missing);
    a4j::resolve_symbol(h, "ncclAllReduce", a.all_reduce, missing);
    a4j::resolve_symbol(h, "ncclCommDestroy", a.comm_destroy, missing);
    a4j::resolve_symbol(h, "ncclGetErrorString", a.error_string, missing);
    a4j::resolve_symbol(h, "ncclGetVersion", a.get_version, missing);
    if (!missing.empty()) {
        dlclose(h);
        a = Api();
        return std::string(path) + " is not NCCL 2 (missing " + missing + ")";
    }
    a.lib = h;
    return "";
}

}  // namespace a4j_nccl
