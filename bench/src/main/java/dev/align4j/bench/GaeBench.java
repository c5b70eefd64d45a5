package dev.align4j.bench;

import dev.align4j.kernels.Gae;
import dev.align4j.kernels.Whiten;
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
 * {@link Gae} (γ = 1, λ = 0.95: advantages and returns) and {@link Whiten} (masked whitening of the
 * advantages, shiftMean) at [B, T] = 256×1024 by default. Inputs: rewards ~ N(0, 0.1²), values ~ N(0, 1),
 * x ~ N(0, 1), a right-padded mask (lengths U[T/2, T]). Bytes: GAE reads rewards, values, mask and writes
 * advantages, returns (20·B·T); whitening reads x and mask and writes out (12·B·T; the two-pass kernel
 * reads x twice, which a cache-resident [B, T] mostly hides: the floor counts the minimum).
 *
 * <p>Variants as in {@link PolicyLossBench}. The naive GAE is TRL's reversed loop over t, each step a
 * [B]-vector op on fresh arrays (strided column access, as TRL's {@code values[:, t]}).
 * JMH: {@code java -jar benchmarks.jar GaeBench [-p B=256 -p T=1024]}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-XX:+UseParallelGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class GaeBench {
    static final String FAMILY = "gae";

    static final class Case implements AutoCloseable {
        final Device device;
        final int b, t;
        final float[] hR, hV, hMask, hX;
        private final Scope scope = new Scope();
        final Tensor rewards, values, mask, adv, ret, x, out, work, stats;
        float sink;

        Case(Device device, int b, int t, long seed) {
            this.device = device;
            this.b = b;
            this.t = t;
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = Math.multiplyExact(b, t);
            hR = SmallKernels.normal(rnd, n, 0, 0.1);
            hV = SmallKernels.normal(rnd, n, 0, 1);
            hMask = SmallKernels.prefixMask(rnd, b, t);
            hX = SmallKernels.normal(rnd, n, 0, 1);
            try {
                rewards = scope.of(device, hR, b, t);
                values = scope.of(device, hV, b, t);
                mask = scope.of(device, hMask, b, t);
                adv = scope.empty(device, DType.F32, b, t);
                ret = scope.empty(device, DType.F32, b, t);
                x = scope.of(device, hX, b, t);
                out = scope.empty(device, DType.F32, b, t);
                work = scope.empty(device, DType.F64, 2L * b); // A4J_WHITEN_ROW doubles per row
                stats = scope.empty(device, DType.F32, 2);
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        void gae() {
            Gae.compute(rewards, values, mask, Gae.DEFAULT_GAMMA, Gae.DEFAULT_LAMBDA, adv, ret);
            BenchAccess.synchronize(device);
        }

        void gaeKernel() {
            NativeKernels.gae(device, rewards, values, mask, b, t, Gae.DEFAULT_GAMMA, Gae.DEFAULT_LAMBDA, adv, ret);
            BenchAccess.synchronize(device);
        }

        float[][] gaeNaive() {
            return Naive.gae(hR, hV, hMask, b, t, Gae.DEFAULT_GAMMA, Gae.DEFAULT_LAMBDA);
        }

        float whiten() {
            return sink += Whiten.apply(x, mask, true, out).std();
        }

        float whitenKernel() {
            NativeKernels.whiten(device, x, mask, b, t, 1, out, work, stats);
            return sink += stats.toFloatArray()[1];
        }

        float[][] whitenNaive() {
            return new float[][] {Naive.whiten(hX, hMask)};
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
    public void gae(S s) {
        s.c.gae();
    }

    @Benchmark
    public void gaeKernelOnly(S s) {
        s.c.gaeKernel();
    }

    @Benchmark
    public float[][] gaeNaive(S s) {
        return s.c.gaeNaive();
    }

    @Benchmark
    public float whiten(S s) {
        return s.c.whiten();
    }

    @Benchmark
    public float whitenKernelOnly(S s) {
        return s.c.whitenKernel();
    }

    @Benchmark
    public float[][] whitenNaive(S s) {
        return s.c.whitenNaive();
    }

    // ---------------------------------------------------------------- report

    static void report(Report.Context ctx) {
        for (long[] shape : ctx.shapes("bt-shapes", SmallKernels.DEFAULT_BT_SHAPES)) {
            int b = Math.toIntExact(shape[0]), t = Math.toIntExact(shape[1]);
            String name = SmallKernels.btShape(b, t);
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            long bt = (long) b * t;
            try (Case c = new Case(ctx.device(), b, t, ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "gae", name, bt, 20 * bt, c::gae, c::gaeKernel, c::gaeNaive);
                SmallKernels.measure(ctx, FAMILY, "whiten", name, bt, 12 * bt, c::whiten, c::whitenKernel, c::whitenNaive);
            }
        }
    }
}
