package dev.align4j.bench;

import dev.align4j.kernels.LogProbs;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Token log-probs ({@link LogProbs}): fused forward (with and without entropy) and in-place backward, the
 * unfused Java baseline ({@link LogProbsNaive}) and the memory floor, N rows × V vocabulary, fp32, no mask,
 * τ = 1. Bytes a kernel must move: N·V·4 for the forward (one read of the logits), 2·N·V·4 for the backward
 * (read the logits, write the gradient); their floors are a read and an in-place read + write of the
 * logits' size ({@link Floor}).
 *
 * <p>JMH: {@code java -jar benchmarks.jar LogProbsBench -p N=4096 -p V=32000 [-p device=cuda]}; the
 * naive methods run only at their own (small) shapes. N=16384, V=128256 needs 8.4 GB for the logits
 * alone. The report main ({@link Report}) calls {@link #report}.
 */
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 2, jvmArgsAppend = {"-Xms1g", "-XX:+UseParallelGC"})
public class LogProbsBench extends JmhDefaults {
    static final String FAMILY = "logprobs";
    static final String DEFAULT_SHAPES = "4096x32000,4096x128256,16384x32000,16384x128256";
    /** The naive baseline's default limit on N·V (its N×V arrays are Java arrays, single-threaded). */
    static final long DEFAULT_NAIVE_MAX = 4096L * 32000;
    private static final int POOL_ROWS = 64;

    /** The four kernel variants, named as in the report. */
    enum Kernel {
        FWD("fwd", false, false), FWD_ENTROPY("fwd+entropy", false, true),
        BWD("bwd", true, false), BWD_ENTROPY("bwd+entropy", true, true);

        final String label;
        final boolean backward, entropy;

        Kernel(String label, boolean backward, boolean entropy) {
            this.label = label;
            this.backward = backward;
            this.entropy = entropy;
        }

        long bytes(long n, long v) {
            return (backward ? 2 : 1) * n * v * 4;
        }
    }

    /** align4j inputs and outputs of one shape on one device; logits are random N(0, 2²), labels uniform. */
    static final class Case implements AutoCloseable {
        final Device device;
        final int n, v;
        private final Scope scope = new Scope();
        final Tensor logits, labels, logp, entropy, lse, dlogp, dentropy;

