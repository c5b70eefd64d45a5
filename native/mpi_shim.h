// mpi_shim.h — Open MPI's C API, loaded at run time (a4j_mpi_load) so that this library neither links against MPI nor
// needs its headers to build: a single process never touches MPI, and a machine without Open MPI builds and runs as
// before. Open MPI's handles are the addresses of its predefined objects (MPI_COMM_WORLD is &ompi_mpi_comm_world,
// MPI_FLOAT &ompi_mpi_float, ...) and MPI_IN_PLACE is (void*) 1: that is Open MPI's ABI (libmpi.so.40, Open MPI 3 to
// 5), not MPICH's, whose handles are integers; a4j_mpi_load refuses a library without those symbols. Open MPI's own
// Java bindings are gone upstream (6.0) and Debian ships no mpi.jar, hence this shim. Included by align4j.cpp.
#pragma once
#include <dlfcn.h>
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include "dl_symbols.h"

namespace a4j_mpi {

using Handle = void*;

struct Api {
    void* lib = nullptr;
    int (*initialized)(int*) = nullptr;
    int (*finalized)(int*) = nullptr;
    int (*init_thread)(int*, char***, int, int*) = nullptr;
    int (*finalize)() = nullptr;
    int (*comm_rank)(Handle, int*) = nullptr;
    int (*comm_size)(Handle, int*) = nullptr;
    int (*comm_set_errhandler)(Handle, Handle) = nullptr;
    int (*allreduce)(const void*, void*, int, Handle, Handle, Handle) = nullptr;
    int (*bcast)(void*, int, Handle, int, Handle) = nullptr;
    int (*barrier)(Handle) = nullptr;
    int (*abort)(Handle, int) = nullptr;
    int (*error_string)(int, char*, int*) = nullptr;
    Handle comm_world = nullptr, t_float = nullptr, t_double = nullptr, t_byte = nullptr, op_sum = nullptr,
           op_max = nullptr, errors_return = nullptr;
    int rank = 0, size = 1;
    bool owns_init = false;
};

inline Api& api() {
    static Api a;
    return a;
}

inline std::mutex& api_mutex() {
    static std::mutex m;
    return m;
}

// Open MPI's MPI_THREAD_SERIALIZED: any thread may call, one at a time (the Java side serialises its calls)
constexpr int THREAD_SERIALIZED = 2;
// A count is an int in MPI's C API: larger buffers go in pieces of this many elements
constexpr int64_t MAX_COUNT = int64_t(1) << 30;

inline std::string error_text(int rc) {
    char buf[512];
    int len = 0;
    if (api().error_string != nullptr && api().error_string(rc, buf, &len) == 0) return std::string(buf, len);
    return "MPI error " + std::to_string(rc);
}

}  // namespace a4j_mpi
