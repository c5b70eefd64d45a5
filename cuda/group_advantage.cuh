// group_advantage.cuh — GRPO's group-relative advantages (TRL's GRPOTrainer: scale_rewards none, group or batch).
//   in : rewards [N] (N = groups·G; each group's G samples consecutive; finite), scale (A4J_ADV_SCALE_*), eps
//   out: advantages [N] = r − mean_group (NONE, Dr. GRPO), divided by std_group + eps (GROUP) or by std_batch + eps
//        (BATCH); group_mean, group_std [groups]; group_zero_std [groups] = 1 where std_group <= 1e-8 (TRL's
//        isclose(std, 0): atol 1e-8), else 0;
//        stats[A4J_GROUP_ADVANTAGE_STATS] = reward (the batch mean), reward_std and frac_reward_zero_std as TRL logs
//        them (NONE, GROUP: the mean over groups of std_group and of group_zero_std; BATCH: std_batch, and
//        [std_batch <= 1e-8], because TRL then tests the batch std), std_batch.
//   work: (groups + 1)·A4J_GROUP_ADVANTAGE_ROW doubles: each group's mean and std, then the batch's.
// std is torch.std's: unbiased (Bessel, n − 1), and 0 for a single sample (TRL's guard for G = 1; torch would give
// NaN). All means and stds are computed in double and each output rounded once to float, so equal rewards give
// a std of exactly 0 (TRL, in float, may get ~1e-9, hence its isclose). advantages may be rewards: each element is
// read before the same thread writes it, in the last launch.
// Floor: reads N·4 bytes, writes N·4 + 12·groups; the kernels read the rewards three times (group pass, batch
// pass, apply), all tiny next to a policy loss over [N, T].
// One version, single source, three launches: a thread per group (mean, then squared deviations about it), one
// block for the batch (two passes) and the stats, then an elementwise apply over chunks.
#pragma once
#include "align4j.h"
#include "portability.h"

namespace a4j {

constexpr int GROUP_ADVANTAGE_THREADS = 256;
constexpr int64_t GROUP_ADVANTAGE_CHUNK = 4096;  // elements of the apply per block (16 per GPU thread)
constexpr int GROUP_ADVANTAGE_ROW = A4J_GROUP_ADVANTAGE_ROW;
static_assert(GROUP_ADVANTAGE_ROW == 2, "group_advantage work layout: mean, std");

// What TRL counts as a zero std: torch.isclose(std, 0) with its default atol.
constexpr double GROUP_ADVANTAGE_ZERO_STD = 1e-8;

// Block k owns groups [k·THREADS, (k+1)·THREADS): one per GPU thread, a loop on the host.
__global__ void group_advantage_group_kernel(const float* rewards, int64_t groups, int64_t G,
                                             float* A4J_RESTRICT group_mean, float* A4J_RESTRICT group_std,
                                             float* A4J_RESTRICT group_zero_std, double* A4J_RESTRICT work) {
    const int64_t start = (int64_t)blockIdx.x * GROUP_ADVANTAGE_THREADS;
    const int64_t end = groups - start < GROUP_ADVANTAGE_THREADS ? groups : start + GROUP_ADVANTAGE_THREADS;
    for (int64_t g = start + threadIdx.x; g < end; g += blockDim.x) {
        const float* r = rewards + g * G;
        double s = 0.0;
        for (int64_t j = 0; j < G; ++j) s += r[j];
        const double mean = s / (double)G;
        double ss = 0.0;
        for (int64_t j = 0; j < G; ++j) {
            const double dev = (double)r[j] - mean;
            ss += dev * dev;
        }
        const double sd = G > 1 ? sqrt(ss / (double)(G - 1)) : 0.0;
        work[GROUP_ADVANTAGE_ROW * g] = mean;
        work[GROUP_ADVANTAGE_ROW * g + 1] = sd;
        group_mean[g] = (float)mean;
        group_std[g] = (float)sd;
        group_zero_std[g] = sd <= GROUP_ADVANTAGE_ZERO_STD ? 1.0f : 0.0f;
    }
}

// One block: the batch's mean and std (two passes over the rewards) into work's last row, and the stats.
__global__ void group_advantage_batch_kernel(const float* rewards, int64_t groups, int64_t G, int32_t scale,
                                             double* A4J_RESTRICT work, float* A4J_RESTRICT stats) {
    const int64_t n = groups * G;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += rewards[i];
    s = block_sum(s);
    const double mean = n > 0 ? s / (double)n : 0.0;
    double ss = 0.0, s_std = 0.0, s_zero = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const double dev = (double)rewards[i] - mean;
        ss += dev * dev;
    }
    for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
        const double sd_g = work[GROUP_ADVANTAGE_ROW * g + 1];
        s_std += sd_g;
        s_zero += sd_g <= GROUP_ADVANTAGE_ZERO_STD ? 1.0 : 0.0;
    }
    ss = block_sum(ss);
    s_std = block_sum(s_std);
    s_zero = block_sum(s_zero);
    if (threadIdx.x == 0) {
        const double sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
        work[GROUP_ADVANTAGE_ROW * groups] = mean;
        work[GROUP_ADVANTAGE_ROW * groups + 1] = sd;
        const bool batch = scale == A4J_ADV_SCALE_BATCH;
        const double inv_groups = groups > 0 ? 1.0 / (double)groups : 0.0;
        const double zero_batch = n > 0 && sd <= GROUP_ADVANTAGE_ZERO_STD ? 1.0 : 0.0;
        stats[0] = (float)mean;
        stats[1] = (float)(batch ? sd : s_std * inv_groups);
        stats[2] = (float)(batch ? zero_batch : s_zero * inv_groups);
        stats[3] = (float)sd;
    }
}

