package dev.align4j.bench;

import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.ValueLoss;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * PPO's clipped policy loss ({@link PolicyLoss}: loss, dL/dℓ_new, clipfrac, approxkl) and clipped value
 * loss ({@link ValueLoss}: loss, dL/dV, clipfrac), defaults ε = 0.2, token-mean, at [B, T] = 256×1024 by
 * default. Inputs: ℓ_old ~ U(−3, 0), ℓ_new = ℓ_old + N(0, 0.2²) (so some ratios clip), A ~ N(0, 1);
 * V ~ N(0, 1), V_old = V + N(0, 0.2²), G ~ N(0, 1); a right-padded mask (lengths U[T/2, T]). Bytes each
 * kernel must move: four [B, T] reads and one [B, T] write, 20·B·T.
 *
 * <p>Variants: align4j (the public API, validation included, into a preallocated gradient), kernel-only
 * (NativeKernels with preallocated scratch, no validation), naive (TRL's ops in plain Java, {@link Naive}).
 * JMH: {@code java -jar benchmarks.jar PolicyLossBench [-p B=256 -p T=1024 -p device=cpu]}.
 */
public class PolicyLossBench extends JmhDefaults {
    static final String FAMILY = "policyloss";
    static final float EPS = 0.2f;
    private static final int TOKEN_MEAN = 0; // PolicyLoss.Aggregation.TOKEN_MEAN.code (package-private)

    static final class Case extends BenchCase {
        final int b, t;
        final float[] hNew, hOld, hAdv, hMask, hV, hVOld, hRet;
        final Tensor logpNew, logpOld, adv, mask, dlogp, pWork, pStats;
        final Tensor values, valuesOld, returns, dvalues, vWork, vStats;
        final double[] naiveStats = new double[4];

        Case(Device device, int b, int t, long seed) {
            super(device);
            this.b = b;
            this.t = t;
            SplittableRandom rnd = new SplittableRandom(seed);
            int n = Math.multiplyExact(b, t);
            hOld = SmallKernels.uniform(rnd, n, -3, 0);
            hNew = SmallKernels.perturb(rnd, hOld, 0.2);
            hAdv = SmallKernels.normal(rnd, n, 0, 1);
            hMask = SmallKernels.prefixMask(rnd, b, t);
            hV = SmallKernels.normal(rnd, n, 0, 1);
            hVOld = SmallKernels.perturb(rnd, hV, 0.2);
            hRet = SmallKernels.normal(rnd, n, 0, 1);
            logpNew = input(hNew, b, t);
            logpOld = input(hOld, b, t);
            adv = input(hAdv, b, t);
            mask = input(hMask, b, t);
            dlogp = output(b, t);
            pWork = output((long) b * 6); // A4J_POLICY_ROW
            pStats = output(6);           // A4J_POLICY_STATS
            values = input(hV, b, t);
            valuesOld = input(hVOld, b, t);
            returns = input(hRet, b, t);
            dvalues = output(b, t);
            vWork = output((long) b * 3); // A4J_VALUE_ROW
            vStats = output(3);           // A4J_VALUE_STATS
        }

        long bytes() {
            return 20L * b * t;
        }

        float policy() {
            return sink += PolicyLoss.compute(logpNew, logpOld, adv, mask, PolicyLoss.Config.DEFAULT, dlogp).loss();
        }

        float policyKernel() {
            NativeKernels.policyLoss(device, logpNew, logpOld, adv, mask, b, t, EPS, EPS, 0f, TOKEN_MEAN, dlogp, pWork, pStats);
            return sink += pStats.toFloatArray()[0];
        }

        float[][] policyNaive() {
            return new float[][] {Naive.policyLoss(hNew, hOld, hAdv, hMask, EPS, naiveStats)};
        }

        float value() {
            return sink += ValueLoss.compute(values, valuesOld, returns, mask, ValueLoss.Config.DEFAULT, dvalues).loss();
        }

        float valueKernel() {
            NativeKernels.valueLoss(device, values, valuesOld, returns, mask, b, t, EPS, TOKEN_MEAN, dvalues, vWork, vStats);
            return sink += vStats.toFloatArray()[0];
        }

        float[][] valueNaive() {
            return new float[][] {Naive.valueLoss(hV, hVOld, hRet, hMask, EPS, naiveStats)};
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
    public float policy(S s) {
        return s.c.policy();
    }

    @Benchmark
    public float policyKernelOnly(S s) {
        return s.c.policyKernel();
    }

    @Benchmark
    public float[][] policyNaive(S s) {
        return s.c.policyNaive();
    }

    @Benchmark
    public float value(S s) {
        return s.c.value();
    }

    @Benchmark
    public float valueKernelOnly(S s) {
        return s.c.valueKernel();
    }

    @Benchmark
    public float[][] valueNaive(S s) {
        return s.c.valueNaive();
    }

    // ---------------------------------------------------------------- report

    static void report(Report.Context ctx) {
        SmallKernels.eachBtShape(ctx, FAMILY, (b, t, name) -> {
            try (Case c = new Case(ctx.device(), b, t, ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "policy", name, (long) b * t, c.bytes(), c::policy, c::policyKernel,
                        c::policyNaive);
                SmallKernels.measure(ctx, FAMILY, "value", name, (long) b * t, c.bytes(), c::value, c::valueKernel,
                        c::valueNaive);
            }
        });
    }
}
