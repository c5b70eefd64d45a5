package dev.align4j.kernels;

import dev.align4j.config.Knob;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The clipped PPO policy loss, its gradient with respect to the new log-probs, and TRL's metrics, in one
 * fused pass over {@code [B, T]} tensors. Per token, with ratio ρ = exp(ℓ_new − ℓ_old) and advantage A:
 * <pre>
 *   L = max(−A·ρ, −A·clip(ρ, 1 − epsLow, 1 + epsHigh))
 *   with dual clip c &gt; 1, for A &lt; 0:  L = min(L, −c·A)
 * </pre>
 * aggregated over the response mask m either as a token-mean Σ m·L / Σ m over the whole batch
 * ({@link Aggregation#TOKEN_MEAN}, TRL's default) or as the mean over sequences of their token-means
 * ({@link Aggregation#SEQUENCE_MEAN}; sequences without a masked token are left out). The gradient
 * {@code dlogpNew = ∂loss/∂ℓ_new} is 0 off the mask and wherever the clipped branch or the dual cap is
 * active; on a tie the unclipped branch is used. With no masked token at all, the loss, metrics and
 * gradient are 0.
 *
 * <p>Metrics (token-means over the mask, whatever the aggregation): {@code clipfrac} = share of tokens
 * where −A·clip(ρ) &gt; −A·ρ; {@code approxkl} as k1 = mean d and k3 = mean(e^{−d} − 1 + d) with
 * d = ℓ_old − ℓ_new; the dual-clip fraction = share of tokens where the cap is active.
 *
 * <p>All inputs are F32 {@code [B, T]} on one device, finite, with a mask of exactly 0 or 1.
 *
 * <pre>{@code
 * try (Scope scope = new Scope()) {
 *     PolicyLoss.Result r = PolicyLoss.compute(scope, logpNew, logpOld, advantages, mask, PolicyLoss.Config.DEFAULT);
 *     float loss = r.stats().loss();   // r.dlogpNew() feeds LogProbs.backward
 * }
 * }</pre>
 */
public final class PolicyLoss {
    private PolicyLoss() {}

    /** How per-token losses become one number. */
    public enum Aggregation {
        /** Σ m·L / Σ m over every token of the batch. */
        TOKEN_MEAN,
        /** Mean over sequences (with at least one masked token) of Σ_t m·L / Σ_t m. */
        SEQUENCE_MEAN;

        /** The native AGG_* constant of the same name. */
        final int code = NativeConstants.code("AGG", this);
    }

    /**
     * Options. Defaults ({@link #DEFAULT}): {@code epsLow = epsHigh = 0.2} (symmetric clip, as TRL's
     * {@code cliprange}), dual clip off, {@link Aggregation#TOKEN_MEAN}.
     *
     * @param epsLow      lower clip: ρ is clipped below at 1 − epsLow; in [0, 1]
     * @param epsHigh     upper clip: ρ is clipped above at 1 + epsHigh; finite and &gt;= 0 (DAPO's
     *                    "clip-higher" uses epsHigh &gt; epsLow)
     * @param dualClip    c of dual-clip PPO (Ye et al. 2020), &gt; 1; 0 (or any value &lt;= 0) turns it off
     * @param aggregation token-mean or sequence-mean
     */
    public record Config(@Knob(name = "clip-low", doc = "lower clip epsilon of the policy ratio (1 - eps)", label = "EPS") float epsLow,
                         @Knob(name = "clip-high", doc = "upper clip epsilon of the policy ratio (1 + eps; DAPO's clip-higher when "
                                 + "larger)", label = "EPS") float epsHigh,
                         @Knob(doc = "dual-clip constant c > 1 for negative advantages (0: off)", label = "C") float dualClip,
                         @Knob(name = "loss-agg", doc = "how token losses are averaged") Aggregation aggregation) {
        public static final Config DEFAULT = new Config(0.2f, 0.2f, 0f, Aggregation.TOKEN_MEAN);

        public Config {
            if (!(epsLow >= 0 && epsLow <= 1))
                throw new IllegalArgumentException("epsLow must be in [0, 1], got " + epsLow);
            Args.nonNegative("epsHigh", epsHigh);
            if (Float.isNaN(dualClip) || (dualClip > 0 && !(dualClip > 1 && dualClip < Float.POSITIVE_INFINITY)))
                throw new IllegalArgumentException(
                        "dualClip must be finite and > 1 when enabled (<= 0 turns it off), got " + dualClip);
            if (aggregation == null) throw new IllegalArgumentException("aggregation must not be null");
        }

        /** Symmetric clip range ε: epsLow = epsHigh = ε. */
        public Config withEps(float eps) {
            return new Config(eps, eps, dualClip, aggregation);
        }

        public Config withEps(float epsLow, float epsHigh) {
            return new Config(epsLow, epsHigh, dualClip, aggregation);
        }

        /** Dual clip c &gt; 1, or a value &lt;= 0 for off. */
        public Config withDualClip(float c) {
            return new Config(epsLow, epsHigh, c, aggregation);
        }

        public Config withAggregation(Aggregation a) {
            return new Config(epsLow, epsHigh, dualClip, a);
        }

        public boolean dualClipEnabled() {
            return dualClip > 0;
        }
    }

    /**
     * Scalars read back to the host, under TRL's names: {@code loss} (policy/loss), {@code clipFrac}
     * (policy/clipfrac), {@code approxKlK1}, {@code approxKlK3} (policy/approxkl), {@code dualClipFrac},
     * and {@code tokens} = Σ m.
     */
    public record Stats(float loss, float clipFrac, float approxKlK1, float approxKlK3, float dualClipFrac, long tokens) {}

    /** {@code dlogpNew} {@code [B, T]} in the caller's scope, and the stats. */
    public record Result(Tensor dlogpNew, Stats stats) implements AutoCloseable {
        @Override
        public void close() {
            dlogpNew.close();
        }
    }

    /** Host-array result of {@link #compute(float[], float[], float[], float[], int, int, Config)}. */
    public record HostResult(float[] dlogpNew, Stats stats) {}

    /** Loss and gradient, the gradient in a new tensor of {@code scope}. */
    public static Result compute(Scope scope, Tensor logpNew, Tensor logpOld, Tensor advantages, Tensor mask,
                                 Config config) {
        return withGradient(scope, "logpNew", logpNew,
                g -> new Result(g, compute(logpNew, logpOld, advantages, mask, config, g)));
    }

    /** Loss and gradient into a caller-provided {@code dlogpNew} (F32, the shape of {@code logpNew}). */
    public static Stats compute(Tensor logpNew, Tensor logpOld, Tensor advantages, Tensor mask, Config config,
                                Tensor dlogpNew) {
        Batch batch = checkLoss(new String[] {"logpNew", "logpOld", "advantages", "mask", "dlogpNew"},
                new Tensor[] {logpNew, logpOld, advantages, mask, dlogpNew}, config);
        float[] s = batch.run(NativeConstants.POLICY_ROW, NativeConstants.POLICY_STATS, (work, stats) ->
                NativeKernels.policyLoss(batch.device(), logpNew, logpOld, advantages, mask, batch.b(), batch.t(),
                        config.epsLow(), config.epsHigh(), config.dualClipEnabled() ? config.dualClip() : 0f,
                        config.aggregation().code, dlogpNew, work, stats));
        return new Stats(s[0], s[1], s[2], s[3], s[4], Math.round((double) s[5]));
    }

    /** Convenience on Java arrays (CPU), each {@code [b·t]} row-major. */
    public static HostResult compute(float[] logpNew, float[] logpOld, float[] advantages, float[] mask, int b, int t,
                                     Config config) {
        return onHost(b, t, new String[] {"logpNew", "logpOld", "advantages", "mask"},
                new float[][] {logpNew, logpOld, advantages, mask}, (s, in) -> {
                    Result r = compute(s, in[0], in[1], in[2], in[3], config);
                    return new HostResult(r.dlogpNew().toFloatArray(), r.stats());
                });
    }

    /** A PPO loss computed into a new gradient of {@code scope} shaped like {@code input} (F32), its first input. */
    static <R> R withGradient(Scope scope, String name, Tensor input, Function<Tensor, R> lossInto) {
        Device device = Args.open(name, input);
        Args.dtype(name, input, DType.F32);
        return Args.withOutputs(scope, device, new long[][] {input.shape()}, out -> lossInto.apply(out[0]));
    }

    /** The device and {@code [B, T]} of a PPO loss's tensors. */
    record Batch(Device device, long b, long t) {
        /** Runs the loss's kernel with scratch work[B·row] and stats[stats] (F32) and returns the stats. */
        float[] run(int row, int stats, BiConsumer<Tensor, Tensor> kernel) {
            try (Scope tmp = new Scope()) {
                Tensor work = tmp.empty(device, DType.F32, b * row);
                Tensor out = tmp.empty(device, DType.F32, stats);
                kernel.accept(work, out);
                return out.toFloatArray();
            }
        }
    }

    /**
     * The checks of a PPO loss's tensors, named in {@code names}: three inputs, the mask, the gradient output; all
     * F32 {@code [B, T]}, open, on one device, the inputs finite and the mask 0/1. {@code config} must be non-null.
     */
    static Batch checkLoss(String[] names, Tensor[] tensors, Object config) {
        Device device = Args.sameDevice(names, tensors);
        for (int i = 0; i < tensors.length; i++) Args.open(names[i], tensors[i]);
        if (config == null) throw new IllegalArgumentException("config must not be null");
        long[] bt = batchShape(names[0], tensors[0]);
        for (int i = 1; i < tensors.length; i++) Args.f32(names[i], tensors[i], false, bt);
        Args.mask(names[3], tensors[3]);
        for (int i = 0; i < 3; i++) Args.finiteValues(names[i], tensors[i]);
        return new Batch(device, bt[0], bt[1]);
    }

    /** The {@code [B, T]} shape of a rank-2 F32 tensor. */
    static long[] batchShape(String name, Tensor t) {
        Args.dtype(name, t, DType.F32);
        if (t.rank() != 2)
            throw new IllegalArgumentException(name + " must have shape [B, T], got rank " + t.rank() + " (" + t.describe() + ")");
        return t.shape();
    }

    /** A PPO loss on Java arrays (CPU), each {@code [b·t]} row-major: {@code loss} gets them as tensors of a scope. */
    static <R> R onHost(int b, int t, String[] names, float[][] arrays, BiFunction<Scope, Tensor[], R> loss) {
        checkArrays(b, t, names, arrays);
        try (Scope s = new Scope()) {
            Tensor[] in = new Tensor[arrays.length];
            for (int i = 0; i < in.length; i++) in[i] = s.of(Device.cpu(), arrays[i], b, t);
            return loss.apply(s, in);
        }
    }

    /** Array lengths for the host convenience overloads. */
    static void checkArrays(int b, int t, String[] names, float[]... arrays) {
        if (b < 0 || t < 0) throw new IllegalArgumentException("b and t must be >= 0, got b = " + b + ", t = " + t);
        long n = (long) b * t;
        for (int i = 0; i < arrays.length; i++) {
            if (arrays[i] == null) throw new IllegalArgumentException(names[i] + " must not be null");
            if (arrays[i].length != n)
                throw new IllegalArgumentException(names[i] + " has " + arrays[i].length + " values, expected b·t = " + n);
        }
    }
}
