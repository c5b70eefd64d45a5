package dev.align4j.train;

import dev.align4j.config.Knob;

import dev.align4j.kernels.AdamW;

/**
 * Optimizer settings shared by the post-training trainers: AdamW (decoupled weight decay on 2-D weights only),
 * global-norm gradient clipping ({@code gradClip <= 0} disables it), and a warmup + cosine schedule from
 * {@code lr} to {@code minLr} over the trainer's steps ({@link LrSchedule}).
 */
public record OptimConfig(@Knob(doc = "peak learning rate", label = "RATE") double lr,
                          @Knob(doc = "final rate of the cosine schedule (with --lr alone: the default ratio to it)", label = "RATE",
                                  ratioTo = "lr") double minLr,
                          @Knob(name = "warmup", doc = "linear warmup steps") long warmupSteps,
                          @Knob(doc = "AdamW weight decay (2-D weights only)") double weightDecay,
                          @Knob(name = "adam-beta1", doc = "AdamW beta1") double beta1,
                          @Knob(name = "adam-beta2", doc = "AdamW beta2") double beta2,
                          @Knob(name = "adam-eps", doc = "AdamW epsilon") double eps,
                          @Knob(name = "clip", doc = "global gradient-norm clip (<= 0: off)", label = "NORM") double gradClip) {
    public OptimConfig {
        if (!(lr > 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr must be > 0 and finite, got " + lr);
        if (!(minLr >= 0) || minLr > lr) throw new IllegalArgumentException("minLr must be in [0, lr], got " + minLr);
        if (warmupSteps < 0) throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
        if (Double.isNaN(gradClip)) throw new IllegalArgumentException("gradClip must not be NaN");
        new AdamW.Config((float) lr, (float) beta1, (float) beta2, (float) eps, (float) weightDecay); // validates
    }

    /** A constant rate {@code lr} after {@code warmup} steps, weight decay 0, betas (0.9, 0.999), clip 1.0. */
    public static OptimConfig constant(double lr, long warmup) {
        return new OptimConfig(lr, lr, warmup, 0.0, 0.9, 0.999, 1e-8, 1.0);
    }

    /** Warmup then cosine to {@code minLr}, weight decay 0.1, betas (0.9, 0.95), clip 1.0. */
    public static OptimConfig cosine(double lr, double minLr, long warmup) {
        return new OptimConfig(lr, minLr, warmup, 0.1, 0.9, 0.95, 1e-8, 1.0);
    }

    public LrSchedule schedule(long totalSteps) {
        return new LrSchedule(lr, minLr, Math.min(warmupSteps, totalSteps), totalSteps);
    }

    public AdamW.Config adamW(double rate) {
        return new AdamW.Config((float) rate, (float) beta1, (float) beta2, (float) eps, (float) weightDecay);
    }

    public OptimConfig withLr(double newLr, double newMinLr) {
        return new OptimConfig(newLr, newMinLr, warmupSteps, weightDecay, beta1, beta2, eps, gradClip);
    }

    public OptimConfig withGradClip(double clip) {
        return new OptimConfig(lr, minLr, warmupSteps, weightDecay, beta1, beta2, eps, clip);
    }

    public OptimConfig withWeightDecay(double wd) {
        return new OptimConfig(lr, minLr, warmupSteps, wd, beta1, beta2, eps, gradClip);
    }
}
