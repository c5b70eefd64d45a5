package dev.align4j.rl.reward;

import dev.align4j.data.SequenceBatch;
import dev.align4j.model.RewardModel;
import dev.align4j.rl.PpoTrainer;
import java.util.ArrayList;
import java.util.List;

/**
 * A learned reward model as a {@link RewardFunction}: the score of {@code prompt ++ completion} (the completion's
 * EOS included, so the score is read at the EOS of a finished completion) through the same path as PPO's rollouts
 * — {@link SequenceBatch#ofResponses} then {@link PpoTrainer.RewardFunction#score}, i.e. {@link RewardModel#score}
 * or a {@link dev.align4j.rl.RewardScale} around it. The padding id is 0: padding follows the real tokens, so it
 * never changes a score. Not thread-safe: it runs on the caller's thread, which drives the model's device.
 */
public final class ModelReward implements RewardFunction, AutoCloseable {
    private final String name;
    private final PpoTrainer.RewardFunction scorer;
    private final AutoCloseable owned;
    private final int batchSize;

    /**
     * @param name      the function's name ("rm")
     * @param scorer    scores a batch of rows at their last token ({@code rm::score}, a {@code RewardScale})
     * @param owned     closed by {@link #close} (the model behind {@code scorer} when this function owns it), or null
     * @param batchSize rows per forward; 0: the whole batch in one forward
     */
    public ModelReward(String name, PpoTrainer.RewardFunction scorer, AutoCloseable owned, int batchSize) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("name must not be null or blank");
        if (scorer == null) throw new IllegalArgumentException("scorer must not be null");
        if (batchSize < 0) throw new IllegalArgumentException("batchSize must be >= 0 (0: one forward), got " + batchSize);
        this.name = name;
        this.scorer = scorer;
        this.owned = owned;
        this.batchSize = batchSize;
    }

    /** {@code rm}'s raw score, one forward per batch; {@code rm} stays the caller's. */
    public static ModelReward of(RewardModel rm) {
        return of(rm, 0);
    }

    /** {@code rm}'s raw score, {@code batchSize} rows per forward (0: all at once); {@code rm} stays the caller's. */
    public static ModelReward of(RewardModel rm, int batchSize) {
        if (rm == null) throw new IllegalArgumentException("rm must not be null");
        return new ModelReward("rm", rm::score, null, batchSize);
    }

    /** As {@link #of}, and {@link #close} closes {@code rm}. */
    public static ModelReward owning(RewardModel rm) {
        if (rm == null) throw new IllegalArgumentException("rm must not be null");
        return new ModelReward("rm", rm::score, rm, 0);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public float[] score(List<RewardSample> samples) {
        int n = samples.size();
        float[] out = new float[n];
        int step = batchSize == 0 ? Math.max(1, n) : batchSize;
        for (int from = 0; from < n; from += step) {
            int to = Math.min(n, from + step);
            List<int[]> p = new ArrayList<>(to - from), c = new ArrayList<>(to - from);
            for (int i = from; i < to; i++) {
                p.add(samples.get(i).promptIds());
                c.add(samples.get(i).completionIds());
            }
            float[] s = scorer.score(SequenceBatch.ofResponses(p, c, 0));
            if (s == null || s.length != to - from)
                throw new IllegalStateException("the scorer returned " + (s == null ? "null" : s.length + " scores") + " for "
                        + (to - from) + " rows");
            System.arraycopy(s, 0, out, from, to - from);
        }
        return out;
    }

    /** False: the model runs on the calling thread. */
    @Override
    public boolean threadSafe() {
        return false;
    }

    /** Closes the model when this function owns it. */
    @Override
    public void close() {
        if (owned == null) return;
        try {
            owned.close();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("closing reward function '" + name + "': " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
