package dev.align4j.bench;

import dev.align4j.kernels.KlShaping;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * {@link KlShaping}: PPO's per-token rewards −β·k1 plus the score at the last response token (β = 0.05,
 * no EOS check, so no tokens tensor) at [B, T] = 256×1024 by default. Inputs: ℓ_old ~ U(−3, 0),
 * ℓ_ref = ℓ_old + N(0, 0.2²), scores ~ N(0, 1) [B], a right-padded mask. Bytes: reads ℓ_old, ℓ_ref, mask
 * and scores, writes rewards and kl: 20·B·T + 4·B. The public API also reduces the mask once more to count
 * rows without a response (that is in the align4j column, not in kernel-only).
 * JMH: {@code java -jar benchmarks.jar KlShapingBench [-p B=256 -p T=1024]}.
 */
public class KlShapingBench extends JmhDefaults {
    static final String FAMILY = "klshaping";
    private static final int K1 = 1; // KlShaping.Estimator.K1.code (package-private)

    static final class Case extends BenchCase {
        final int b, t;
        final float[] hOld, hRef, hMask, hScores;
        final Tensor old, ref, mask, scores, rewards, kl;
        final KlShaping.Config config = KlShaping.Config.defaults();

        Case(Device device, int b, int t, long seed) {
            super(device);
            this.b = b;
            this.t = t;
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = Math.multiplyExact(b, t);
            hOld = SmallKernels.uniform(rnd, n, -3, 0);
            hRef = SmallKernels.perturb(rnd, hOld, 0.2);
            hMask = SmallKernels.prefixMask(rnd, b, t);
            hScores = SmallKernels.normal(rnd, b, 0, 1);
            old = input(hOld, b, t);
            ref = input(hRef, b, t);
            mask = input(hMask, b, t);
            scores = input(hScores, b);
            rewards = output(b, t);
            kl = output(b, t);
        }

        long bytes() {
            return 20L * b * t + 4L * b;
        }

        float shape() {
            return sink += KlShaping.compute(old, ref, mask, scores, null, config, rewards, kl);
        }

        void kernel() {
            NativeKernels.klShaping(device, old, ref, mask, scores, null, b, t, config.beta(), K1, -1, 0f, rewards, kl);
            BenchAccess.synchronize(device);
        }

        float[][] naive() {
            return new float[][] {Naive.klShaping(hOld, hRef, hMask, hScores, b, t, config.beta())};
        }
    }

    // ---------------------------------------------------------------- JMH

    public static class S extends BtTrial<Case> {
        @Override
        Case open(Device device) {
            return new Case(device, B, T, SEED);
        }
    }

    @Benchmark
    public float klShaping(S s) {
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
        SmallKernels.eachBtShape(ctx, FAMILY, (b, t, name) -> {
            try (Case c = new Case(ctx.device(), b, t, ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "k1", name, (long) b * t, c.bytes(), c::shape, c::kernel, c::naive);
            }
        });
    }
}