// rewards and advantages may alias: no restrict on them.
__global__ void group_advantage_apply_kernel(const float* rewards, int64_t groups, int64_t G, int32_t scale, float eps,
                                             const double* A4J_RESTRICT work, float* advantages) {
    const int64_t n = groups * G;
    const int64_t start = (int64_t)blockIdx.x * GROUP_ADVANTAGE_CHUNK;
    const int64_t end = n - start < GROUP_ADVANTAGE_CHUNK ? n : start + GROUP_ADVANTAGE_CHUNK;
    const double std_batch = work[GROUP_ADVANTAGE_ROW * groups + 1];
    for (int64_t i = start + threadIdx.x; i < end; i += blockDim.x) {
        const double* w = work + GROUP_ADVANTAGE_ROW * (i / G);
        const double centred = (double)rewards[i] - w[0];
        const double denom = scale == A4J_ADV_SCALE_NONE    ? 1.0
                             : scale == A4J_ADV_SCALE_GROUP ? w[1] + (double)eps
                                                            : std_batch + (double)eps;
        advantages[i] = (float)(centred / denom);
    }
}

// groups >= 0, G >= 1, eps finite and > 0 (equal rewards give 0 / eps = 0) and scale an A4J_ADV_SCALE_*: checked by the Java layer.
inline int group_advantage(const float* rewards, int64_t groups, int64_t G, int32_t scale, float eps,
                           float* advantages, float* group_mean, float* group_std, float* group_zero_std, double* work,
                           float* stats) {
    if (groups < 0 || G < 1 || !(eps > 0.0f && eps < INFINITY) ||
        (scale != A4J_ADV_SCALE_NONE && scale != A4J_ADV_SCALE_GROUP && scale != A4J_ADV_SCALE_BATCH))
        return A4J_ERR_ARGUMENT;
    const int64_t n = groups * G;
    A4J_LAUNCH(group_advantage_group_kernel, (groups + GROUP_ADVANTAGE_THREADS - 1) / GROUP_ADVANTAGE_THREADS,
               GROUP_ADVANTAGE_THREADS, n, rewards, groups, G, group_mean, group_std, group_zero_std, work);
    A4J_LAUNCH(group_advantage_batch_kernel, 1, GROUP_ADVANTAGE_THREADS, n, rewards, groups, G, scale, work, stats);
    A4J_LAUNCH(group_advantage_apply_kernel, (n + GROUP_ADVANTAGE_CHUNK - 1) / GROUP_ADVANTAGE_CHUNK,
               GROUP_ADVANTAGE_THREADS, n, rewards, groups, G, scale, eps, work, advantages);
    return 0;
}

}  // namespace a4j
