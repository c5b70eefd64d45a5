package dev.align4j.bench;

import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * What the small-kernel families (policy/value loss, GAE/whitening, KL shaping, preference and reward
 * losses) share: their input distributions and how one of their rows is measured.
 *
 * <p>These kernels move a few MB at most (PPO at B=256, T=1024: 1 MiB per [B, T] input; DPO at B=64: a
 * few KB), so a call lasts microseconds to a millisecond and is dominated by fixed costs: JNI, the public
 * API's validation scans (one native pass per checked input: mask 0/1, finite values), scratch
 * allocation and the stats read-back. Each row therefore also reports the <em>kernel-only</em> time: the
 * same native kernel called through {@code dev.align4j.tensor.NativeKernels} (public, but documented as
 * internal) with preallocated scratch and no validation; the stats are still read back, since they are part
 * of the result.
 *
 * <p>Timing: warm-up for at least {@link #WARMUP_MS} (the JIT must compile the validation and the naive
 * loops), then {@code reps} samples, each the mean per call of a batch lasting at least
 * {@link #MIN_SAMPLE_MS}; the median sample is reported. A single nanoTime per call would be mostly noise
 * at microseconds.
 */
final class SmallKernels {
    static final String DEFAULT_BT_SHAPES = "256x1024";
    static final String DEFAULT_PAIRS = "64,1024";
    static final double WARMUP_MS = 300;
    static final double MIN_SAMPLE_MS = 20;
    /** The floor's bandwidth is measured on at least this many bytes: below it, one pass is mostly overhead. */
    static final long MIN_FLOOR_BYTES = 4L << 20;

    private SmallKernels() {}

    // ---------------------------------------------------------------- inputs

    static float[] normal(SplittableRandom rnd, int n, double mean, double sd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (mean + sd * rnd.nextGaussian());
        return x;
    }

    static float[] uniform(SplittableRandom rnd, int n, double lo, double hi) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        return x;
    }

    /** {@code base + N(0, sd²)} element-wise (e.g. new log-probs near the old ones). */
    static float[] perturb(SplittableRandom rnd, float[] base, double sd) {
        float[] x = new float[base.length];
        for (int i = 0; i < x.length; i++) x[i] = (float) (base[i] + sd * rnd.nextGaussian());
        return x;
    }

    /**
     * A right-padded response mask: row b is 1 on its first L_b tokens, L_b uniform in [T/2, T] (padding
     * after the EOS, as TRL's rollouts have it; at least one token per row).
     */
    static float[] prefixMask(SplittableRandom rnd, int b, int t) {
        float[] m = new float[Math.multiplyExact(b, t)];
        for (int i = 0; i < b; i++) {
            int len = Math.max(1, t / 2 + rnd.nextInt(t - t / 2 + 1));
            java.util.Arrays.fill(m, i * t, i * t + Math.min(len, t), 1f);
        }
        return m;
    }

    /** A report body for one [B, T] shape, named {@code shape} in the rows. */
    interface BtBody {
        void run(int b, int t, String shape);
    }

    /** A report body for one count of preference pairs, named {@code shape} in the rows. */
    interface PairsBody {
        void run(int b, String shape);
    }

    /** Runs {@code body} for each {@code --bt-shapes} shape (default {@link #DEFAULT_BT_SHAPES}), announced. */
    static void eachBtShape(Report.Context ctx, String family, BtBody body) {
        for (long[] shape : ctx.shapes("bt-shapes", DEFAULT_BT_SHAPES)) {
            int b = Math.toIntExact(shape[0]), t = Math.toIntExact(shape[1]);
            String name = "B=" + b + " T=" + t;
            ctx.progress(family + " " + name + " on " + ctx.device());
            body.run(b, t, name);
        }
    }

    /** Runs {@code body} for each {@code --pairs} count (default {@link #DEFAULT_PAIRS}), announced. */
    static void eachPairCount(Report.Context ctx, String family, PairsBody body) {
        for (int b : ctx.sizes("pairs", DEFAULT_PAIRS)) {
            String name = "B=" + b;
            ctx.progress(family + " " + name + " on " + ctx.device());
            body.run(b, name);
        }
    }

    // ---------------------------------------------------------------- measurement

    /** Median ms per call of {@code body}: warm-up by time, then batches of at least {@code minSampleMs}. */
    static double medianMsPerCall(int reps, Runnable body) {
        long end = System.nanoTime() + (long) (WARMUP_MS * 1e6);
        int calls = 0;
        do {
            body.run();
            calls++;
        } while (System.nanoTime() < end || calls < 3);
        // Batch size from the warm-up's tail: time a few calls, scale to the sample length.
        long t0 = System.nanoTime();
        for (int i = 0; i < 3; i++) body.run();
        double perCall = Math.max(1e-6, (System.nanoTime() - t0) / 3e6);
        int batch = (int) Math.max(1, Math.min(1 << 22, Math.ceil(MIN_SAMPLE_MS / perCall)));
        double[] ms = new double[Math.max(1, reps)];
        for (int r = 0; r < ms.length; r++) {
            long s = System.nanoTime();
            for (int i = 0; i < batch; i++) body.run();
            ms[r] = (System.nanoTime() - s) / 1e6 / batch;
        }
        java.util.Arrays.sort(ms);
        int n = ms.length;
        return n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    }

    /**
     * Measures one row and adds it: the read floor for {@code bytes} (measured just before, as the bandwidth
     * drifts on a shared machine), the RSS rise of a first align4j call, align4j through its public API,
     * kernel-only (null: not measured), and the naive baseline (null or not allowed by {@code --naive-max}
     * / the device: not run) with the Java bytes one call allocates.
     */
    static void measure(Report.Context ctx, String family, String kernel, String shape, long elements, long bytes,
                        Runnable align4j, Runnable kernelOnly, Supplier<float[][]> naive) {
        double floorGBs;
        try (Floor floor = new Floor(ctx.device(), Math.max(bytes, MIN_FLOOR_BYTES))) {
            floorGBs = floor.gbPerSecond(false, 2, Math.max(5, ctx.reps()));
        }
        long extra = Memory.extraPeakBytes(align4j);
        double ms = medianMsPerCall(ctx.reps(), align4j);
        double nativeMs = kernelOnly == null ? Double.NaN : medianMsPerCall(ctx.reps(), kernelOnly);
        double naiveMs = Double.NaN;
        long naiveAlloc = -1;
        if (naive != null && ctx.naiveFor(elements)) {
            Runnable run = () -> {
                for (float[] out : naive.get()) ctx.consume(out);
            };
            naiveMs = medianMsPerCall(ctx.reps(), run);
            naiveAlloc = Memory.allocatedBytes(run);
        }
        ctx.add(new Report.Row(family, kernel, shape, ctx.device().toString(), ms, naiveMs, bytes / (floorGBs * 1e6),
                bytes, extra, naiveAlloc, nativeMs));
    }
}
