package dev.align4j.kernels;

import dev.align4j.config.Knob;

import dev.align4j.kernels.PolicyLoss.Aggregation;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * The clipped PPO value loss and its gradient, fused over {@code [B, T]} tensors. Per token, with value V,
 * the rollout's value V_old and return G:
 * <pre>
 *   V_clip = V_old + clip(V − V_old, −epsV, epsV)
 *   L = ½·max((V − G)², (V_clip − G)²)
 * </pre>
 * aggregated over the mask like {@link PolicyLoss} (token-mean or sequence-mean of token-means). The
 * gradient {@code dvalues = ∂loss/∂V} is 0 off the mask and where the clipped term is strictly larger
 * (V_clip does not move with V there); on a tie the unclipped branch is used. {@code clipFrac} is the
 * token-mean of [(V_clip − G)² &gt; (V − G)²] (TRL's {@code value/clipfrac}). No masked token: all 0.
 *
 * <p>All inputs are F32 {@code [B, T]} on one device, finite, with a mask of exactly 0 or 1.
 */
public final class ValueLoss {
    private ValueLoss() {}

    /**
     * Options. Defaults ({@link #DEFAULT}): {@code epsV = 0.2} (TRL's {@code cliprange_value}),
     * {@link Aggregation#TOKEN_MEAN}.
     *
     * @param epsV        clip range of the value around V_old; finite and &gt;= 0
     * @param aggregation token-mean or sequence-mean
     */
    public record Config(@Knob(name = "value-clip", doc = "value clip epsilon", label = "EPS") float epsV, Aggregation aggregation) {
        public static final Config DEFAULT = new Config(0.2f, Aggregation.TOKEN_MEAN);

        public Config {
            Args.nonNegative("epsV", epsV);
            if (aggregation == null) throw new IllegalArgumentException("aggregation must not be null");
        }

        public Config withEpsV(float eps) {
            return new Config(eps, aggregation);
        }

        public Config withAggregation(Aggregation a) {
            return new Config(epsV, a);
        }
    }

    /** Scalars read back to the host: {@code loss} (value loss), {@code clipFrac}, {@code tokens} = Σ m. */
    public record Stats(float loss, float clipFrac, long tokens) {}

    /** {@code dvalues} {@code [B, T]} in the caller's scope, and the stats. */
    public record Result(Tensor dvalues, Stats stats) implements AutoCloseable {
        @Override
        public void close() {
            dvalues.close();
        }
    }

    /** Host-array result of {@link #compute(float[], float[], float[], float[], int, int, Config)}. */
    public record HostResult(float[] dvalues, Stats stats) {}

    /** Loss and gradient, the gradient in a new tensor of {@code scope}. */
    public static Result compute(Scope scope, Tensor values, Tensor valuesOld, Tensor returns, Tensor mask,
                                 Config config) {
        return PolicyLoss.withGradient(scope, "values", values,
                g -> new Result(g, compute(values, valuesOld, returns, mask, config, g)));
    }

    /** Loss and gradient into a caller-provided {@code dvalues} (F32, the shape of {@code values}). */
    public static Stats compute(Tensor values, Tensor valuesOld, Tensor returns, Tensor mask, Config config,
                                Tensor dvalues) {
        PolicyLoss.Batch batch = PolicyLoss.checkLoss(new String[] {"values", "valuesOld", "returns", "mask", "dvalues"},
                new Tensor[] {values, valuesOld, returns, mask, dvalues}, config);
        float[] s = batch.run(NativeConstants.VALUE_ROW, NativeConstants.VALUE_STATS, (work, stats) ->
                NativeKernels.valueLoss(batch.device(), values, valuesOld, returns, mask, batch.b(), batch.t(),
                        config.epsV(), config.aggregation().code, dvalues, work, stats));
        return new Stats(s[0], s[1], Math.round((double) s[2]));
    }

    /** Convenience on Java arrays (CPU), each {@code [b·t]} row-major. */
    public static HostResult compute(float[] values, float[] valuesOld, float[] returns, float[] mask, int b, int t,
                                     Config config) {
        return PolicyLoss.onHost(b, t, new String[] {"values", "valuesOld", "returns", "mask"},
                new float[][] {values, valuesOld, returns, mask}, (s, in) -> {
                    Result r = compute(s, in[0], in[1], in[2], in[3], config);
                    return new HostResult(r.dvalues().toFloatArray(), r.stats());
                });
    }
}
