// gpu_emu.cpp — the emulated GPU's runtime (see gpu_emu.h): blocks on OpenMP workers, threads as fibers,
// barriers and warp ops as scheduling points, and the messages for the ways a block can go wrong.
//
// A fiber is a stack and a saved stack pointer; a4j_emu_switch (x86-64 System V, below) pushes the callee-saved
// registers on the current stack, stores its stack pointer and loads the other's. That is all a cooperative
// switch between kernel threads needs: the SSE and x87 control words are not saved, as no kernel changes the
// rounding mode. ucontext's swapcontext also saves the signal mask with a system call each time, which would
// cost more than most kernels' arithmetic.
#include "gpu_emu.h"

#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#if !defined(__x86_64__)
#error "the emulated GPU's fiber switch is written for x86-64"
#endif

extern "C" {
void a4j_emu_switch(void** save_sp, void* load_sp);
void a4j_emu_entry();
}

asm(R"(
    .text
    .globl a4j_emu_switch
    .type a4j_emu_switch, @function
a4j_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size a4j_emu_switch, .-a4j_emu_switch

    .globl a4j_emu_entry
    .type a4j_emu_entry, @function
a4j_emu_entry:
    movq %rbx, %rdi
    andq $-16, %rsp
    call a4j_emu_fiber_main
    ud2
    .size a4j_emu_entry, .-a4j_emu_entry
    .section .note.GNU-stack,"",@progbits
    .text
)");

namespace a4j_emu {

A4J_EMU_TLS const dim3* t_thread_idx = nullptr;
A4J_EMU_TLS dim3 t_block_idx{0, 0, 0}, t_block_dim{1, 1, 1}, t_grid_dim{1, 1, 1};

namespace {

constexpr int MAX_THREADS = 1024;  // CUDA's limit on threads per block
constexpr size_t STACK_BYTES = 128 << 10;
constexpr int MAX_WORKERS = 4;

enum class State { Runnable, AtBarrier, AtWarp, Done };

struct Worker;

struct Thread {
    dim3 idx;
    Worker* worker = nullptr;
    void* sp = nullptr;
    State state = State::Runnable;
    const char* file = "";  // where it waits
    int line = 0;
    WarpOp op = WarpOp::Sync;
    unsigned mask = 0;
    uint64_t value = 0;
    int arg = 0, width = 32;
    uint64_t result = 0;
};

// One per OS worker thread: the fibers of the block it is running.
struct Worker {
    Thread threads[MAX_THREADS];
    char* stacks = nullptr;  // MAX_THREADS stacks, each below a guard page, mapped on first use
    size_t stride = 0;
    void* sched_sp = nullptr;
    void (*body)(void*) = nullptr;
    void* ctx = nullptr;
    std::vector<int> ids;  // scratch of run_block

