package dev.align4j.bench;

import dev.align4j.kernels.KlShaping;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link KlShaping}: PPO's per-token rewards −β·k1 plus the score at the last response token (β = 0.05,
 * no EOS check, so no tokens tensor) at [B, T] = 256×1024 by default. Inputs: ℓ_old ~ U(−3, 0),
 * ℓ_ref = ℓ_old + N(0, 0.2²), scores ~ N(0, 1) [B], a right-padded mask. Bytes: reads ℓ_old, ℓ_ref, mask
 * and scores, writes rewards and kl: 20·B·T + 4·B. The public API also reduces the mask once more to count
 * rows without a response (that is in the align4j column, not in kernel-only).
 * JMH: {@code java -jar benchmarks.jar KlShapingBench [-p B=256 -p T=1024]}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-XX:+UseParallelGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class KlShapingBench {
    static final String FAMILY = "klshaping";
    private static final int K1 = 1; // KlShaping.Estimator.K1.code (package-private)

    static final class Case implements AutoCloseable {
        final Device device;
        final int b, t;
        final float[] hOld, hRef, hMask, hScores;
        private final Scope scope = new Scope();
        final Tensor old, ref, mask, scores, rewards, kl;
        final KlShaping.Config config = KlShaping.Config.defaults();
        int sink;

        Case(Device device, int b, int t, long seed) {
            this.device = device;
            this.b = b;
            this.t = t;
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = Math.multiplyExact(b, t);
            hOld = SmallKernels.uniform(rnd, n, -3, 0);
            hRef = SmallKernels.perturb(rnd, hOld, 0.2);
            hMask = SmallKernels.prefixMask(rnd, b, t);
            hScores = SmallKernels.normal(rnd, b, 0, 1);
            try {
                old = scope.of(device, hOld, b, t);
                ref = scope.of(device, hRef, b, t);
                mask = scope.of(device, hMask, b, t);
                scores = scope.of(device, hScores, b);
                rewards = scope.empty(device, DType.F32, b, t);
                kl = scope.empty(device, DType.F32, b, t);
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        long bytes() {
            return 20L * b * t + 4L * b;
        }

        int shape() {
            return sink += KlShaping.compute(old, ref, mask, scores, null, config, rewards, kl);
        }

        void kernel() {
            NativeKernels.klShaping(device, old, ref, mask, scores, null, b, t, config.beta(), K1, -1, 0f, rewards, kl);
            BenchAccess.synchronize(device);
        }

        float[][] naive() {
            return new float[][] {Naive.klShaping(hOld, hRef, hMask, hScores, b, t, config.beta())};
        }

        @Override
        public void close() {
            scope.close();
        }
    }

    // ---------------------------------------------------------------- JMH

    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class S {
        @Param({"256"})
        public int B;

        @Param({"1024"})
        public int T;

        @Param({"cpu"})
        public String device;

        Case c;

        @Setup(Level.Trial)
        public void setup() {
            c = new Case(Device.parse(device), B, T, 42);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            c.close();
        }
    }

    @Benchmark
    public int klShaping(S s) {
        return s.c.shape();
    }

    @Benchmark
    public void klShapingKernelOnly(S s) {
        s.c.kernel();
    }

    @Benchmark
    public float[][] klShapingNaive(S s) {
        return s.c.naive();
    }

    // ---------------------------------------------------------------- report

    static void report(Report.Context ctx) {
        for (long[] shape : ctx.shapes("bt-shapes", SmallKernels.DEFAULT_BT_SHAPES)) {
            int b = Math.toIntExact(shape[0]), t = Math.toIntExact(shape[1]);
            String name = SmallKernels.btShape(b, t);
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            try (Case c = new Case(ctx.device(), b, t, ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "k1", name, (long) b * t, c.bytes(), c::shape, c::kernel, c::naive);
            }
        }
    }
}
