package dev.align4j.train;

import dev.align4j.kernels.AdamW;

/**
 * Hyper-parameters of {@link LmTrainer}. {@link #defaults()} (a tiny byte-level model on one CPU or GPU):
 * <pre>
 *   steps 2000, batchSize 16, seqLen 128, gradAccum 1            (tokens per step: batchSize·seqLen·gradAccum)
 *   lr 1e-3 → minLr 1e-4, warmup 100 steps, cosine decay        ({@link LrSchedule})
 *   weightDecay 0.1, beta1 0.9, beta2 0.95, eps 1e-8            (GPT-2 / llm.c AdamW, decay on 2-D weights only)
 *   gradClip 1.0                                                 (global norm; &lt;= 0 disables clipping)
 *   evalEvery 100, evalBatches 10                                (validation loss; 0 disables)
 *   checkpointEvery 500                                          (0: only at the end)
 *   seed 1337                                                    (model init and data draws)
 * </pre>
 */
public record LmTrainConfig(long steps, int batchSize, int seqLen, int gradAccum, double lr, double minLr,
                            long warmupSteps, double weightDecay, double beta1, double beta2, double eps,
                            double gradClip, long evalEvery, int evalBatches, long checkpointEvery, long seed) {
    public LmTrainConfig {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (seqLen < 1) throw new IllegalArgumentException("seqLen must be >= 1, got " + seqLen);
        if (gradAccum < 1) throw new IllegalArgumentException("gradAccum must be >= 1, got " + gradAccum);
        if (evalEvery < 0 || evalBatches < 0) throw new IllegalArgumentException("evalEvery and evalBatches must be >= 0");
        if (checkpointEvery < 0) throw new IllegalArgumentException("checkpointEvery must be >= 0, got " + checkpointEvery);
        if (Double.isNaN(gradClip)) throw new IllegalArgumentException("gradClip must not be NaN");
        schedule(steps, lr, minLr, warmupSteps); // validates the rates
        adamW(lr, weightDecay, beta1, beta2, eps);
    }

    public static LmTrainConfig defaults() {
        return new LmTrainConfig(2000, 16, 128, 1, 1e-3, 1e-4, 100, 0.1, 0.9, 0.95, 1e-8, 1.0, 100, 10, 500, 1337);
    }

    public LrSchedule schedule() {
        return schedule(steps, lr, minLr, warmupSteps);
    }

    private static LrSchedule schedule(long steps, double lr, double minLr, long warmup) {
        return new LrSchedule(lr, minLr, Math.min(warmup, steps), steps);
    }

    /** AdamW's settings at rate {@code lr}. */
    public AdamW.Config adamW(double lr) {
        return adamW(lr, weightDecay, beta1, beta2, eps);
    }

    private static AdamW.Config adamW(double lr, double wd, double b1, double b2, double eps) {
        return new AdamW.Config((float) lr, (float) b1, (float) b2, (float) eps, (float) wd);
    }

    public LmTrainConfig withSteps(long steps) {
        return new LmTrainConfig(steps, batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps,
                gradClip, evalEvery, evalBatches, checkpointEvery, seed);
    }

    public LmTrainConfig withBatch(int batchSize, int seqLen, int gradAccum) {
        return new LmTrainConfig(steps, batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps,
                gradClip, evalEvery, evalBatches, checkpointEvery, seed);
    }

    public LmTrainConfig withLr(double lr, double minLr, long warmupSteps) {
        return new LmTrainConfig(steps, batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps,
                gradClip, evalEvery, evalBatches, checkpointEvery, seed);
    }

    public LmTrainConfig withOptimizer(double weightDecay, double beta1, double beta2, double gradClip) {
        return new LmTrainConfig(steps, batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps,
                gradClip, evalEvery, evalBatches, checkpointEvery, seed);
    }

    public LmTrainConfig withEval(long evalEvery, int evalBatches) {
        return new LmTrainConfig(steps, batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps,
                gradClip, evalEvery, evalBatches, checkpointEvery, seed);
    }

    public LmTrainConfig withCheckpointEvery(long checkpointEvery) {
        return new LmTrainConfig(steps, batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps,
                gradClip, evalEvery, evalBatches, checkpointEvery, seed);
    }

    public LmTrainConfig withSeed(long seed) {
        return new LmTrainConfig(steps, batchSize, seqLen, gradAccum, lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps,
                gradClip, evalEvery, evalBatches, checkpointEvery, seed);
    }
}
