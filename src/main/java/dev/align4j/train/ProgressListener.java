package dev.align4j.train;

import java.util.Map;

/**
 * Told after every training step of a trainer ({@link PostTrainer#withProgress}, {@link LmTrainer#withProgress}):
 * the 1-based step, the run's total steps, and the step's metrics line as written to {@code metrics.jsonl}
 * (keys such as {@code loss}, {@code tokens}, {@code time_s}). Called on the training thread; keep it cheap.
 */
@FunctionalInterface
public interface ProgressListener {
    void onStep(long step, long totalSteps, Map<String, Object> metrics);

    /** Ignores every step. */
    ProgressListener NONE = (step, total, metrics) -> {};
}
