package dev.align4j.bench;

import java.util.Arrays;

/** Plain wall-clock timing for the report: warm-up calls, then the median of k timed calls. */
final class Timing {
    private Timing() {}

    /** Median milliseconds of {@code reps} calls of {@code body} after {@code warmup} untimed ones. */
    static double medianMs(int warmup, int reps, Runnable body) {
        for (int i = 0; i < warmup; i++) body.run();
        double[] ms = new double[Math.max(1, reps)];
        for (int i = 0; i < ms.length; i++) {
            long t0 = System.nanoTime();
            body.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        int n = ms.length;
        return n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    }
}
