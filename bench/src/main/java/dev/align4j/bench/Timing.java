package dev.align4j.bench;

import java.util.Arrays;

/** Plain wall-clock timing for the report: warm-up calls, then the median of k timed calls. */
final class Timing {
    private Timing() {}

    /**
     * {@link #medianMs} in the calling thread's CPU time instead of wall-clock time: on a machine shared with other
     * jobs, the time a single-threaded call spends computing, not waiting for a core. Meaningful only when the work
     * runs on the calling thread (one OpenMP thread, one OpenBLAS thread).
     */
    static double medianCpuMs(int warmup, int reps, Runnable body) {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int i = 0; i < warmup; i++) body.run();
        double[] ms = new double[Math.max(1, reps)];
        for (int i = 0; i < ms.length; i++) {
            long t0 = mx.getCurrentThreadCpuTime();
            body.run();
            ms[i] = (mx.getCurrentThreadCpuTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        int n = ms.length;
        return n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    }

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
