// gpu_emu.h — the emulated-GPU build: the kernels of cuda/*.cuh compiled by the host compiler with GPU
// semantics, so that their device-only code (block reductions, warp shuffles, shared memory, strided loops
// with blockDim > 1, the __CUDA_ARCH__ branches) executes in CI on machines without a GPU.
//   * A launch runs its grid's blocks in an OpenMP loop, each block to completion on one worker thread.
//   * A block's threads are fibers (native/gpu_emu.cpp) with the blockDim the CUDA backend launches: they
//     run one at a time, switching only at __syncthreads and at warp intrinsics, in a shuffled order per
//     phase (A4J_EMU_SCHEDULE), so a missing barrier shows as a wrong result.
//   * __shared__ is a function-static thread_local: one copy per worker thread, i.e. per running block.
//   * __syncthreads() is a real barrier. A thread that exits, or waits at another barrier, while others wait
//     fails the launch with a message naming the kernel, block and threads; so does a deadlocked warp op.
//   * Warp intrinsics act per 32 lanes with CUDA's mask and width rules; reading a lane outside the mask
//     (undefined on a GPU) is an error here.
// Prior art: HIP-CPU runs HIP kernels on fibers in the same way but is not packaged for Debian, needs TBB,
// and compiles barriers in only with its own launch syntax; CuPBoP and PoCL instead split kernels at
// barriers in the compiler (LLVM passes), which g++ cannot do. A fiber per thread keeps this a header and
// one .cpp with no dependency.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace a4j_emu {

struct dim3 {
    unsigned x, y, z;
};

// The index of the fiber running now on this worker, and the geometry of its block (set by the scheduler).
// __thread, not thread_local: an extern C++ thread_local costs a call per use (its initialisation guard). Not the
// initial-exec model either: a library loaded with dlopen that has any would need its whole TLS (the workers'
// state) in the static TLS block, which is too small for it; -mtls-dialect=gnu2 (build.sh) makes the dynamic
// accesses cheap instead.
#define A4J_EMU_TLS __thread
extern A4J_EMU_TLS const dim3* t_thread_idx;
extern A4J_EMU_TLS dim3 t_block_idx, t_block_dim, t_grid_dim;

// Runs body() as the grid's blocks with `block` threads each; on a bad geometry or a failed block, records the
// error (see take_error) and returns. `kernel` names it in messages.
void launch(const char* kernel, long long grid, long long block, void (*body)(void*), void* ctx);

// The pending launch error ("" when none), cleared by the call.
bool take_error(char* buf, size_t n);

// Barrier and warp ops, from inside a kernel.
void syncthreads(const char* file, int line);
enum class WarpOp : int { Idx, Up, Down, Xor, Ballot, Any, All, Sync };
uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line);

// For the emulator's own tests: the order in which a block's runnable threads are resumed after each barrier.
enum class Schedule : int { Forward, Reverse, Shuffle };
void set_schedule(Schedule s);

template <typename T> uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "warp shuffle of a type over 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <typename T> T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

// The launch macro's adapter: a lambda called through a plain function pointer.
template <typename F> void call_body(void* f) { (*static_cast<F*>(f))(); }

}  // namespace a4j_emu

#define __global__ static
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local
#define threadIdx (*::a4j_emu::t_thread_idx)
#define blockIdx (::a4j_emu::t_block_idx)
#define blockDim (::a4j_emu::t_block_dim)
#define gridDim (::a4j_emu::t_grid_dim)
#define warpSize 32
#define __syncthreads() ::a4j_emu::syncthreads(__FILE__, __LINE__)

#define A4J_EMU_SHFL(name, op)                                                                            \
    template <typename T>                                                                                 \
    T name(unsigned mask, T v, int arg, int width = 32, const char* file = __builtin_FILE(),               \
           int line = __builtin_LINE()) {                                                                 \
        return ::a4j_emu::from_bits<T>(                                                                   \
            ::a4j_emu::warp_op(::a4j_emu::WarpOp::op, mask, ::a4j_emu::to_bits(v), arg, width, file, line)); \
    }
A4J_EMU_SHFL(__shfl_sync, Idx)
A4J_EMU_SHFL(__shfl_up_sync, Up)
A4J_EMU_SHFL(__shfl_down_sync, Down)
A4J_EMU_SHFL(__shfl_xor_sync, Xor)
#undef A4J_EMU_SHFL
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (unsigned)::a4j_emu::warp_op(::a4j_emu::WarpOp::Ballot, mask, pred != 0, 0, 32, file, line);
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (int)::a4j_emu::warp_op(::a4j_emu::WarpOp::Any, mask, pred != 0, 0, 32, file, line);
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return (int)::a4j_emu::warp_op(::a4j_emu::WarpOp::All, mask, pred != 0, 0, 32, file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    ::a4j_emu::warp_op(::a4j_emu::WarpOp::Sync, mask, 0, 0, 32, file, line);
}

// Device atomics (those the kernels use): blocks run in parallel on the worker threads, so these are real atomics.
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
    unsigned long long old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return old;
}

// `work` only matters to the CPU backend's choice of threads.
#define A4J_LAUNCH(kernel, grid, block, work, ...)                                               \
    do {                                                                                         \
        auto a4j_body_ = [&]() { kernel(__VA_ARGS__); };                                         \
        ::a4j_emu::launch(#kernel, (long long)(grid), (long long)(block),                       \
                          &::a4j_emu::call_body<decltype(a4j_body_)>, &a4j_body_);              \
    } while (0)
