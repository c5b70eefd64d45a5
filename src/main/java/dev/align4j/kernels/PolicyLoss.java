package dev.align4j.kernels;

import dev.align4j.config.Knob;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The clipped PPO/GRPO policy loss, its gradient with respect to the new log-probs, and TRL's metrics, in one
 * fused pass over {@code [B, T]} tensors. Per token, with ratio ρ and advantage A:
 * <pre>
 *   L = max(−A·ρ, −A·clip(ρ, 1 − epsLow, 1 + epsHigh))
 *   with dual clip c &gt; 1, for A &lt; 0:  L = min(L, −c·A)
 *   with beta &gt; 0:                    L += β·(e^u − u − 1),  u = ℓ_ref − ℓ_new   (TRL's k3 per_token_kl)
 * </pre>
 * The ratio ({@link Level}) is per token, ρ = exp(ℓ_new − ℓ_old), or per sequence (GSPO), the same for every token
 * of a row: s = exp(Σ_t m·(ℓ_new − ℓ_old) / Σ_t m), clipped with the same epsLow/epsHigh (GSPO uses much smaller ones
 * than the token level). Advantages are per token {@code [B, T]} (PPO) or per sequence {@code [B]} (GRPO). Per-token
 * losses are aggregated over the response mask m ({@link Aggregation}, or {@link LossType} under TRL's names): a
 * token-mean over the batch (bnpo), the mean over sequences of their token-means (grpo), the token sum over
 * B·maxCompletionLength (dr_grpo) or over the caller's token count of the whole generation batch (dapo). The
 * gradient {@code dlogpNew = ∂loss/∂ℓ_new} is 0 off the mask; the policy term's is 0 wherever the clipped branch or
 * the dual cap is active (on a tie the unclipped branch is used), and at sequence level it is
 * s·m_t/n_b · Σ_t' (−A_t'·w_t') over the row's unclipped tokens. With no masked token at all, the loss, metrics and
 * gradient are 0. When {@code logpNew} equals {@code logpOld} bit for bit the ratio is exactly 1.0f at both levels.
 *
 * <p>Metrics (token-means over the mask, whatever the aggregation): {@code clipfrac} = share of tokens where
 * −A·clip(ρ) &gt; −A·ρ; {@code approxkl} as k1 = mean d and k3 = mean(e^{−d} − 1 + d) with d = ℓ_old − ℓ_new (per
 * token at both levels); the dual-clip fraction; TRL's {@code kl} (mean k3 to the reference, 0 when β = 0) and
 * {@code clip_ratio/low_mean} (ρ &lt; 1 − epsLow and A &lt; 0), {@code clip_ratio/high_mean} (ρ &gt; 1 + epsHigh
 * and A &gt; 0), {@code clip_ratio/region_mean} (either). TRL averages the clip ratios of the sequence level over
 * sequences; here they are token-means at both levels.
 *
 * <p>All inputs are F32 on one device, finite (padding included), with a mask of exactly 0 or 1. {@code logpRef} is
 * only read when β &gt; 0 and may be null otherwise.
 *
 * <pre>{@code
 * try (Scope scope = new Scope()) {
 *     PolicyLoss.Result r = PolicyLoss.compute(scope, logpNew, logpOld, advantages, mask, PolicyLoss.Config.DEFAULT);
 *     float loss = r.stats().loss();   // r.dlogpNew() feeds LogProbs.backward
 *     // GRPO: per-sequence advantages [B], a reference, DAPO's normaliser
 *     PolicyLoss.Config grpo = PolicyLoss.Config.DEFAULT.withEps(0.2f, 0.28f).withBeta(0.04f)
 *             .withLossType(PolicyLoss.LossType.DAPO);
 *     PolicyLoss.Result g = PolicyLoss.compute(scope, logpNew, logpOld, logpRef, seqAdvantages, mask, grpo, batchTokens);
 * }
 * }</pre>
 */
public final class PolicyLoss {
    private PolicyLoss() {}

    /** How per-token losses become one number (PPO's; see {@link LossType} for GRPO's, under TRL's names). */
    public enum Aggregation {
        /** Σ m·L / Σ m over every token of the batch (TRL's bnpo). */
        TOKEN_MEAN,
        /**
         * Mean over sequences (with at least one masked token) of Σ_t m·L / Σ_t m (TRL's grpo; TRL also counts rows
         * without a token, as 0, in the mean).
         */
        SEQUENCE_MEAN;

        /** The native AGG_* constant of the same name. */
        final int code = NativeConstants.code("AGG", this);
    }

    /**
     * TRL's {@code loss_type}: two of them are the {@link Aggregation}s, two divide the batch's token sum by a
     * constant, so that the gradient does not depend on the lengths of the other completions (Dr. GRPO) or so that
     * minibatches add up to the generation batch's token-mean (DAPO). TRL also divides grpo, bnpo and dr_grpo by its
     * gradient-accumulation steps; that is left to the caller.
     */
    public enum LossType {
        /** Mean over sequences of their token-means: {@link Aggregation#SEQUENCE_MEAN}. */
        GRPO,
        /** Token-mean over the batch: {@link Aggregation#TOKEN_MEAN}. */
        BNPO,
        /** Σ m·L / (B · {@link Config#maxCompletionLength()}), B the rows of the call (Dr. GRPO). */
        DR_GRPO,
        /**
         * Σ m·L / the completion tokens of the whole generation batch, given to each call as {@code dapoNormalizer}
         * (TRL's num_items_in_batch).
         */
        DAPO;

        /** The native AGG_* constant that computes it. */
        final int code = switch (name()) {
            case "GRPO" -> NativeConstants.AGG_SEQUENCE_MEAN;
            case "BNPO" -> NativeConstants.AGG_TOKEN_MEAN;
            default -> NativeConstants.code("AGG", this);
        };

        /** TRL's name: grpo, bnpo, dr_grpo or dapo. */
        public String trlName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** The loss type of TRL's name (grpo, bnpo, dr_grpo, dapo; case, and - for _, ignored). */
        public static LossType ofTrlName(String name) {
            if (name != null)
                for (LossType t : values())
                    if (t.trlName().equalsIgnoreCase(name.replace('-', '_'))) return t;
            throw new IllegalArgumentException("loss_type must be one of grpo, bnpo, dr_grpo, dapo, got " + name);
        }

        /** The aggregation it is, for GRPO and BNPO; null for the other two. */
        public Aggregation aggregation() {
            return this == GRPO ? Aggregation.SEQUENCE_MEAN : this == BNPO ? Aggregation.TOKEN_MEAN : null;
        }
    }

    /** TRL's {@code importance_sampling_level}: where the ratio is taken. */
    public enum Level {
        /** ρ_t = exp(ℓ_new − ℓ_old) per token (PPO, GRPO). */
        TOKEN,
        /** One ratio per sequence, exp of the masked mean of ℓ_new − ℓ_old (GSPO). */
        SEQUENCE;

        /** The native RATIO_* constant of the same name. */
        final int code = NativeConstants.code("RATIO", this);
    }

    /**
     * Options. Defaults ({@link #DEFAULT}): {@code epsLow = epsHigh = 0.2} (symmetric clip, as TRL's
     * {@code cliprange}), dual clip off, {@link Aggregation#TOKEN_MEAN}, {@link Level#TOKEN}, beta 0 (no reference
     * KL), lossType null (the aggregation decides), maxCompletionLength 0 (unset; {@link LossType#DR_GRPO} needs it).
     *
     * @param epsLow              lower clip: ρ is clipped below at 1 − epsLow; in [0, 1]
     * @param epsHigh             upper clip: ρ is clipped above at 1 + epsHigh; finite and &gt;= 0 (DAPO's
     *                            "clip-higher" uses epsHigh &gt; epsLow)
     * @param dualClip            c of dual-clip PPO (Ye et al. 2020), &gt; 1; 0 (or any value &lt;= 0) turns it off
     * @param aggregation         token-mean or sequence-mean (ignored when lossType is DR_GRPO or DAPO)
     * @param level               per-token or per-sequence (GSPO) ratio
     * @param beta                β of the k3 KL to the reference in the loss, finite and &gt;= 0 (0: off, logpRef
     *                            not needed)
     * @param lossType            TRL's loss_type, or null for {@code aggregation}; GRPO and BNPO must agree with
     *                            {@code aggregation} ({@link #withLossType} sets both)
     * @param maxCompletionLength Dr. GRPO's constant length (TRL's max_completion_length), &gt;= 0; must be &gt;= 1
     *                            with {@link LossType#DR_GRPO}
     */
    public record Config(@Knob(name = "clip-low", doc = "lower clip epsilon of the policy ratio (1 - eps)", label = "EPS") float epsLow,
                         @Knob(name = "clip-high", doc = "upper clip epsilon of the policy ratio (1 + eps; DAPO's clip-higher when "
                                 + "larger)", label = "EPS") float epsHigh,
                         @Knob(doc = "dual-clip constant c > 1 for negative advantages (0: off)", label = "C") float dualClip,
                         @Knob(name = "loss-agg", doc = "how token losses are averaged") Aggregation aggregation,
                         Level level, float beta, LossType lossType, int maxCompletionLength) {
        public static final Config DEFAULT = new Config(0.2f, 0.2f, 0f, Aggregation.TOKEN_MEAN);

        public Config {
            if (!(epsLow >= 0 && epsLow <= 1))
                throw new IllegalArgumentException("epsLow must be in [0, 1], got " + epsLow);
            Args.nonNegative("epsHigh", epsHigh);
            if (Float.isNaN(dualClip) || (dualClip > 0 && !(dualClip > 1 && dualClip < Float.POSITIVE_INFINITY)))
                throw new IllegalArgumentException(
                        "dualClip must be finite and > 1 when enabled (<= 0 turns it off), got " + dualClip);
            if (aggregation == null) throw new IllegalArgumentException("aggregation must not be null");
            if (level == null) throw new IllegalArgumentException("level must not be null");
            Args.nonNegative("beta", beta);
            if (lossType != null && lossType.aggregation() != null && lossType.aggregation() != aggregation)
                throw new IllegalArgumentException("lossType " + lossType + " is aggregation " + lossType.aggregation()
                        + ", but aggregation is " + aggregation + " (withLossType sets both)");
            if (maxCompletionLength < 0)
                throw new IllegalArgumentException("maxCompletionLength must be >= 0 (0: unset), got " + maxCompletionLength);
        }

        /** PPO's options: token level, no reference KL, no loss type, maxCompletionLength unset. */
        public Config(float epsLow, float epsHigh, float dualClip, Aggregation aggregation) {
            this(epsLow, epsHigh, dualClip, aggregation, Level.TOKEN, 0f, null, 0);
        }

        /** Symmetric clip range ε: epsLow = epsHigh = ε. */
        public Config withEps(float eps) {
            return withEps(eps, eps);
        }

        public Config withEps(float epsLow, float epsHigh) {
            return new Config(epsLow, epsHigh, dualClip, aggregation, level, beta, lossType, maxCompletionLength);
        }

        /** Dual clip c &gt; 1, or a value &lt;= 0 for off. */
        public Config withDualClip(float c) {
            return new Config(epsLow, epsHigh, c, aggregation, level, beta, lossType, maxCompletionLength);
        }

        /** The aggregation, with no loss type (PPO's). */
        public Config withAggregation(Aggregation a) {
            return new Config(epsLow, epsHigh, dualClip, a, level, beta, null, maxCompletionLength);
        }

        /** TRL's loss_type (GRPO and BNPO also set the aggregation they are). */
        public Config withLossType(LossType t) {
            Aggregation a = t != null && t.aggregation() != null ? t.aggregation() : aggregation;
            return new Config(epsLow, epsHigh, dualClip, a, level, beta, t, maxCompletionLength);
        }

        /** TRL's importance_sampling_level. */
        public Config withLevel(Level l) {
            return new Config(epsLow, epsHigh, dualClip, aggregation, l, beta, lossType, maxCompletionLength);
        }

        /** β of the k3 KL to the reference (0: off). */
        public Config withBeta(float b) {
            return new Config(epsLow, epsHigh, dualClip, aggregation, level, b, lossType, maxCompletionLength);
        }

        /** Dr. GRPO's constant length (TRL's max_completion_length). */
        public Config withMaxCompletionLength(int length) {
            return new Config(epsLow, epsHigh, dualClip, aggregation, level, beta, lossType, length);
        }

        public boolean dualClipEnabled() {
            return dualClip > 0;
        }

        /** The loss type in effect: lossType, or the one the aggregation is. */
        public LossType effectiveLossType() {
            return lossType != null ? lossType : aggregation == Aggregation.TOKEN_MEAN ? LossType.BNPO : LossType.GRPO;
        }
    }

    /**
     * Scalars read back to the host, under TRL's names: {@code loss} (policy/loss), {@code clipFrac}
     * (policy/clipfrac), {@code approxKlK1}, {@code approxKlK3} (policy/approxkl), {@code dualClipFrac},
     * {@code tokens} = Σ m; GRPO's {@code kl}, {@code clipRatioLowMean} (clip_ratio/low_mean),
     * {@code clipRatioHighMean} (clip_ratio/high_mean) and {@code clipRatioRegionMean} (clip_ratio/region_mean, their
     * sum: the two are disjoint).
     */
    public record Stats(float loss, float clipFrac, float approxKlK1, float approxKlK3, float dualClipFrac, long tokens,
                        float kl, float clipRatioLowMean, float clipRatioHighMean, float clipRatioRegionMean) {}

    /** {@code dlogpNew} {@code [B, T]} in the caller's scope, and the stats. */
    public record Result(Tensor dlogpNew, Stats stats) implements AutoCloseable {
        @Override
        public void close() {
            dlogpNew.close();
        }
    }

    /** Host-array result of the {@code float[]} overloads. */
    public record HostResult(float[] dlogpNew, Stats stats) {}

    /** Loss and gradient, the gradient in a new tensor of {@code scope} (no reference: {@code config.beta()} 0). */
    public static Result compute(Scope scope, Tensor logpNew, Tensor logpOld, Tensor advantages, Tensor mask,
                                 Config config) {
        return compute(scope, logpNew, logpOld, null, advantages, mask, config, 0);
    }

    /**
     * Loss and gradient into a caller-provided {@code dlogpNew} (F32, the shape of {@code logpNew}); no reference
     * ({@code config.beta()} 0), not DAPO.
     */
    public static Stats compute(Tensor logpNew, Tensor logpOld, Tensor advantages, Tensor mask, Config config,
                                Tensor dlogpNew) {
        return compute(logpNew, logpOld, null, advantages, mask, config, 0, dlogpNew);
    }

    /**
     * The full loss, the gradient in a new tensor of {@code scope}.
     *
     * @param logpRef        the reference model's log-probs {@code [B, T]}; read only when {@code config.beta() > 0}
     *                       (null allowed otherwise)
     * @param advantages     {@code [B, T]} per token, or {@code [B]} per sequence
     * @param dapoNormalizer {@link LossType#DAPO}'s divisor, finite and &gt; 0: the completion tokens of the whole
     *                       generation batch (TRL's num_items_in_batch); ignored by the other aggregations
     */
    public static Result compute(Scope scope, Tensor logpNew, Tensor logpOld, Tensor logpRef, Tensor advantages,
                                 Tensor mask, Config config, double dapoNormalizer) {
        return withGradient(scope, "logpNew", logpNew,
                g -> new Result(g, compute(logpNew, logpOld, logpRef, advantages, mask, config, dapoNormalizer, g)));
    }

    /** The full loss (see the overload with a scope) into a caller-provided {@code dlogpNew} {@code [B, T]}. */
    public static Stats compute(Tensor logpNew, Tensor logpOld, Tensor logpRef, Tensor advantages, Tensor mask,
                                Config config, double dapoNormalizer, Tensor dlogpNew) {
        String[] names = {"logpNew", "logpOld", "logpRef", "advantages", "mask", "dlogpNew"};
        Tensor[] tensors = {logpNew, logpOld, logpRef, advantages, mask, dlogpNew};
        Device device = Args.sameDevice(names, tensors);
        for (int i = 0; i < tensors.length; i++) if (i != 2) Args.open(names[i], tensors[i]);
        if (config == null) throw new IllegalArgumentException("config must not be null");
        boolean kl = config.beta() > 0;
        if (kl && logpRef == null)
            throw new IllegalArgumentException("logpRef must not be null when beta > 0 (beta = " + config.beta() + ")");
        long[] bt = batchShape(names[0], logpNew);
        Args.f32("logpOld", logpOld, false, bt);
        Args.f32("logpRef", logpRef, true, bt);
        Args.dtype("advantages", advantages, DType.F32);
        boolean perToken = advantages.rank() == 2;
        if (!(perToken ? Arrays.equals(advantages.shape(), bt)
                : advantages.rank() == 1 && advantages.dim(0) == bt[0]))
            throw new IllegalArgumentException("advantages: expected shape [B, T] = " + Arrays.toString(bt)
                    + " or [B] = [" + bt[0] + "], got " + Arrays.toString(advantages.shape()));
        Args.f32("mask", mask, false, bt);
        Args.f32("dlogpNew", dlogpNew, false, bt);
        double norm = normaliser(config, bt[0], dapoNormalizer);
        Args.mask("mask", mask);
        Args.finiteValues("logpNew", logpNew);
        Args.finiteValues("logpOld", logpOld);
        Args.finiteValues("advantages", advantages);
        if (kl) Args.finiteValues("logpRef", logpRef);
        Batch batch = new Batch(device, bt[0], bt[1]);
        float[] s = batch.run(NativeConstants.POLICY_ROW, NativeConstants.POLICY_STATS, (work, stats) ->
                NativeKernels.policyLoss(batch.device(), logpNew, logpOld, kl ? logpRef : null, advantages, mask,
                        batch.b(), batch.t(), perToken ? 1 : 0, config.level().code, config.epsLow(), config.epsHigh(),
                        config.dualClipEnabled() ? config.dualClip() : 0f, config.beta(), config.effectiveLossType().code,
                        norm, dlogpNew, work, stats));
        return new Stats(s[0], s[1], s[2], s[3], s[4], Math.round((double) s[8]), s[5], s[6], s[7], s[6] + s[7]);
    }

    /** Convenience on Java arrays (CPU), each {@code [b·t]} row-major; no reference ({@code config.beta()} 0). */
    public static HostResult compute(float[] logpNew, float[] logpOld, float[] advantages, float[] mask, int b, int t,
                                     Config config) {
        return compute(logpNew, logpOld, null, advantages, mask, b, t, config, 0);
    }

    /**
     * The full loss on Java arrays (CPU), {@code [b·t]} row-major; {@code advantages} has b·t values (per token) or
     * b (per sequence; the same thing when t = 1); {@code logpRef} may be null when {@code config.beta()} is 0.
     */
    public static HostResult compute(float[] logpNew, float[] logpOld, float[] logpRef, float[] advantages,
                                     float[] mask, int b, int t, Config config, double dapoNormalizer) {
        checkArrays(b, t, new String[] {"logpNew", "logpOld", "mask"}, logpNew, logpOld, mask);
        if (logpRef != null) checkArrays(b, t, new String[] {"logpRef"}, logpRef);
        if (advantages == null) throw new IllegalArgumentException("advantages must not be null");
        boolean perSequence = advantages.length == b && advantages.length != (long) b * t;
        if (!perSequence) checkArrays(b, t, new String[] {"advantages"}, advantages);
        try (Scope s = new Scope()) {
            Device cpu = Device.cpu();
            Tensor adv = perSequence ? s.of(cpu, advantages, b) : s.of(cpu, advantages, b, t);
            Result r = compute(s, s.of(cpu, logpNew, b, t), s.of(cpu, logpOld, b, t),
                    logpRef == null ? null : s.of(cpu, logpRef, b, t), adv, s.of(cpu, mask, b, t), config, dapoNormalizer);
            return new HostResult(r.dlogpNew().toFloatArray(), r.stats());
        }
    }

    /** The divisor of DR_GRPO (B·maxCompletionLength) and DAPO (the caller's); 0 for the others, which do not use it. */
    private static double normaliser(Config config, long b, double dapoNormalizer) {
        return switch (config.effectiveLossType()) {
            case GRPO, BNPO -> 0;
            case DR_GRPO -> {
                if (config.maxCompletionLength() < 1)
                    throw new IllegalArgumentException("maxCompletionLength must be >= 1 with LossType.DR_GRPO, got "
                            + config.maxCompletionLength());
                yield Math.max(b, 1) * (double) config.maxCompletionLength();
            }
            case DAPO -> {
                if (!(dapoNormalizer > 0 && dapoNormalizer < Double.POSITIVE_INFINITY))
                    throw new IllegalArgumentException("dapoNormalizer (the generation batch's completion tokens) must be "
                            + "finite and > 0 with LossType.DAPO, got " + dapoNormalizer);
                yield dapoNormalizer;
            }
        };
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
