package dev.align4j.bench;

import dev.align4j.kernels.PreferenceLoss;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/**
 * {@link PreferenceLoss}: DPO sigmoid (β = 0.1), IPO (β = 0.1, per-token averages) and SimPO (β = 2,
 * γ = 1), loss + metrics + gradient, over B pairs (64 and 1024 by default). Inputs: sequence log-probs
 * ℓ⁺, ℓ⁻ ~ N(−150, 40²), references ℓ_ref = ℓ + N(0, 5²), lengths U[16, 512]. Bytes: sigmoid reads 4·B
 * floats and writes 5·B (36·B bytes), IPO reads 6·B (44·B), SimPO reads 4·B (36·B). At these sizes (KB)
 * a call is pure fixed cost; the floor is shown only for completeness.
 * JMH: {@code java -jar benchmarks.jar PreferenceLossBench [-p B=64]}.
 */
public class PreferenceLossBench extends JmhDefaults {
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

    static final class Case extends BenchCase {
        final int b;
        final float[] hC, hR, hRc, hRr, hLc, hLr;
        final Tensor c, r, rc, rr, lc, lr, dc, dr, losses, rwc, rwr, stats;
        final double[] naiveStats = new double[5];

        Case(Device device, int b, long seed) {
            super(device);
            this.b = b;
            SplittableRandom rnd = new SplittableRandom(seed);
            hC = SmallKernels.normal(rnd, b, -150, 40);
            hR = SmallKernels.normal(rnd, b, -150, 40);
            hRc = SmallKernels.perturb(rnd, hC, 5);
            hRr = SmallKernels.perturb(rnd, hR, 5);
            hLc = lengths(rnd, b);
            hLr = lengths(rnd, b);
            c = input(hC, b);
            r = input(hR, b);
            rc = input(hRc, b);
            rr = input(hRr, b);
            lc = input(hLc, b);
            lr = input(hLr, b);
            dc = output(b);
            dr = output(b);
            losses = output(b);
            rwc = output(b);
            rwr = output(b);
            stats = output(5); // A4J_PREF_STATS
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
    }

    // ---------------------------------------------------------------- JMH

    public static class S extends PairsTrial<Case> {
        @Param({"sigmoid", "ipo", "simpo"})
        public String loss;

        Kind kind;

        @Override
        Case open(Device device) {
            kind = Kind.valueOf(loss.toUpperCase(java.util.Locale.ROOT));
            return new Case(device, B, SEED);
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
        SmallKernels.eachPairCount(ctx, FAMILY, (b, name) -> {
            try (Case c = new Case(ctx.device(), b, ctx.seed())) {
                for (Kind k : Kind.values())
                    SmallKernels.measure(ctx, FAMILY, k.label, name, b, (long) k.bytesPerPair * b, () -> c.run(k),
                            () -> c.kernel(k), () -> c.naive(k));
            }
        });
    }
}
