package dev.align4j.train;

import dev.align4j.config.Knob;

/**
 * Settings of {@link SftTrainer}. {@link #defaults()}:
 * <pre>
 *   schedule: steps 300, evalEvery 100 (eval loss and token accuracy on the held-out examples), checkpointEvery 0
 *             (only at the end), seed 1234 (data order)
 *   optim:    lr 1e-3 → 1e-4 cosine, warmup 20, weight decay 0.1, betas (0.9, 0.95), clip 1.0
 *   batchSize 16, gradAccum 1
 *   allTokens false     (loss on response tokens only; true: on every token after the first, prompts included)
 * </pre>
 */
public record SftConfig(Schedule schedule, OptimConfig optim,
                        @Knob(name = "batch", doc = "examples per micro-batch") int batchSize,
                        @Knob(name = "accum", doc = "micro-batches per step (gradient accumulation)") int gradAccum,
                        @Knob(doc = "loss on every token, prompts included (false: on the responses only)") boolean allTokens)
        implements TrainerConfig<SftConfig> {
    public SftConfig {
        if (schedule == null || optim == null) throw new IllegalArgumentException("schedule and optim must not be null");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (gradAccum < 1) throw new IllegalArgumentException("gradAccum must be >= 1, got " + gradAccum);
    }

    public static SftConfig defaults() {
        return new SftConfig(new Schedule(300, 100, 0, 1234), OptimConfig.cosine(1e-3, 1e-4, 20), 16, 1, false);
    }

    @Override
    public SftConfig withSchedule(Schedule s) {
        return new SftConfig(s, optim, batchSize, gradAccum, allTokens);
    }

    @Override
    public SftConfig withOptim(OptimConfig o) {
        return new SftConfig(schedule, o, batchSize, gradAccum, allTokens);
    }

    public SftConfig withBatch(int b, int accum) {
        return new SftConfig(schedule, optim, b, accum, allTokens);
    }

    public SftConfig withAllTokens(boolean all) {
        return new SftConfig(schedule, optim, batchSize, gradAccum, all);
    }
}
