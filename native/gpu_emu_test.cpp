// gpu_emu_test.cpp — the emulated GPU's own tests (run by GpuEmulatorTest): hand-written kernels whose
// results on a GPU are fixed by CUDA's documentation, and kernels with deliberate bugs that the emulator must
// report or expose. Usage: gpu_emu_test CASE; prints what it found and exits 0 when the case holds.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "portability.h"  // with A4J_EMULATED_GPU: the emulated GPU

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++failures;
}

std::string take_error() {
    char buf[2048];
    return a4j_emu::take_error(buf, sizeof buf) ? std::string(buf) : std::string();
}

// The error of the launches just made, printed into the case's log.
std::string reported() {
    const std::string e = take_error();
    std::printf("  message: %s\n", e.c_str());
    return e;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// ---- warp shuffles: CUDA Programming Guide, "Warp Shuffle Functions"

__global__ void shuffle_kernel(int* out) {
    const int t = threadIdx.x, lane = t & 31;
    int* o = out + t * 8;
    o[0] = __shfl_sync(0xffffffffu, lane * 10, 3);            // broadcast of lane 3
    o[1] = __shfl_up_sync(0xffffffffu, lane * 10, 2);         // lanes 0, 1 keep their own
    o[2] = __shfl_down_sync(0xffffffffu, lane * 10, 5);       // lanes 27..31 keep their own
    o[3] = __shfl_xor_sync(0xffffffffu, lane * 10, 1);        // butterfly: pairs swap
    o[4] = __shfl_sync(0xffffffffu, lane * 10, 35, 8);        // width 8: lane (35 mod 8) = 3 of each group of 8
    o[5] = __shfl_down_sync(0xffffffffu, lane * 10, 2, 8);    // within groups of 8
    o[6] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
    o[7] = __shfl_xor_sync(0xffffffffu, lane * 10, 8, 8);     // width 8, xor 8: an earlier group is read, a later not
}

void shuffles() {
    const int n = 64;
    std::vector<int> out(n * 8, -1);
    A4J_LAUNCH(shuffle_kernel, 1, n, 0, out.data());
    expect(take_error().empty(), "shuffles: no error");
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l)
        if (l % 3 == 0) ballot |= 1u << l;
    bool ok = true;
    for (int t = 0; t < n; ++t) {
        const int l = t & 31, *o = &out[t * 8];
        const int want[8] = {30, l >= 2 ? (l - 2) * 10 : l * 10, l + 5 < 32 ? (l + 5) * 10 : l * 10, (l ^ 1) * 10,
                             ((l & ~7) + 3) * 10, (l & 7) + 2 < 8 ? (l + 2) * 10 : l * 10, (int)ballot, (l & 8) ? (l ^ 8) * 10 : l * 10};
        for (int k = 0; k < 8; ++k)
            if (o[k] != want[k]) {
                if (ok) std::printf("  thread %d result %d: %d, want %d\n", t, k, o[k], want[k]);
                ok = false;
            }
    }
    expect(ok, "shuffles: __shfl_sync, _up, _down, _xor (widths 32 and 8) and __ballot_sync as documented");
}

// block_sum and block_max (portability.h) at every block size they accept: 32..1024 in warps.
__global__ void reduce_kernel(const float* x, float* sum, float* max) {
    const float v = x[threadIdx.x];
    const float s = block_sum(v);
    const float m = block_max(v);
    if (threadIdx.x == blockDim.x - 1) {  // the result reaches every thread, not only thread 0
        sum[blockIdx.x] = s;
        max[blockIdx.x] = m;
    }
}

void reductions() {
    bool ok = true;
    for (int n = 32; n <= 1024; n += 32) {
        std::vector<float> x(n);
        for (int i = 0; i < n; ++i) x[i] = (float)((i * 37) % 101) - 50.0f;
        float sum[2], max[2];
        A4J_LAUNCH(reduce_kernel, 2, n, 0, x.data(), sum, max);
        double want_sum = 0;
        float want_max = -INFINITY;
        for (float v : x) want_sum += v, want_max = v > want_max ? v : want_max;
        if (!take_error().empty() || sum[1] != (float)want_sum || max[1] != want_max) {
            std::printf("  blockDim %d: sum %g (want %g), max %g (want %g)\n", n, sum[1], want_sum, max[1], want_max);
            ok = false;
        }
    }
    expect(ok, "block_sum and block_max at blockDim 32, 64, ..., 1024");
}

// ---- deliberate bugs

__global__ void diverged_barrier_kernel(float* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}

