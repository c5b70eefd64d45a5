package dev.align4j.bench;

import dev.align4j.kernels.PreferenceLoss;
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
 * {@link PreferenceLoss}: DPO sigmoid (β = 0.1), IPO (β = 0.1, per-token averages) and SimPO (β = 2,
 * γ = 1), loss + metrics + gradient, over B pairs (64 and 1024 by default). Inputs: sequence log-probs
 * ℓ⁺, ℓ⁻ ~ N(−150, 40²), references ℓ_ref = ℓ + N(0, 5²), lengths U[16, 512]. Bytes: sigmoid reads 4·B
 * floats and writes 5·B (36·B bytes), IPO reads 6·B (44·B), SimPO reads 4·B (36·B). At these sizes (KB)
 * a call is pure fixed cost; the floor is shown only for completeness.
 * JMH: {@code java -jar benchmarks.jar PreferenceLossBench [-p B=64]}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-XX:+UseParallelGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class PreferenceLossBench {
    static final String FAMILY = "preference";

    /** The measured losses, their configs and native type codes (A4J_PREF_*; Type.code is package-private). */
    enum Kind {
        SIGMOID("sigmoid", PreferenceLoss.Config.dpo(), 0, 36),
        IPO("ipo", PreferenceLoss.Config.of(PreferenceLoss.Type.IPO), 3, 44),
        SIMPO("simpo", PreferenceLoss.Config.simpo(), 5, 36);

        final String label;
        final PreferenceLoss.Config config;
        final int code, bytesPerPair;

        Kind(String label, PreferenceLoss.Config config, int code, int bytesPerPair) {
            this.label = label;
            this.config = config;
            this.code = code;
            this.bytesPerPair = bytesPerPair;
        }
    }

    static final class Case implements AutoCloseable {
        final Device device;
        final int b;
        final float[] hC, hR, hRc, hRr, hLc, hLr;
        private final Scope scope = new Scope();
        final Tensor c, r, rc, rr, lc, lr, dc, dr, losses, rwc, rwr, stats;
        final double[] naiveStats = new double[5];
        float sink;

        Case(Device device, int b, long seed) {
            this.device = device;
            this.b = b;
            SplittableRandom rnd = new SplittableRandom(seed);
            hC = SmallKernels.normal(rnd, b, -150, 40);
            hR = SmallKernels.normal(rnd, b, -150, 40);
            hRc = SmallKernels.perturb(rnd, hC, 5);
            hRr = SmallKernels.perturb(rnd, hR, 5);
            hLc = lengths(rnd, b);
            hLr = lengths(rnd, b);
            try {
                c = scope.of(device, hC, b);
                r = scope.of(device, hR, b);
                rc = scope.of(device, hRc, b);
                rr = scope.of(device, hRr, b);
                lc = scope.of(device, hLc, b);
                lr = scope.of(device, hLr, b);
                dc = scope.empty(device, DType.F32, b);
                dr = scope.empty(device, DType.F32, b);
                losses = scope.empty(device, DType.F32, b);
                rwc = scope.empty(device, DType.F32, b);
                rwr = scope.empty(device, DType.F32, b);
                stats = scope.empty(device, DType.F32, 5); // A4J_PREF_STATS
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        private static float[] lengths(SplittableRandom rnd, int b) {
            float[] l = new float[b];
            for (int i = 0; i < b; i++) l[i] = 16 + rnd.nextInt(497);
            return l;
        }

        float run(Kind k) {
            boolean ref = k.config.type().needsReference(), len = k.config.type().needsLengths();
            return sink += PreferenceLoss.compute(c, r, ref ? rc : null, ref ? rr : null, len ? lc : null,
                    len ? lr : null, k.config, dc, dr, losses, rwc, rwr).loss();
        }

        float kernel(Kind k) {
            PreferenceLoss.Config cfg = k.config;
            boolean ref = cfg.type().needsReference(), len = cfg.type().needsLengths();
            NativeKernels.preferenceLoss(device, c, r, ref ? rc : null, ref ? rr : null, len ? lc : null,
                    len ? lr : null, b, k.code, cfg.beta(), cfg.labelSmoothing(), cfg.gamma(), dc, dr, losses, rwc,
                    rwr, stats);
            return sink += stats.toFloatArray()[0];
        }

        float[][] naive(Kind k) {
            PreferenceLoss.Config cfg = k.config;
            return switch (k) {
                case SIGMOID -> Naive.dpoSigmoid(hC, hR, hRc, hRr, cfg.beta(), cfg.labelSmoothing(), naiveStats);
                case IPO -> Naive.ipo(hC, hR, hRc, hRr, hLc, hLr, cfg.beta(), naiveStats);
                case SIMPO -> Naive.simpo(hC, hR, hLc, hLr, cfg.beta(), cfg.gamma(), cfg.labelSmoothing(), naiveStats);
            };
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

        @Param({"sigmoid", "ipo", "simpo"})
        public String loss;

        @Param({"cpu"})
        public String device;

        Case c;
        Kind kind;

        @Setup(Level.Trial)
        public void setup() {
            c = new Case(Device.parse(device), B, 42);
            kind = Kind.valueOf(loss.toUpperCase(java.util.Locale.ROOT));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            c.close();
        }
    }

    @Benchmark
    public float align4j(S s) {
        return s.c.run(s.kind);
    }

    @Benchmark
    public float kernelOnly(S s) {
        return s.c.kernel(s.kind);
    }

    @Benchmark
    public float[][] naive(S s) {
        return s.c.naive(s.kind);
    }

    // ---------------------------------------------------------------- report

    static void report(Report.Context ctx) {
        for (int b : ctx.sizes("pairs", SmallKernels.DEFAULT_PAIRS)) {
            String name = SmallKernels.pairShape(b);
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            try (Case c = new Case(ctx.device(), b, ctx.seed())) {
                for (Kind k : Kind.values())
                    SmallKernels.measure(ctx, FAMILY, k.label, name, b, (long) k.bytesPerPair * b, () -> c.run(k),
                            () -> c.kernel(k), () -> c.naive(k));
            }
        }
    }
}
