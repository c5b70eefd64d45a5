package dev.align4j.train;

/**
 * Settings of {@link SftTrainer}. {@link #defaults()}:
 * <pre>
 *   steps 300, batchSize 16, gradAccum 1
 *   optim: lr 1e-3 → 1e-4 cosine, warmup 20, weight decay 0.1, betas (0.9, 0.95), clip 1.0
 *   allTokens false     (loss on response tokens only; true: on every token after the first, prompts included)
 *   evalEvery 100       (eval loss and token accuracy on the held-out examples; 0 disables)
 *   checkpointEvery 0   (0: only at the end)
 *   seed 1234           (data order)
 * </pre>
 */
public record SftConfig(long steps, int batchSize, int gradAccum, OptimConfig optim, boolean allTokens, long evalEvery,
                        long checkpointEvery, long seed) {
    public SftConfig {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (gradAccum < 1) throw new IllegalArgumentException("gradAccum must be >= 1, got " + gradAccum);
        if (optim == null) throw new IllegalArgumentException("optim must not be null");
        if (evalEvery < 0) throw new IllegalArgumentException("evalEvery must be >= 0, got " + evalEvery);
        if (checkpointEvery < 0) throw new IllegalArgumentException("checkpointEvery must be >= 0, got " + checkpointEvery);
    }

    public static SftConfig defaults() {
        return new SftConfig(300, 16, 1, OptimConfig.cosine(1e-3, 1e-4, 20), false, 100, 0, 1234);
    }

    public SftConfig withSteps(long s) {
        return new SftConfig(s, batchSize, gradAccum, optim, allTokens, evalEvery, checkpointEvery, seed);
    }

    public SftConfig withBatch(int b, int accum) {
        return new SftConfig(steps, b, accum, optim, allTokens, evalEvery, checkpointEvery, seed);
    }

    public SftConfig withOptim(OptimConfig o) {
        return new SftConfig(steps, batchSize, gradAccum, o, allTokens, evalEvery, checkpointEvery, seed);
    }

    public SftConfig withAllTokens(boolean all) {
        return new SftConfig(steps, batchSize, gradAccum, optim, all, evalEvery, checkpointEvery, seed);
    }

    public SftConfig withSchedule(long evalEvery, long checkpointEvery) {
        return new SftConfig(steps, batchSize, gradAccum, optim, allTokens, evalEvery, checkpointEvery, seed);
    }

    public SftConfig withSeed(long s) {
        return new SftConfig(steps, batchSize, gradAccum, optim, allTokens, evalEvery, checkpointEvery, s);
    }
}