__global__ void early_exit_kernel(float* out) {
    if (threadIdx.x == 5) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

void divergence() {
    float out[64];
    A4J_LAUNCH(diverged_barrier_kernel, 3, 64, 0, out);
    std::string e = reported();
    expect(contains(e, "diverged_barrier_kernel") && contains(e, "block ") && contains(e, "barrier divergence") &&
               contains(e, "threads 0-15") && contains(e, "threads 16-63") && contains(e, "gpu_emu_test.cpp:"),
           "barrier divergence names the kernel, the block, the threads and both barriers");
    A4J_LAUNCH(early_exit_kernel, 1, 64, 0, out);
    e = reported();
    expect(contains(e, "early_exit_kernel, block 0") && contains(e, "thread 5 exited") &&
               contains(e, "threads 0-4, 6-63 wait at __syncthreads"),
           "a thread that exits while the others wait at a barrier is named");
}

__global__ void own_lane_outside_mask_kernel(float* out) {
    out[threadIdx.x] = __shfl_sync(0x1u, 1.0f, 0);  // only lane 0 is in the mask, but every lane calls
}

__global__ void read_outside_mask_kernel(float* out) {
    if (threadIdx.x < 16) out[threadIdx.x] = __shfl_down_sync(0x0000ffffu, 1.0f, 1);  // lane 15 reads lane 16
}

__global__ void shuffle_while_barrier_kernel(float* out) {
    if (threadIdx.x == 0) __syncthreads();
    else out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

__global__ void partial_warp_kernel(float* out) { out[threadIdx.x] = block_sum(1.0f); }

void warp_errors() {
    float out[64];
    A4J_LAUNCH(own_lane_outside_mask_kernel, 1, 32, 0, out);
    std::string e = reported();
    expect(contains(e, "thread 1 calls __shfl_sync") && contains(e, "does not include its own lane"),
           "a lane outside its own mask is reported");
    A4J_LAUNCH(read_outside_mask_kernel, 1, 32, 0, out);
    e = reported();
    expect(contains(e, "thread 15 reads lane 16") && contains(e, "outside the mask"),
           "reading a lane outside the mask is reported");
    A4J_LAUNCH(shuffle_while_barrier_kernel, 1, 32, 0, out);
    e = reported();
    expect(contains(e, "warp divergence") && contains(e, "__syncthreads"),
           "a shuffle waiting for a lane that waits at a barrier is reported");
    A4J_LAUNCH(partial_warp_kernel, 1, 48, 0, out);
    e = reported();
    expect(contains(e, "lanes that do not exist") && contains(e, "blockDim.x = 48"),
           "block_sum with blockDim.x not a multiple of 32 is reported");
    A4J_LAUNCH(partial_warp_kernel, 1, 2048, 0, out);
    e = take_error();
    expect(contains(e, "blockDim.x = 2048 is outside 1..1024"), "a block of 2048 threads is refused: " + e);
}

// Thread 0 publishes a value in shared memory, then every thread reads it: with the barrier, all read 42;
// without it, threads scheduled before thread 0 read the stale value. Two launches (stale = 7, then 42).
__global__ void publish_kernel(float value, int with_barrier, float* out) {
    __shared__ float box;
    if (threadIdx.x == 0) box = value;
    if (with_barrier) __syncthreads();
    out[threadIdx.x] = box;
}

void races() {
    const int n = 64;
    float out[n];
    int wrong = 0;
    for (auto s : {a4j_emu::Schedule::Reverse, a4j_emu::Schedule::Shuffle}) {
        a4j_emu::set_schedule(s);
        for (int with_barrier = 1; with_barrier >= 0; --with_barrier) {
            A4J_LAUNCH(publish_kernel, 1, n, 0, 7.0f, 1, out);  // leaves 7 in the box
            A4J_LAUNCH(publish_kernel, 1, n, 0, 42.0f, with_barrier, out);
            expect(take_error().empty(), "race: no error");
            wrong = 0;
            for (int t = 0; t < n; ++t) wrong += out[t] != 42.0f;
            const char* name = s == a4j_emu::Schedule::Reverse ? "reverse" : "shuffle";
            if (with_barrier)
                expect(wrong == 0, std::string(name) + ": with __syncthreads every thread reads the published value");
            else
                expect(wrong > 0, std::string(name) + ": without it " + std::to_string(wrong) +
                                      " of 64 threads read the stale value (the race shows)");
        }
    }
    a4j_emu::set_schedule(a4j_emu::Schedule::Forward);
}

// Not a test: the emulator's cost per scheduling point, for the README (gpu_emu_test speed).
__global__ void three_sums_kernel(const float* x, int64_t C, float* out) {
    const float* r = x + blockIdx.x * C;
    float a = 0.0f;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) a += r[j];
    const float s1 = block_sum(a), s2 = block_sum(a * 2.0f), s3 = block_max(a);
    if (threadIdx.x == 0) out[blockIdx.x] = s1 + s2 + s3;
}

void speed() {
    const int64_t rows = 2048, C = 256, threads = 256;
    std::vector<float> x(rows * C, 1.0f), out(rows);
    const auto t0 = std::chrono::steady_clock::now();
    A4J_LAUNCH(three_sums_kernel, rows, threads, 0, x.data(), C, out.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // per thread: 3 block reductions of 3 barriers and 5 (warp 0: 10) shuffles each, plus its start and end
    const double points = (double)rows * threads * (3 * (3 + 5) + 2) + (double)rows * 32 * 3 * 5;
    expect(take_error().empty() && out[0] == 256.0f * 4, "speed: results");
    std::printf("  %lld blocks x %lld threads: %.3f s, %.1f ns per scheduling point (%.2e points)\n", (long long)rows,
                (long long)threads, s, s * 1e9 / points, points);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string which = argc > 1 ? argv[1] : "all";
    bool ran = false;
    struct Case {
        const char* name;
        void (*run)();
    } cases[] = {{"shuffles", shuffles}, {"reductions", reductions}, {"divergence", divergence},
                 {"warp_errors", warp_errors}, {"races", races}, {"speed", speed}};
    for (const Case& c : cases)
        if ((which == "all" && c.run != speed) || which == c.name) {
            std::printf("== %s\n", c.name);
            c.run();
            ran = true;
        }
    if (!ran) {
        std::fprintf(stderr, "gpu_emu_test: unknown case %s\n", which.c_str());
        return 2;
    }
    return failures == 0 ? 0 : 1;
}
