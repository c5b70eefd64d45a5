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
    private static final int TOKEN_LEVEL = 0; // PolicyLoss.Level.TOKEN.code

    static final class Case extends BenchCase {
        final int b, t;
        final float[] hNew, hOld, hAdv, hMask, hV, hVOld, hRet;
        final Tensor mask;
        /** policy: (ℓ_new, ℓ_old, A), dL/dℓ_new; value: (V, V_old, G), dL/dV. */
        final LossTensors policy, value;
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
            mask = input(hMask, b, t);
            policy = loss(hNew, hOld, hAdv, 9, 9); // A4J_POLICY_ROW, A4J_POLICY_STATS
            value = loss(hV, hVOld, hRet, 3, 3);   // A4J_VALUE_ROW, A4J_VALUE_STATS
        }

        /** The two clipped losses move the same tensors: three [B, T] inputs, the gradient, row scratch, stats. */
        record LossTensors(Tensor x, Tensor y, Tensor z, Tensor grad, Tensor work, Tensor stats) {}

        private LossTensors loss(float[] x, float[] y, float[] z, int rowFloats, int statFloats) {
            return new LossTensors(input(x, b, t), input(y, b, t), input(z, b, t), output(b, t),
                    output((long) b * rowFloats), output(statFloats));
        }

        long bytes() {
            return 20L * b * t;
        }

        float policy() {
            LossTensors p = policy;
            return sink += PolicyLoss.compute(p.x(), p.y(), p.z(), mask, PolicyLoss.Config.DEFAULT, p.grad()).loss();
        }

        float policyKernel() {
            LossTensors p = policy;
            NativeKernels.policyLoss(device, p.x(), p.y(), null, p.z(), mask, b, t, 1, TOKEN_LEVEL, EPS, EPS, 0f, 0f,
                    TOKEN_MEAN, 0.0, p.grad(), p.work(), p.stats());
            return sink += p.stats().toFloatArray()[0];
        }

        float[][] policyNaive() {
            return new float[][] {Naive.policyLoss(hNew, hOld, hAdv, hMask, EPS, naiveStats)};
        }

        float value() {
            LossTensors v = value;
            return sink += ValueLoss.compute(v.x(), v.y(), v.z(), mask, ValueLoss.Config.DEFAULT, v.grad()).loss();
        }

        float valueKernel() {
            LossTensors v = value;
            NativeKernels.valueLoss(device, v.x(), v.y(), v.z(), mask, b, t, EPS, TOKEN_MEAN, v.grad(), v.work(), v.stats());
            return sink += v.stats().toFloatArray()[0];
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
