package dev.align4j.bench;

import dev.align4j.kernels.Gae;
import dev.align4j.kernels.GroupAdvantage;
import dev.align4j.kernels.Whiten;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * {@link Gae} (γ = 1, λ = 0.95: advantages and returns) and {@link Whiten} (masked whitening of the
 * advantages, shiftMean) at [B, T] = 256×1024 by default. Inputs: rewards ~ N(0, 0.1²), values ~ N(0, 1),
 * x ~ N(0, 1), a right-padded mask (lengths U[T/2, T]). Bytes: GAE reads rewards, values, mask and writes
 * advantages, returns (20·B·T); whitening reads x and mask and writes out (12·B·T; the two-pass kernel
 * reads x twice, which a cache-resident [B, T] mostly hides: the floor counts the minimum). GRPO's
 * {@link GroupAdvantage} (scale "group", eps 1e-4) takes the B·T elements of x as rewards in groups of 8: it is
 * one value per completion in training, so this measures its throughput, not a training shape. Bytes: reads N,
 * writes N and 12 per group (9.5·N).
 *
 * <p>Variants as in {@link PolicyLossBench}. The naive GAE is TRL's reversed loop over t, each step a
 * [B]-vector op on fresh arrays (strided column access, as TRL's {@code values[:, t]}).
 * JMH: {@code java -jar benchmarks.jar GaeBench [-p B=256 -p T=1024]}.
 */
public class GaeBench extends JmhDefaults {
    static final String FAMILY = "gae";
    static final int GROUP = 8; // GRPO's num_generations in the group-advantage benchmark

    static final class Case extends BenchCase {
        final int b, t;
        final float[] hR, hV, hMask, hX;
        final Tensor rewards, values, mask, adv, ret, x, out, work, stats, flat, flatOut, groupMean, groupStd,
                groupZero;

        Case(Device device, int b, int t, long seed) {
            super(device);
            this.b = b;
            this.t = t;
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = Math.multiplyExact(b, t);
            hR = SmallKernels.normal(rnd, n, 0, 0.1);
            hV = SmallKernels.normal(rnd, n, 0, 1);
            hMask = SmallKernels.prefixMask(rnd, b, t);
            hX = SmallKernels.normal(rnd, n, 0, 1);
            rewards = input(hR, b, t);
            values = input(hV, b, t);
            mask = input(hMask, b, t);
            adv = output(b, t);
            ret = output(b, t);
            x = input(hX, b, t);
            out = output(b, t);
            work = output(DType.F64, 2L * b); // A4J_WHITEN_ROW doubles per row
            stats = output(2);
            flat = input(hX, n);
            flatOut = output(n);
            groupMean = output(n / GROUP);
            groupStd = output(n / GROUP);
            groupZero = output(n / GROUP);
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

        float groupAdvantage() {
            return sink += GroupAdvantage.compute(flat, GROUP, GroupAdvantage.Scale.GROUP, GroupAdvantage.DEFAULT_EPS,
                    flatOut, groupMean, groupStd, groupZero).rewardStd();
        }

        float[][] groupAdvantageNaive() {
            return new float[][] {Naive.groupAdvantage(hX, GROUP)};
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

    @Benchmark
    public float groupAdvantage(S s) {
        return s.c.groupAdvantage();
    }

    @Benchmark
    public float[][] groupAdvantageNaive(S s) {
        return s.c.groupAdvantageNaive();
    }

    // ---------------------------------------------------------------- report

    static void report(Report.Context ctx) {
        SmallKernels.eachBtShape(ctx, FAMILY, (b, t, name) -> {
            long bt = (long) b * t;
            try (Case c = new Case(ctx.device(), b, t, ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "gae", name, bt, 20 * bt, c::gae, c::gaeKernel, c::gaeNaive);
                SmallKernels.measure(ctx, FAMILY, "whiten", name, bt, 12 * bt, c::whiten, c::whitenKernel, c::whitenNaive);
                SmallKernels.measure(ctx, FAMILY, "group_advantage", name, bt, 8 * bt + 12 * (bt / GROUP), c::groupAdvantage,
                        null, c::groupAdvantageNaive);
            }
        });
    }
}
