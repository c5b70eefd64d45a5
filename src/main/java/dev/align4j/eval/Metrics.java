package dev.align4j.eval;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Pure evaluation metrics (no model): distinct-n, expected calibration error, mean and standard deviation. */
public final class Metrics {
    private Metrics() {}

    /**
     * Distinct-n over token sequences: the number of distinct n-grams divided by the total number of n-grams,
     * pooled over all samples (an n-gram never spans two samples). In (0, 1]; NaN when the samples hold no n-gram
     * at all (every sample shorter than n), since 0/0 says nothing about diversity.
     */
    public static double distinctN(List<int[]> samples, int n) {
        if (samples == null) throw new IllegalArgumentException("samples must not be null");
        if (n < 1) throw new IllegalArgumentException("n must be >= 1, got " + n);
        Set<List<Integer>> seen = new HashSet<>();
        long total = 0;
        for (int s = 0; s < samples.size(); s++) {
            int[] x = samples.get(s);
            if (x == null) throw new IllegalArgumentException("samples[" + s + "] must not be null");
            for (int i = 0; i + n <= x.length; i++) {
                Integer[] g = new Integer[n];
                for (int j = 0; j < n; j++) g[j] = x[i + j];
                seen.add(Arrays.asList(g));
                total++;
            }
        }
        return total == 0 ? Double.NaN : (double) seen.size() / total;
    }

    /** {@link #distinctN} over whitespace-separated words of each text (Li et al., 2016). */
    public static double distinctNWords(List<String> samples, int n) {
        if (samples == null) throw new IllegalArgumentException("samples must not be null");
        // map each distinct word to an id, then reuse the token version
        java.util.Map<String, Integer> ids = new java.util.HashMap<>();
        java.util.List<int[]> seqs = new java.util.ArrayList<>(samples.size());
        for (int s = 0; s < samples.size(); s++) {
            String text = samples.get(s);
            if (text == null) throw new IllegalArgumentException("samples[" + s + "] must not be null");
            String t = text.strip();
            String[] words = t.isEmpty() ? new String[0] : t.split("\\s+");
            int[] seq = new int[words.length];
            for (int i = 0; i < words.length; i++) seq[i] = ids.computeIfAbsent(words[i], w -> ids.size());
            seqs.add(seq);
        }
        return distinctN(seqs, n);
    }

    /**
     * Expected calibration error with {@code bins} equal-width bins on [0, 1]: a confidence c falls in bin
     * {@code min(floor(c·bins), bins − 1)} (so 1.0 is in the last bin);
     * {@code ECE = Σ_b (n_b / N)·|accuracy_b − mean confidence_b|} over non-empty bins. In [0, 1].
     * Confidences must be finite and in [0, 1]; the arrays must have the same, non-zero length.
     */
    public static double expectedCalibrationError(double[] confidence, boolean[] correct, int bins) {
        if (confidence == null || correct == null) throw new IllegalArgumentException("confidence and correct must not be null");
        if (confidence.length != correct.length)
            throw new IllegalArgumentException("confidence has " + confidence.length + " values but correct has " + correct.length);
        if (confidence.length == 0) throw new IllegalArgumentException("confidence must not be empty");
        if (bins < 1) throw new IllegalArgumentException("bins must be >= 1, got " + bins);
        double[] confSum = new double[bins];
        double[] hits = new double[bins];
        long[] count = new long[bins];
        for (int i = 0; i < confidence.length; i++) {
            double c = confidence[i];
            if (!(c >= 0 && c <= 1)) throw new IllegalArgumentException("confidence[" + i + "] = " + c + " is not in [0, 1]");
            int b = Math.min((int) (c * bins), bins - 1);
            confSum[b] += c;
            if (correct[i]) hits[b]++;
            count[b]++;
        }
        double ece = 0;
        for (int b = 0; b < bins; b++)
            if (count[b] > 0) ece += (double) count[b] / confidence.length * Math.abs(hits[b] / count[b] - confSum[b] / count[b]);
        return ece;
    }

    /** Arithmetic mean; NaN for an empty array. */
    public static double mean(double[] x) {
        if (x == null) throw new IllegalArgumentException("x must not be null");
        if (x.length == 0) return Double.NaN;
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }

    /** Population standard deviation {@code sqrt(Σ (x − mean)² / n)}; NaN for an empty array, 0 for one value. */
    public static double std(double[] x) {
        double m = mean(x);
        if (x.length == 0) return Double.NaN;
        double s = 0;
        for (double v : x) s += (v - m) * (v - m);
        return Math.sqrt(s / x.length);
    }
}
