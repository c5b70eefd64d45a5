package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * GRPO's group-relative advantages, as TRL's {@code GRPOTrainer} computes them. The rewards {@code [N]} hold
 * {@code N / g} groups of {@code g} consecutive samples (the completions of one prompt); with each group's mean and
 * unbiased standard deviation (torch.std's, divisor g − 1; 0 when g = 1) and the whole batch's:
 * <pre>
 *   NONE  (Dr. GRPO):  A = r − mean_group
 *   GROUP (default):   A = (r − mean_group) / (std_group + eps)
 *   BATCH:             A = (r − mean_group) / (std_batch + eps)
 * </pre>
 * eps must be finite and &gt; 0 (unused by NONE); TRL's is 1e-4 ({@link #DEFAULT_EPS}). Each group's mean, std and whether its std is zero (TRL's
 * {@code isclose(std, 0)}: std &lt;= 1e-8) come back as tensors {@code [N / g]}, so that a trainer can drop groups
 * whose rewards are all equal (DAPO's dynamic sampling); the flags are 1/0 floats, usable as a row weight. Means and
 * stds are computed in double, so equal rewards give a std of exactly 0. The stats are TRL's metrics:
 * {@code reward} (batch mean), {@code reward_std} and {@code frac_reward_zero_std} — the mean over groups of the
 * group std and of the zero flags, except with {@link Scale#BATCH}, where TRL takes both from the batch std — and
 * the batch std itself. Rewards must be finite; a NaN or infinite reward is refused naming its row.
 *
 * <pre>{@code
 * try (Scope scope = new Scope()) {
 *     GroupAdvantage.Result r = GroupAdvantage.compute(scope, rewards, 8, GroupAdvantage.Scale.GROUP, GroupAdvantage.DEFAULT_EPS);
 *     // r.advantages() [N] feeds PolicyLoss as per-sequence advantages; r.groupZeroStd() marks groups to drop
 * }
 * }</pre>
 */
public final class GroupAdvantage {
    private GroupAdvantage() {}

    /** TRL's constant in {@code (std + 1e-4)}. */
    public static final float DEFAULT_EPS = 1e-4f;

    /** TRL's {@code scale_rewards}: what the group-centred rewards are divided by. */
    public enum Scale {
        /** Nothing (Dr. GRPO): r − mean_group. */
        NONE,
        /** The group's std + eps. */
        GROUP,
        /** The whole batch's std + eps. */
        BATCH;

        /** The native ADV_SCALE_* constant of the same name. */
        final int code = NativeConstants.code("ADV_SCALE", this);
    }

    /**
     * Scalars read back to the host, under TRL's names: {@code reward} (mean of all rewards), {@code rewardStd}
     * (reward_std), {@code fracRewardZeroStd} (frac_reward_zero_std), and {@code batchStd} (the unbiased std of all
     * rewards, 0 for fewer than two).
     */
    public record Stats(float reward, float rewardStd, float fracRewardZeroStd, float batchStd) {}

    /** The outputs, in the caller's scope: advantages {@code [N]}, and per group {@code [N / g]}. */
    public record Result(Tensor advantages, Tensor groupMean, Tensor groupStd, Tensor groupZeroStd, Stats stats)
            implements AutoCloseable {
        @Override
        public void close() {
            advantages.close();
            groupMean.close();
            groupStd.close();
            groupZeroStd.close();
        }
    }

    /** Host-array result of {@link #compute(float[], int, Scale, float)}. */
    public record HostResult(float[] advantages, float[] groupMean, float[] groupStd, boolean[] groupZeroStd,
                             Stats stats) {}

    /** Into new tensors of {@code scope}. */
    public static Result compute(Scope scope, Tensor rewards, int g, Scale scale, float eps) {
        Device device = Args.open("rewards", rewards);
        long groups = checkRewards(rewards, g);
        return Args.withOutputs(scope, device, new long[][] {rewards.shape(), {groups}, {groups}, {groups}},
                out -> new Result(out[0], out[1], out[2], out[3], compute(rewards, g, scale, eps, out[0], out[1], out[2], out[3])));
    }

    /**
     * Into caller-provided F32 tensors: {@code advantages [N]} (may be {@code rewards}: in place), {@code groupMean},
     * {@code groupStd}, {@code groupZeroStd} {@code [N / g]}.
     */
    public static Stats compute(Tensor rewards, int g, Scale scale, float eps, Tensor advantages, Tensor groupMean,
                                Tensor groupStd, Tensor groupZeroStd) {
        String[] names = {"rewards", "advantages", "groupMean", "groupStd", "groupZeroStd"};
        Tensor[] tensors = {rewards, advantages, groupMean, groupStd, groupZeroStd};
        for (int i = 0; i < tensors.length; i++) Args.open(names[i], tensors[i]);
        Device device = Args.sameDevice(names, tensors);
        long groups = checkRewards(rewards, g);
        if (scale == null) throw new IllegalArgumentException("scale must not be null");
        Args.positive("eps", eps);  // > 0: a group of equal rewards gives 0 / eps = 0, not 0 / 0
        Args.f32("advantages", advantages, false, rewards.shape());
        for (int i = 2; i < tensors.length; i++) {
            Args.f32(names[i], tensors[i], false, groups);
            for (int j = 0; j < i; j++)
                if (tensors[i] == tensors[j]) throw new IllegalArgumentException(names[i] + " must not be " + names[j]);
        }
        Args.finiteValues("rewards", rewards);
        float[] s;
        try (Scope tmp = new Scope()) {
            Tensor work = tmp.empty(device, DType.F64, (groups + 1) * NativeConstants.GROUP_ADVANTAGE_ROW);
            Tensor stats = tmp.empty(device, DType.F32, NativeConstants.GROUP_ADVANTAGE_STATS);
            NativeKernels.groupAdvantage(device, rewards, groups, g, scale.code, eps, advantages, groupMean, groupStd,
                    groupZeroStd, work, stats);
            s = stats.toFloatArray();
        }
        return new Stats(s[0], s[1], s[2], s[3]);
    }

    /** Convenience on Java arrays (CPU). */
    public static HostResult compute(float[] rewards, int g, Scale scale, float eps) {
        if (rewards == null) throw new IllegalArgumentException("rewards must not be null");
        try (Scope s = new Scope()) {
            Result r = compute(s, s.of(Device.cpu(), rewards, rewards.length), g, scale, eps);
            float[] zero = r.groupZeroStd().toFloatArray();
            boolean[] flags = new boolean[zero.length];
            for (int i = 0; i < zero.length; i++) flags[i] = zero[i] != 0;
            return new HostResult(r.advantages().toFloatArray(), r.groupMean().toFloatArray(),
                    r.groupStd().toFloatArray(), flags, r.stats());
        }
    }

    /** F32 rank-1 rewards whose length is a multiple of g >= 1; returns the number of groups. */
    private static long checkRewards(Tensor rewards, int g) {
        Args.dtype("rewards", rewards, DType.F32);
        if (rewards.rank() != 1)
            throw new IllegalArgumentException("rewards must have shape [N], got rank " + rewards.rank() + " (" + rewards.describe() + ")");
        if (g < 1) throw new IllegalArgumentException("g (num_generations) must be >= 1, got " + g);
        long n = rewards.dim(0);
        if (n % g != 0)
            throw new IllegalArgumentException("rewards has " + n + " rows, not a multiple of g = " + g
                    + " (each group's g samples are consecutive rows)");
        return n / g;
    }
}
