package dev.align4j.bench;

import dev.align4j.kernels.RewardLoss;
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
 * {@link RewardLoss}: the Bradley–Terry loss −mean logσ(r⁺ − r⁻) with metrics and gradient, no margin,
 * no centring (TRL's defaults), over B pairs (64 and 1024 by default). Inputs r⁺, r⁻ ~ N(0, 1). Bytes:
 * reads 2·B floats, writes 2·B (16·B bytes): pure fixed cost at these sizes.
 * JMH: {@code java -jar benchmarks.jar RewardLossBench [-p B=64]}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-XX:+UseParallelGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class RewardLossBench {
    static final String FAMILY = "reward";

    static final class Case implements AutoCloseable {
        final Device device;
        final int b;
        final float[] hC, hR;
        private final Scope scope = new Scope();
        final Tensor c, r, dc, dr, stats;
        final double[] naiveStats = new double[5];
        float sink;

        Case(Device device, int b, long seed) {
            this.device = device;
            this.b = b;
            SplittableRandom rnd = new SplittableRandom(seed);
            hC = SmallKernels.normal(rnd, b, 0, 1);
            hR = SmallKernels.normal(rnd, b, 0, 1);
            try {
                c = scope.of(device, hC, b);
                r = scope.of(device, hR, b);
                dc = scope.empty(device, DType.F32, b);
                dr = scope.empty(device, DType.F32, b);
                stats = scope.empty(device, DType.F32, 5); // A4J_RM_STATS
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        float run() {
            return sink += RewardLoss.compute(c, r, null, 0f, dc, dr).loss();
        }

        float kernel() {
            NativeKernels.rewardLoss(device, c, r, null, b, 0f, dc, dr, stats);
            return sink += stats.toFloatArray()[0];
        }

        float[][] naive() {
            return Naive.rewardLoss(hC, hR, naiveStats);
        }

        @Override
        public void close() {
            scope.close();
        }
    }

    // ---------------------------------------------------------------- JMH

    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class S {
        @Param({"64", "1024"})
        public int B;

        @Param({"cpu"})
        public String device;

        Case c;

        @Setup(Level.Trial)
        public void setup() {
            c = new Case(Device.parse(device), B, 42);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            c.close();
        }
    }

    @Benchmark
    public float align4j(S s) {
        return s.c.run();
    }

    @Benchmark
    public float kernelOnly(S s) {
        return s.c.kernel();
    }

    @Benchmark
    public float[][] naive(S s) {
        return s.c.naive();
    }

    // ---------------------------------------------------------------- report

    static void report(Report.Context ctx) {
        for (int b : ctx.sizes("pairs", SmallKernels.DEFAULT_PAIRS)) {
            String name = SmallKernels.pairShape(b);
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            try (Case c = new Case(ctx.device(), b, ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "bt", name, b, 16L * b, c::run, c::kernel, c::naive);
            }
        }
    }
}
