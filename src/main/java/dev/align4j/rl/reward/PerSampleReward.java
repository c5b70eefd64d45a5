package dev.align4j.rl.reward;

import java.util.List;

/**
 * A reward of one sample at a time, thread-safe by default ({@link #threadSafe}): {@link CombinedReward} scores its
 * samples on a pool, and an error names the very sample that caused it.
 */
public interface PerSampleReward extends RewardFunction {
    /** The sample's score; finite. */
    double score(RewardSample sample);

    /** {@link #score(RewardSample)} of each sample, in order. */
    @Override
    default float[] score(List<RewardSample> samples) {
        float[] out = new float[samples.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) score(samples.get(i));
        return out;
    }

    /** True: a function of one sample must be safe to call on several threads (override when it is not). */
    @Override
    default boolean threadSafe() {
        return true;
    }
}