    ~Worker() {
        if (stacks != nullptr) munmap(stacks, stride * MAX_THREADS);
    }
};

std::atomic<int> g_schedule{-1};  // Schedule, or -1 before the first launch reads A4J_EMU_SCHEDULE
thread_local std::string t_error;  // the pending error of launches made by this thread

thread_local Worker t_worker;  // ~100 KB of fiber state per worker thread; the stacks are mapped on first use
A4J_EMU_TLS Thread* t_current = nullptr;  // the fiber running on this worker thread

bool map_stacks(Worker& w) {
    if (w.stacks != nullptr) return true;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    w.stride = STACK_BYTES + page;
    void* p = mmap(nullptr, w.stride * MAX_THREADS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) return false;
    w.stacks = static_cast<char*>(p);
    // A guard page under each stack: an overflow faults instead of corrupting the neighbouring fiber.
    for (int t = 0; t < MAX_THREADS; ++t) mprotect(w.stacks + t * w.stride, page, PROT_NONE);
    return true;
}

// A fresh stack that a4j_emu_switch "returns" into a4j_emu_entry from, with the Thread in rbx.
void* initial_sp(Worker& w, int t, Thread* th) {
    // Stacks are a multiple of 4 KiB apart, so their tops would share L1 sets: offset each by a few cache lines.
    char* top = w.stacks + (size_t)(t + 1) * w.stride - (size_t)(t % 64) * 64;
    auto* s = reinterpret_cast<uint64_t*>(((uintptr_t)top & ~(uintptr_t)15) - 16);
    s[1] = 0;                                            // above the return address: nothing to return to
    s[0] = (uint64_t)(uintptr_t)&a4j_emu_entry;          // popped by ret
    s -= 6;                                              // rbp rbx r12 r13 r14 r15, popped in reverse order
    for (int i = 0; i < 6; ++i) s[i] = 0;
    s[4] = (uint64_t)(uintptr_t)th;                      // rbx
    return s;
}

const char* base_name(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash != nullptr ? slash + 1 : path;
}

std::string where(const Thread& t) { return std::string(base_name(t.file)) + ":" + std::to_string(t.line); }

// "thread 5", "threads 0-31, 40, 64-95"
std::string ranges(const std::vector<int>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size();) {
        size_t j = i;
        while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
        if (!s.empty()) s += ", ";
        s += std::to_string(ids[i]);
        if (j > i) s += "-" + std::to_string(ids[j]);
        i = j + 1;
    }
    return (ids.size() == 1 ? "thread " : "threads ") + s;
}

const char* op_name(WarpOp op) {
    switch (op) {
        case WarpOp::Idx: return "__shfl_sync";
        case WarpOp::Up: return "__shfl_up_sync";
        case WarpOp::Down: return "__shfl_down_sync";
        case WarpOp::Xor: return "__shfl_xor_sync";
        case WarpOp::Ballot: return "__ballot_sync";
        case WarpOp::Any: return "__any_sync";
        case WarpOp::All: return "__all_sync";
        default: return "__syncwarp";
    }
}

Schedule schedule() {
    int s = g_schedule.load();
    if (s < 0) {
        const char* env = std::getenv("A4J_EMU_SCHEDULE");
        s = env == nullptr || std::strcmp(env, "shuffle") == 0 ? (int)Schedule::Shuffle
            : std::strcmp(env, "reverse") == 0                 ? (int)Schedule::Reverse
                                                               : (int)Schedule::Forward;
        g_schedule.store(s);
    }
    return (Schedule)s;
}

// The order of the runnable threads for one phase. Shuffle: a permutation fixed by (block, phase), so a run
// is reproducible whatever the worker threads do.
void order(std::vector<int>& ids, uint64_t block, uint64_t phase) {
    const Schedule s = schedule();
    if (s == Schedule::Reverse) {
        for (size_t i = 0, j = ids.size(); i + 1 < j; ++i, --j) std::swap(ids[i], ids[j - 1]);
    } else if (s == Schedule::Shuffle) {
        uint64_t x = (block + 1) * 0x9E3779B97F4A7C15ull ^ (phase + 1) * 0xBF58476D1CE4E5B9ull;
        for (size_t i = ids.size(); i > 1; --i) {
            x ^= x >> 31;
            x *= 0x94D049BB133111EBull;
            x ^= x >> 29;
            std::swap(ids[i - 1], ids[(size_t)((x >> 32) * i >> 32)]);  // in [0, i) without a division
        }
    }
}

std::string hex(unsigned v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
}

enum class Warp { Released, Waiting, Failed };

// Completes the warp op that thread t waits at, if every lane of its mask waits at the same op with the same
// mask: fills in the results and makes them runnable. Waiting: some lane has not arrived yet. Failed (error
// set): it never can, or the op is invalid. Messages are built only on failure: this is the emulator's hot path.
Warp complete_warp_op(Worker& w, int n, int t, std::string& error) {
    const Thread& me = w.threads[t];
    const int warp0 = t & ~31, lane = t & 31;
    const int lanes = n - warp0 < 32 ? n - warp0 : 32;
    const unsigned mask = me.mask;
    auto at = [&] { return std::string(op_name(me.op)) + " (" + where(me) + ")"; };
    auto fail = [&](const std::string& msg) {
        error = msg;
        return Warp::Failed;
    };
    if ((mask >> lane & 1u) == 0)
        return fail("thread " + std::to_string(t) + " calls " + at() + " with a mask that does not include its own lane");
    if (lanes < 32 && (mask >> lanes) != 0)
        return fail("thread " + std::to_string(t) + " calls " + at() + " with mask " + hex(mask) +
                    ", which names lanes that do not exist (blockDim.x = " + std::to_string(n) + ")");
    const int width = me.width;
    if (me.op <= WarpOp::Xor && (width < 1 || width > 32 || (width & (width - 1)) != 0))
        return fail("thread " + std::to_string(t) + " calls " + at() + " with width " + std::to_string(width) +
                    " (a power of 2 up to 32)");
    uint32_t ballot = 0;
    for (int l = 0; l < lanes; ++l) {
        if ((mask >> l & 1u) == 0) continue;
        const Thread& o = w.threads[warp0 + l];
        if (o.state == State::Runnable) return Warp::Waiting;
        if (o.state == State::AtWarp && o.op == me.op && o.mask == mask) {
            if (o.value != 0) ballot |= 1u << l;
            continue;
        }
        // A lane that exited, waits at a barrier (which needs this lane too) or at another op never arrives.
        const std::string other = o.state == State::Done        ? "has exited"
                                  : o.state == State::AtBarrier ? "waits at __syncthreads (" + where(o) + ")"
                                                                : "waits at " + std::string(op_name(o.op)) + " (" +
                                                                      where(o) + ") with mask " + hex(o.mask);
        return fail("warp divergence: thread " + std::to_string(t) + " waits at " + at() + " with mask " + hex(mask) +
                    " for lane " + std::to_string(l) + " (thread " + std::to_string(warp0 + l) + "), which " + other);
    }
    for (int l = 0; l < lanes; ++l) {
        if ((mask >> l & 1u) == 0) continue;
        Thread& o = w.threads[warp0 + l];
        const int seg = l & ~(width - 1), off = l & (width - 1);
        int src = l;
        switch (me.op) {
            case WarpOp::Idx: src = seg + (o.arg & (width - 1)); break;
            case WarpOp::Up: src = off - o.arg >= 0 ? l - o.arg : l; break;
            case WarpOp::Down: src = off + o.arg < width ? l + o.arg : l; break;
            case WarpOp::Xor: src = (l ^ o.arg) < seg + width ? (l ^ o.arg) : l; break;
            default: break;
        }
        if (src != l && (src >= lanes || (mask >> src & 1u) == 0))
            return fail("thread " + std::to_string(warp0 + l) + " reads lane " + std::to_string(src) + " in " + at() +
                        ", which is outside the mask (undefined on a GPU)");
        switch (me.op) {
            case WarpOp::Ballot: o.result = ballot; break;
            case WarpOp::Any: o.result = ballot != 0; break;
            case WarpOp::All: o.result = ballot == mask; break;
            case WarpOp::Sync: o.result = 0; break;
            default: o.result = w.threads[warp0 + src].value; break;
        }
    }
    for (int l = 0; l < lanes; ++l)
        if ((mask >> l & 1u) != 0) w.threads[warp0 + l].state = State::Runnable;
    return Warp::Released;
}

// Why a block whose threads all wait cannot go on (no warp op could complete).
std::string stuck(Worker& w, int n) {
    std::vector<int> done, barrier, warp;
    for (int t = 0; t < n; ++t) {
        const State s = w.threads[t].state;
        (s == State::Done ? done : s == State::AtBarrier ? barrier : warp).push_back(t);
    }
    if (!warp.empty()) {
        const Thread& t = w.threads[warp[0]];
        return "deadlock: " + ranges(warp) + " wait at warp ops (thread " + std::to_string(warp[0]) + " at " +
               op_name(t.op) + ", " + where(t) + ")" +
               (barrier.empty() ? "" : " while " + ranges(barrier) + " wait at __syncthreads");
    }
    if (!done.empty())
        return "barrier divergence: " + ranges(done) + " exited while " + ranges(barrier) + " wait at __syncthreads (" +
               where(w.threads[barrier[0]]) + ")";
    const Thread& a = w.threads[barrier[0]];
    std::vector<int> here, there;
    const Thread* b = nullptr;
    for (int u : barrier) {
        const Thread& o = w.threads[u];
        const bool same = o.line == a.line && std::strcmp(o.file, a.file) == 0;
        (same ? here : there).push_back(u);
        if (!same && b == nullptr) b = &o;
    }
    return "barrier divergence: " + ranges(here) + " wait at __syncthreads (" + where(a) + "), " + ranges(there) +
           " at another (" + where(*b) + ")";
}

// Runs every thread of the current block to the end. "" or what went wrong.
std::string run_block(Worker& w, int n, uint64_t block, std::vector<int>& ids) {
    for (int t = 0; t < n; ++t) {
        Thread& th = w.threads[t];
        th = Thread();
        th.idx = dim3{(unsigned)t, 0u, 0u};
        th.worker = &w;
        th.sp = initial_sp(w, t, &th);
    }
    for (uint64_t phase = 0;; ++phase) {
        ids.clear();
        for (int t = 0; t < n; ++t)
            if (w.threads[t].state == State::Runnable) ids.push_back(t);
        order(ids, block, phase);
        for (int t : ids) {
            Thread& th = w.threads[t];
            t_current = &th;
            t_thread_idx = &th.idx;
            a4j_emu_switch(&w.sched_sp, th.sp);
        }
        t_current = nullptr;
        t_thread_idx = nullptr;
        int done = 0, warp = 0;
        for (int t = 0; t < n; ++t) {
            done += w.threads[t].state == State::Done;
            warp += w.threads[t].state == State::AtWarp;
        }
        if (done == n) return "";
        if (warp > 0) {
            bool released = false;
            std::string error;
            for (int t = 0; t < n; ++t) {
                if (w.threads[t].state != State::AtWarp) continue;  // or completed with an earlier lane of its group
                const Warp r = complete_warp_op(w, n, t, error);
                if (r == Warp::Failed) return error;
                released |= r == Warp::Released;
            }
            if (released) continue;
            return stuck(w, n);
        }
        // Every thread waits at a barrier or has exited: a barrier all wait at, at one place, releases them.
        const Thread& first = w.threads[0];
        for (int t = 0; t < n; ++t) {
            const Thread& o = w.threads[t];
            if (o.state != State::AtBarrier || o.line != first.line || std::strcmp(o.file, first.file) != 0)
                return stuck(w, n);
        }
        for (int t = 0; t < n; ++t) w.threads[t].state = State::Runnable;
    }
}

// Suspends the current fiber in `state` until the scheduler resumes it.
void suspend(State state, const char* file, int line) {
    Thread* th = t_current;
    th->state = state;
    th->file = file;
    th->line = line;
    a4j_emu_switch(&th->sp, th->worker->sched_sp);
}

}  // namespace

