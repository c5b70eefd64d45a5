package dev.align4j.bench;

import dev.align4j.kernels.RewardLoss;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * {@link RewardLoss}: the Bradley–Terry loss −mean logσ(r⁺ − r⁻) with metrics and gradient, no margin,
 * no centring (TRL's defaults), over B pairs (64 and 1024 by default). Inputs r⁺, r⁻ ~ N(0, 1). Bytes:
 * reads 2·B floats, writes 2·B (16·B bytes): pure fixed cost at these sizes.
 * JMH: {@code java -jar benchmarks.jar RewardLossBench [-p B=64]}.
 */
public class RewardLossBench extends JmhDefaults {
    static final String FAMILY = "reward";

    static final class Case extends BenchCase {
        final int b;
        final float[] hC, hR;
        final Tensor c, r, dc, dr, stats;
        final double[] naiveStats = new double[5];

        Case(Device device, int b, long seed) {
            super(device);
            this.b = b;
            SplittableRandom rnd = new SplittableRandom(seed);
            hC = SmallKernels.normal(rnd, b, 0, 1);
            hR = SmallKernels.normal(rnd, b, 0, 1);
            c = input(hC, b);
            r = input(hR, b);
            dc = output(b);
            dr = output(b);
            stats = output(5); // A4J_RM_STATS
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
    }

    // ---------------------------------------------------------------- JMH

    public static class S extends PairsTrial<Case> {
        @Override
        Case open(Device device) {
            return new Case(device, B, SEED);
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
        SmallKernels.eachPairCount(ctx, FAMILY, (b, name) -> {
            try (Case c = new Case(ctx.device(), b, ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "bt", name, b, 16L * b, c::run, c::kernel, c::naive);
            }
        });
    }
}
