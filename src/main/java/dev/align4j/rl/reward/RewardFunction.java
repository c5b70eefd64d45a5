package dev.align4j.rl.reward;

import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * A reward of sampled completions, TRL's {@code reward_funcs} entry: one score per sample. A batch goes in at once,
 * so that a learned reward model can score it in one forward ({@link ModelReward}); functions of one sample at a
 * time implement {@link PerSampleReward} (or come from {@link #perSample}). {@link CombinedReward} weighs several
 * and checks what they return: null, a wrong count, NaN or ±∞ stop the evaluation with the function's name and the
 * sample.
 */
public interface RewardFunction {
    /** The function's name, unique in a {@link CombinedReward}: the metrics are {@code rewards/<name>/mean}. */
    String name();

    /** One score per sample, in order; finite. May throw: the error stops the evaluation, naming this function. */
    float[] score(List<RewardSample> samples);

    /**
     * True when {@link #score} may run on several threads at once on disjoint parts of a batch — which also means
     * the score of a sample depends on that sample alone, not on the rest of its batch. {@link CombinedReward}
     * then splits the batch over its pool; otherwise it calls {@code score} once with the whole batch on the
     * calling thread (the thread that drives the models and their device: a reward model must stay there).
     * Default false.
     */
    default boolean threadSafe() {
        return false;
    }

    /**
     * A thread-safe function of one sample at a time: {@code name} and {@code f}, which must be safe to call from
     * several threads at once (a pure function of its sample).
     */
    static PerSampleReward perSample(String name, ToDoubleFunction<RewardSample> f) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("name must not be null or blank");
        if (f == null) throw new IllegalArgumentException("f must not be null (reward '" + name + "')");
        return new PerSampleReward() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public double score(RewardSample sample) {
                return f.applyAsDouble(sample);
            }

            @Override
            public String toString() {
                return name;
            }
        };
    }
}