void set_schedule(Schedule s) { g_schedule.store((int)s); }

bool take_error(char* buf, size_t n) {
    if (t_error.empty()) return false;
    std::snprintf(buf, n, "%s", t_error.c_str());
    t_error.clear();
    return true;
}

void launch(const char* kernel, long long grid, long long block, void (*body)(void*), void* ctx) {
    if (!t_error.empty()) return;  // like CUDA's sticky errors: a launcher stops at its first failed launch
    const std::string name = std::string("emulated GPU: ") + kernel;
    if (block < 1 || block > MAX_THREADS) {
        t_error = name + ": blockDim.x = " + std::to_string(block) + " is outside 1..1024";
        return;
    }
    if (grid < 0 || grid > 2147483647LL) {
        t_error = name + ": gridDim.x = " + std::to_string(grid) + " is outside 0..2^31-1";
        return;
    }
    std::mutex mutex;
    std::string first;
    std::atomic<bool> failed{false};
    const dim3 grid_dim{(unsigned)grid, 1u, 1u};
    // At most MAX_WORKERS workers: each maps 1024 stacks with guard pages (2048 mappings), and a many-core
    // machine must not run the JVM out of vm.max_map_count for a test tool.
    const int workers = omp_get_max_threads() < MAX_WORKERS ? omp_get_max_threads() : MAX_WORKERS;
    #pragma omp parallel for schedule(dynamic, 1) if (grid > 1) num_threads(workers)
    for (long long b = 0; b < grid; ++b) {
        if (failed.load(std::memory_order_relaxed)) continue;
        Worker& w = t_worker;
        std::string error;
        if (!map_stacks(w)) {
            error = "cannot map the fibers' stacks";
        } else {
            w.body = body;
            w.ctx = ctx;
            t_block_idx = dim3{(unsigned)b, 0u, 0u};
            t_block_dim = dim3{(unsigned)block, 1u, 1u};
            t_grid_dim = grid_dim;
            error = run_block(w, (int)block, (uint64_t)b, w.ids);
        }
        if (!error.empty()) {
            std::lock_guard<std::mutex> lock(mutex);
            if (!failed.exchange(true)) first = name + ", block " + std::to_string(b) + ": " + error;
        }
    }
    if (failed.load()) t_error = first;
}

void syncthreads(const char* file, int line) {
    if (t_current == nullptr) {
        std::fprintf(stderr, "align4j emulated GPU: __syncthreads outside a kernel (%s:%d)\n", file, line);
        std::abort();
    }
    suspend(State::AtBarrier, file, line);
}

uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line) {
    Thread* th = t_current;
    if (th == nullptr) {
        std::fprintf(stderr, "align4j emulated GPU: %s outside a kernel (%s:%d)\n", op_name(op), file, line);
        std::abort();
    }
    th->op = op;
    th->mask = mask;
    th->value = value;
    th->arg = arg;
    th->width = width;
    suspend(State::AtWarp, file, line);
    return th->result;
}

}  // namespace a4j_emu

// The first code a fiber runs (from a4j_emu_entry): the kernel body, then back to the scheduler for good.
extern "C" __attribute__((noinline, used)) void a4j_emu_fiber_main(void* fiber) {
    auto* th = static_cast<a4j_emu::Thread*>(fiber);
    a4j_emu::Worker& w = *th->worker;
    w.body(w.ctx);
    th->state = a4j_emu::State::Done;
    a4j_emu_switch(&th->sp, w.sched_sp);
    std::abort();  // a finished fiber is never resumed
}
