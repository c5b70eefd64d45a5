package dev.align4j.cli;

import dev.align4j.train.OptimConfig;
import dev.align4j.train.Schedule;
import picocli.CommandLine.Option;

/**
 * The training knobs every trainer has (a mixin). Unset options keep the trainer's defaults (its config record's
 * {@code defaults()}, listed in each command's help); {@code --lr} without {@code --min-lr} keeps the default ratio
 * of the two.
 */
public final class TrainOptions {
    @Option(names = "--steps", paramLabel = "N", description = "optimizer steps")
    Long steps;

    @Option(names = "--batch", paramLabel = "N", description = "examples (pairs, prompts) per step or micro-batch")
    Integer batch;

    @Option(names = "--lr", paramLabel = "RATE", description = "peak learning rate")
    Double lr;

    @Option(names = "--min-lr", paramLabel = "RATE", description = "final rate of the cosine schedule")
    Double minLr;

    @Option(names = "--warmup", paramLabel = "STEPS", description = "linear warmup steps")
    Long warmup;

    @Option(names = "--weight-decay", paramLabel = "W", description = "AdamW weight decay (2-D weights only)")
    Double weightDecay;

    @Option(names = "--clip", paramLabel = "NORM", description = "global gradient-norm clip (<= 0: off)")
    Double clip;

    @Option(names = "--eval-every", paramLabel = "STEPS", description = "steps between evaluations (0: never)")
    Long evalEvery;

    @Option(names = "--checkpoint-every", paramLabel = "STEPS", description = "steps between checkpoints (0: only at the end)")
    Long checkpointEvery;

    long steps(long d) {
        return steps != null ? steps : d;
    }

    int batch(int d) {
        return batch != null ? batch : d;
    }

    long evalEvery(long d) {
        return evalEvery != null ? evalEvery : d;
    }

    long checkpointEvery(long d) {
        return checkpointEvery != null ? checkpointEvery : d;
    }

    double lr(double d) {
        return lr != null ? lr : d;
    }

    /** {@code --min-lr}, else the default's ratio to the default rate applied to {@code --lr}. */
    double minLr(double defaultLr, double defaultMinLr) {
        if (minLr != null) return minLr;
        return lr != null ? lr * (defaultMinLr / defaultLr) : defaultMinLr;
    }

    long warmup(long d) {
        return warmup != null ? warmup : d;
    }

    double weightDecay(double d) {
        return weightDecay != null ? weightDecay : d;
    }

    double clip(double d) {
        return clip != null ? clip : d;
    }

    /** {@code d} with the schedule options given and {@code seed}. */
    Schedule schedule(Schedule d, long seed) {
        return new Schedule(steps(d.steps()), evalEvery(d.evalEvery()), checkpointEvery(d.checkpointEvery()), seed);
    }

    /** {@code d} with the optimizer options given. */
    OptimConfig optim(OptimConfig d) {
        return new OptimConfig(lr(d.lr()), minLr(d.lr(), d.minLr()), warmup(d.warmupSteps()), weightDecay(d.weightDecay()),
                d.beta1(), d.beta2(), d.eps(), clip(d.gradClip()));
    }
}
