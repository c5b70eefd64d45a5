package dev.align4j.train;

/**
 * The learning rate as a pure function of the step (0-based: the step about to be taken), as nanoGPT and
 * llm.c schedule it:
 * <pre>
 *   step &lt; warmup:           lr = maxLr · (step + 1) / warmup                      (linear warmup, never 0)
 *   warmup ≤ step &lt; total:    r = (step − warmup) / (total − warmup)
 *                             lr = minLr + ½(1 + cos(π r)) · (maxLr − minLr)        (cosine decay)
 *   step ≥ total:             lr = minLr
 * </pre>
 * Defaults ({@link #of(double, long, long)}): {@code minLr = maxLr / 10} (nanoGPT's 6e-4 → 6e-5).
 * Computed in double so a schedule can be reproduced exactly from its four numbers.
 */
public record LrSchedule(double maxLr, double minLr, long warmupSteps, long totalSteps) {
    /** {@code minLr} of {@link #of(double, long, long)}: a tenth of the peak. */
    public static final double DEFAULT_MIN_LR_FRACTION = 0.1;

    public LrSchedule {
        if (!(maxLr >= 0) || Double.isInfinite(maxLr)) throw new IllegalArgumentException("maxLr must be finite and >= 0, got " + maxLr);
        if (!(minLr >= 0) || minLr > maxLr) throw new IllegalArgumentException("minLr must be in [0, maxLr = " + maxLr + "], got " + minLr);
        if (warmupSteps < 0) throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
        if (totalSteps < warmupSteps) throw new IllegalArgumentException("totalSteps (" + totalSteps + ") must be >= warmupSteps (" + warmupSteps + ")");
    }

    /** Warmup then cosine to {@code maxLr / 10}. */
    public static LrSchedule of(double maxLr, long warmupSteps, long totalSteps) {
        return new LrSchedule(maxLr, maxLr * DEFAULT_MIN_LR_FRACTION, warmupSteps, totalSteps);
    }

    /** The rate of 0-based step {@code step}. */
    public double lr(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        if (step < warmupSteps) return maxLr * (step + 1) / warmupSteps;
        if (step >= totalSteps) return minLr;
        double r = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
        return minLr + 0.5 * (1.0 + Math.cos(Math.PI * r)) * (maxLr - minLr);
    }
}
