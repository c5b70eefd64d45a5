package dev.align4j.reference;

/**
 * GRPO's group-relative advantages in double, written from TRL's formulas: per group of g consecutive rewards the
 * mean and the unbiased std (divisor g − 1; 0 when g = 1), the batch's likewise; A = r − mean_group, divided by
 * std_group + eps (scale 1) or std_batch + eps (scale 2), or not at all (scale 0). A std counts as zero when it is
 * at most 1e-8 (torch.isclose(std, 0)). reward_std and frac_reward_zero_std as TRL logs them: over the per-row
 * std that divides (the group's for scales 0 and 1, the batch's for 2), averaged over rows.
 */
public final class GroupAdvantageReference {
    private GroupAdvantageReference() {}

    public record Out(double[] advantages, double[] groupMean, double[] groupStd, boolean[] groupZeroStd, double reward,
                      double rewardStd, double fracRewardZeroStd, double batchStd) {}

    public static Out compute(float[] rewards, int g, int scale, double eps) {
        int n = rewards.length, groups = n / g;
        double[] mean = new double[groups], std = new double[groups];
        boolean[] zero = new boolean[groups];
        for (int k = 0; k < groups; k++) {
            double s = 0;
            for (int j = 0; j < g; j++) s += rewards[k * g + j];
            mean[k] = s / g;
            double ss = 0;
            for (int j = 0; j < g; j++) ss += sq(rewards[k * g + j] - mean[k]);
            std[k] = g > 1 ? Math.sqrt(ss / (g - 1)) : 0;
            zero[k] = std[k] <= 1e-8;
        }
        double s = 0;
        for (float r : rewards) s += r;
        double batchMean = n > 0 ? s / n : 0;
        double ss = 0;
        for (float r : rewards) ss += sq(r - batchMean);
        double batchStd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
        double[] adv = new double[n];
        double stdSum = 0, zeroSum = 0;
        for (int i = 0; i < n; i++) {
            int k = i / g;
            double rowStd = scale == 2 ? batchStd : std[k];  // TRL's std_rewards, repeated per row
            stdSum += rowStd;
            zeroSum += rowStd <= 1e-8 ? 1 : 0;
            double centred = rewards[i] - mean[k];
            adv[i] = scale == 0 ? centred : centred / (rowStd + eps);
        }
        return new Out(adv, mean, std, zero, batchMean, n > 0 ? stdSum / n : 0, n > 0 ? zeroSum / n : 0, batchStd);
    }

    private static double sq(double x) {
        return x * x;
    }
}
