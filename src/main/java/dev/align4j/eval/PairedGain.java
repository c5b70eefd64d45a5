package dev.align4j.eval;

import java.util.List;

/**
 * The mean of per-task score differences between two policies on the same tasks, with its standard error:
 * {@code d_i = a_i − b_i}, {@code gain = mean(d)}, {@code se = sd(d) / √n} (sd with n − 1). Pairing removes the
 * tasks' own difficulty from the noise, so the error is that of the difference, not of either accuracy.
 *
 * @param n    tasks
 * @param gain mean(a − b)
 * @param se   standard error of the gain; NaN when n < 2
 */
public record PairedGain(int n, double gain, double se) {
    /** The paired gain of per-task scores {@code a} over {@code b} (same tasks, same order; not empty). */
    public static PairedGain of(List<Double> a, List<Double> b) {
        if (a == null || b == null) throw new IllegalArgumentException("a and b must not be null");
        if (a.size() != b.size()) throw new IllegalArgumentException("a and b must have the same length, got " + a.size() + " and " + b.size());
        if (a.isEmpty()) throw new IllegalArgumentException("a and b must not be empty");
        int n = a.size();
        double sum = 0;
        for (int i = 0; i < n; i++) sum += a.get(i) - b.get(i);
        double mean = sum / n, ss = 0;
        for (int i = 0; i < n; i++) {
            double d = a.get(i) - b.get(i) - mean;
            ss += d * d;
        }
        return new PairedGain(n, mean, n < 2 ? Double.NaN : Math.sqrt(ss / (n - 1) / n));
    }

    @Override
    public String toString() {
        return String.format("%+.3f ± %.3f", gain, se);
    }
}