        Case(Device device, int n, int v, long seed) {
            this.device = device;
            this.n = n;
            this.v = v;
            SplittableRandom rnd = new SplittableRandom(seed);
            try {
                logits = scope.empty(device, DType.F32, n, v);
                fill(logits, rowPool(rnd, v), v);
                labels = scope.of(device, randomLabels(rnd, n, v));
                logp = scope.empty(device, DType.F32, n);
                entropy = scope.empty(device, DType.F32, n);
                lse = scope.empty(device, DType.F32, n);
                dlogp = scope.of(device, randomFloats(rnd, n));
                dentropy = scope.of(device, randomFloats(rnd, n));
                run(Kernel.FWD_ENTROPY); // the backward needs lse and entropy
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        /** One call of {@code k}, finished on return; the backward writes the gradient into the logits. */
        void run(Kernel k) {
            if (!k.backward) {
                LogProbs.forward(logits, labels, null, 1.0f, logp, k.entropy ? entropy : null, lse);
            } else {
                LogProbs.backward(logits, labels, null, 1.0f, lse, k.entropy ? entropy : null, dlogp,
                        k.entropy ? dentropy : null, logits);
            }
            BenchAccess.synchronize(device);
        }

        @Override
        public void close() {
            scope.close();
        }
    }

    /** The naive baseline's inputs as Java arrays (same distribution as {@link Case}). */
    static final class NaiveCase {
        final int n, v;
        final float[] z, logp, entropy, dlogp, dentropy;
        final int[] labels;
        float[] saved; // the materialised log_softmax of the last forward

        NaiveCase(int n, int v, long seed) {
            this.n = n;
            this.v = v;
            SplittableRandom rnd = new SplittableRandom(seed);
            float[] pool = rowPool(rnd, v);
            z = new float[Math.multiplyExact(n, v)];
            for (int r = 0; r < n; r += POOL_ROWS) {
                int rows = Math.min(POOL_ROWS, n - r);
                System.arraycopy(pool, 0, z, r * v, rows * v);
            }
            labels = randomLabels(rnd, n, v);
            logp = new float[n];
            entropy = new float[n];
            dlogp = randomFloats(rnd, n);
            dentropy = randomFloats(rnd, n);
            saved = LogProbsNaive.forwardEntropy(z, labels, n, v, logp, entropy);
        }

        /** One call of {@code k}; returns its N×V result so that nothing is optimised away. */
        float[] run(Kernel k) {
            if (!k.backward) {
                saved = k.entropy ? LogProbsNaive.forwardEntropy(z, labels, n, v, logp, entropy)
                        : LogProbsNaive.forward(z, labels, n, v, logp);
                return saved;
            }
            return LogProbsNaive.backward(saved, labels, n, v, dlogp, k.entropy ? dentropy : null,
                    k.entropy ? entropy : null);
        }
    }

    // ---------------------------------------------------------------- JMH

    /** Shape and device of the align4j and floor benchmarks. */
    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Shape {
        @Param({"4096", "16384"})
        public int N;

        @Param({"32000", "128256"})
        public int V;

        /** cpu, cuda or cuda:K */
        @Param({"cpu"})
        public String device;
    }

    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Align4j {
        Case c;

        @Setup(Level.Trial)
        public void setup(Shape s) {
            c = new Case(Device.parse(s.device), s.N, s.V, 42);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            c.close();
            printPeak();
        }
    }

    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class FloorState {
        Floor floor;

        @Setup(Level.Trial)
        public void setup(Shape s) {
            floor = new Floor(Device.parse(s.device), (long) s.N * s.V * 4);
            System.out.printf("%n[floor] buffer %d MB on %s%n", floor.bytes() >> 20, s.device);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            floor.close();
        }
    }

    /** The naive baseline's shape: small by default, its own parameters so that -p N/V do not touch it. */
    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Naive {
        @Param({"4096"})
        public int naiveN;

        @Param({"32000"})
        public int naiveV;

        NaiveCase c;

        @Setup(Level.Trial)
        public void setup() {
            c = new NaiveCase(naiveN, naiveV, 42);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            c = null;
            printPeak();
        }
    }

    @Benchmark
    public void forward(Align4j s) {
        s.c.run(Kernel.FWD);
    }

    @Benchmark
    public void forwardEntropy(Align4j s) {
        s.c.run(Kernel.FWD_ENTROPY);
    }

    @Benchmark
    public void backward(Align4j s) {
        s.c.run(Kernel.BWD);
    }

    @Benchmark
    public void backwardEntropy(Align4j s) {
        s.c.run(Kernel.BWD_ENTROPY);
    }

    /** One read of N·V·4 bytes (capped; see {@link Floor}): the forward's floor (a copy on a GPU). */
    @Benchmark
    public void readFloor(FloorState s) {
        s.floor.pass(false);
    }

    /** One in-place read + write of N·V·4 bytes (capped): the in-place backward's floor (a copy on a GPU). */
    @Benchmark
    public void readWriteFloor(FloorState s) {
        s.floor.pass(true);
    }

    @Benchmark
    public float[] naiveForward(Naive s) {
        return s.c.run(Kernel.FWD);
    }

    @Benchmark
    public float[] naiveForwardEntropy(Naive s) {
        return s.c.run(Kernel.FWD_ENTROPY);
    }

    @Benchmark
    public float[] naiveBackward(Naive s) {
        return s.c.run(Kernel.BWD);
    }

    @Benchmark
    public float[] naiveBackwardEntropy(Naive s) {
        return s.c.run(Kernel.BWD_ENTROPY);
    }

    private static void printPeak() {
        System.out.printf("%n[memory] peak RSS of this fork (VmHWM): %d MB%n", Memory.peakBytes() >> 20);
    }

    // ---------------------------------------------------------------- report

    /**
     * The report's rows: for each shape ({@code --shapes NxV,...}), the floor, then each kernel's median
     * time, the naive baseline's (CPU, N·V ≤ {@code --naive-max}), the rise of RSS during a first align4j
     * call and the Java bytes one naive call allocates.
     */
    static void report(Report.Context ctx) {
        for (long[] shape : ctx.shapes(DEFAULT_SHAPES)) {
            int n = Math.toIntExact(shape[0]), v = Math.toIntExact(shape[1]);
            String shapeName = "N=" + n + " V=" + v;
            ctx.progress("logprobs " + shapeName + " on " + ctx.device());
            double[] ms = new double[Kernel.values().length];
            double[] floorGBs = new double[ms.length];
            long[] extra = new long[ms.length];
            // The floor is measured right before each kernel: on a shared machine the bandwidth drifts.
            try (Floor floor = new Floor(ctx.device(), (long) n * v * 4); Case c = new Case(ctx.device(), n, v, ctx.seed())) {
                for (Kernel k : Kernel.values()) {
                    floorGBs[k.ordinal()] = floor.gbPerSecond(k.backward, 2, Math.max(5, ctx.reps()));
                    extra[k.ordinal()] = Memory.extraPeakBytes(() -> c.run(k));
                    ms[k.ordinal()] = Timing.medianMs(ctx.warmup(), ctx.reps(), () -> c.run(k));
                }
            }
            double[] naiveMs = new double[ms.length];
            long[] naiveExtra = new long[ms.length];
            java.util.Arrays.fill(naiveMs, Double.NaN);
            java.util.Arrays.fill(naiveExtra, -1);
            if (ctx.naiveFor((long) n * v)) {
                NaiveCase nc = new NaiveCase(n, v, ctx.seed());
                for (Kernel k : Kernel.values()) {
                    naiveExtra[k.ordinal()] = Memory.allocatedBytes(() -> ctx.consume(nc.run(k)));
                    naiveMs[k.ordinal()] = Timing.medianMs(1, ctx.naiveReps(), () -> ctx.consume(nc.run(k)));
                }
            }
            for (Kernel k : Kernel.values()) {
                long bytes = k.bytes(n, v);
                int i = k.ordinal();
                ctx.add(new Report.Row(FAMILY, k.label, shapeName, ctx.device().toString(), ms[i], naiveMs[i],
                        bytes / (floorGBs[i] * 1e6), bytes, extra[i], naiveExtra[i]));
            }
        }
    }

    // ---------------------------------------------------------------- data

    /** POOL_ROWS random rows of N(0, 2²) logits, tiled over the N rows (bandwidth does not care). */
    static float[] rowPool(SplittableRandom rnd, int v) {
        float[] pool = new float[Math.multiplyExact(POOL_ROWS, v)];
        for (int i = 0; i < pool.length; i++) pool[i] = (float) (2.0 * rnd.nextGaussian());
        return pool;
    }

    static void fill(Tensor logits, float[] pool, int v) {
        long n = logits.dim(0);
        for (long r = 0; r < n; r += POOL_ROWS) {
            int rows = (int) Math.min(POOL_ROWS, n - r);
            BenchAccess.copyIn(logits, r * v, pool, rows * v);
        }
    }

    static int[] randomLabels(SplittableRandom rnd, int n, int v) {
        int[] y = new int[n];
        for (int i = 0; i < n; i++) y[i] = rnd.nextInt(v);
        return y;
    }

    static float[] randomFloats(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return x;
    }
}
