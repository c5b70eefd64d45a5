package dev.align4j.train;

import dev.align4j.config.Knob;

/**
 * Hyper-parameters of {@link LmTrainer}. {@link #defaults()} (a tiny byte-level model on one CPU or GPU):
 * <pre>
 *   schedule: steps 2000, evalEvery 100 (validation loss; 0 disables), checkpointEvery 500 (0: only at the end),
 *             seed 1337 (model init and data draws)
 *   optim:    lr 1e-3 → minLr 1e-4, warmup 100 steps, cosine decay ({@link LrSchedule}); weight decay 0.1,
 *             betas (0.9, 0.95), eps 1e-8 (GPT-2 / llm.c AdamW, decay on 2-D weights only); clip 1.0 (global norm)
 *   batchSize 16, seqLen 128, gradAccum 1                        (tokens per step: batchSize·seqLen·gradAccum)
 *   evalBatches 10                                               (validation batches per evaluation)
 * </pre>
 */
public record LmTrainConfig(Schedule schedule, OptimConfig optim,
                            @Knob(name = "batch", doc = "sequences per micro-batch") int batchSize,
                            @Knob(name = "seq", doc = "tokens per sequence") int seqLen,
                            @Knob(name = "accum", doc = "micro-batches per step (gradient accumulation)") int gradAccum,
                            @Knob(doc = "validation batches per evaluation") int evalBatches)
        implements TrainerConfig<LmTrainConfig> {
    public LmTrainConfig {
        if (schedule == null || optim == null) throw new IllegalArgumentException("schedule and optim must not be null");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (seqLen < 1) throw new IllegalArgumentException("seqLen must be >= 1, got " + seqLen);
        if (gradAccum < 1) throw new IllegalArgumentException("gradAccum must be >= 1, got " + gradAccum);
        if (evalBatches < 0) throw new IllegalArgumentException("evalBatches must be >= 0, got " + evalBatches);
    }

    public static LmTrainConfig defaults() {
        return new LmTrainConfig(new Schedule(2000, 100, 500, 1337), OptimConfig.cosine(1e-3, 1e-4, 100), 16, 128, 1, 10);
    }

    @Override
    public LmTrainConfig withSchedule(Schedule s) {
        return new LmTrainConfig(s, optim, batchSize, seqLen, gradAccum, evalBatches);
    }

    @Override
    public LmTrainConfig withOptim(OptimConfig o) {
        return new LmTrainConfig(schedule, o, batchSize, seqLen, gradAccum, evalBatches);
    }

    public LmTrainConfig withBatch(int batchSize, int seqLen, int gradAccum) {
        return new LmTrainConfig(schedule, optim, batchSize, seqLen, gradAccum, evalBatches);
    }

    /** Evaluation every {@code evalEvery} steps on {@code evalBatches} validation batches. */
    public LmTrainConfig withEval(long evalEvery, int evalBatches) {
        return new LmTrainConfig(schedule.withCadence(evalEvery, schedule.checkpointEvery()), optim, batchSize, seqLen, gradAccum,
                evalBatches);
    }

    public LmTrainConfig withCheckpointEvery(long every) {
        return withSchedule(schedule.withCadence(schedule.evalEvery(), every));
    }

    public LmTrainConfig withLr(double lr, double minLr, long warmupSteps) {
        return withOptim(new OptimConfig(lr, minLr, warmupSteps, optim.weightDecay(), optim.beta1(), optim.beta2(), optim.eps(),
                optim.gradClip()));
    }
}
