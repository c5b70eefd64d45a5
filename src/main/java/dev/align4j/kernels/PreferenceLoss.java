package dev.align4j.kernels;

import dev.align4j.config.Knob;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * The DPO family of preference losses over B pairs, forward and gradient in one kernel. Inputs are
 * sequence log-probs (sums of token log-probs over each response, shape {@code [B]}): the policy's ℓ⁺θ
 * ({@code chosen}), ℓ⁻θ ({@code rejected}), the frozen reference's ℓ⁺ref, ℓ⁻ref, and the response lengths
 * |y⁺|, |y⁻| as float counts. With Δ = (ℓ⁺θ − ℓ⁻θ) − (ℓ⁺ref − ℓ⁻ref), log σ computed stably, β and the
 * label smoothing ε from {@link Config}:
 * <ul>
 *   <li>{@code SIGMOID} (DPO) and {@code CDPO}: −(1−ε) log σ(βΔ) − ε log σ(−βΔ) (ε = 0 is plain DPO)</li>
 *   <li>{@code ROBUST}: [−(1−ε) log σ(βΔ) + ε log σ(−βΔ)] / (1 − 2ε)</li>
 *   <li>{@code HINGE}: max(0, 1 − βΔ) (gradient 0 at the kink)</li>
 *   <li>{@code IPO}: (Δ̄ − 1/(2β))², Δ̄ = (ℓ⁺θ − ℓ⁺ref)/|y⁺| − (ℓ⁻θ − ℓ⁻ref)/|y⁻| (per-token averages)</li>
 *   <li>{@code LN_DPO}: −(1−ε) log σ(βΔ̄) − ε log σ(−βΔ̄)</li>
 *   <li>{@code SIMPO} (no reference): −(1−ε) log σ(z) − ε log σ(−z), z = β ℓ⁺θ/|y⁺| − β ℓ⁻θ/|y⁻| − γ</li>
 * </ul>
 * Outputs: the per-pair losses; {@code dchosen}, {@code drejected} = gradients of the MEAN loss w.r.t. ℓ⁺θ
 * and ℓ⁻θ (feed them to the log-prob backward); the implicit rewards rewards/chosen = β(ℓ⁺θ − ℓ⁺ref) and
 * rewards/rejected likewise — per-token averages β(ℓ − ℓref)/|y| for IPO and LN_DPO, β ℓ/|y| for SimPO —
 * and {@link Stats} under TRL's metric names. With B = 0 the outputs are empty and every statistic is 0
 * (the mean over no pairs is taken as 0, not NaN).
 *
 * <pre>{@code
 * try (Scope scope = new Scope()) {
 *     PreferenceLoss.Result r = PreferenceLoss.compute(scope, chosen, rejected, refChosen, refRejected,
 *             null, null, PreferenceLoss.Config.dpo());
 *     float loss = r.stats().loss();
 * }
 * }</pre>
 */
public final class PreferenceLoss {
    private PreferenceLoss() {}

    /** Loss types. */
    public enum Type {
        /** DPO: −log σ(βΔ) (with ε > 0 it is cDPO). */
        SIGMOID,
        /** Conservative DPO: the sigmoid loss with label smoothing ε (same kernel as SIGMOID). */
        CDPO,
        /** Robust DPO (Chowdhury et al.), unbiased under label noise ε < 0.5. */
        ROBUST,
        /** SLiC-style hinge max(0, 1 − βΔ). */
        HINGE,
        /** IPO on per-token-average log-probs; needs lengths. */
        IPO,
        /** Length-normalised DPO; needs lengths. */
        LN_DPO,
        /** SimPO: reference-free, length-normalised, with a target margin γ; needs lengths, takes no references. */
        SIMPO;

        /** The native PREF_* constant of the same name. */
        final int code = NativeConstants.code("PREF", this);

        /** Whether the loss reads the per-response lengths. */
        public boolean needsLengths() {
            return this == IPO || this == LN_DPO || this == SIMPO;
        }

        /** Whether the loss reads the reference log-probs (all but SimPO). */
        public boolean needsReference() {
            return this != SIMPO;
        }
    }

    /**
     * Loss configuration; invalid values fail at construction. Defaults follow TRL's DPOConfig (β = 0.1,
     * label smoothing 0, γ = 0) and, for SimPO, the SimPO paper's recipe (β = 2.0, γ/β = 0.5, i.e. γ = 1.0).
     * Note that TRL's CPOTrainer {@code simpo_gamma} is γ itself (z = βΔ − simpo_gamma), while the SimPO
     * repository's {@code gamma_beta_ratio} is γ/β; {@code gamma} here is the absolute margin γ.
     *
     * @param type            the loss
     * @param beta            β > 0: the inverse temperature (for IPO, the target margin is 1/(2β))
     * @param labelSmoothing  ε: the assumed probability that a label is flipped. In [0, 1) for the sigmoid-form
     *                        losses (SIGMOID, CDPO, LN_DPO, SIMPO), [0, 0.5) for ROBUST, 0 for HINGE and IPO
     * @param gamma           γ, SimPO's target reward margin (finite); must be 0 for the other losses
     */
    public record Config(@Knob(name = "loss", doc = "the preference loss") Type type,
                         @Knob(doc = "beta (inverse temperature)", label = "B") float beta,
                         @Knob(doc = "assumed label-flip probability epsilon (cdpo, robust)", label = "EPS") float labelSmoothing,
                         @Knob(doc = "SimPO's target margin (simpo only; with --beta alone it keeps its ratio to beta)", label = "G",
                                 ratioTo = "beta") float gamma) {
        public static final float DEFAULT_BETA = 0.1f;
        public static final float SIMPO_BETA = 2.0f;
        public static final float SIMPO_GAMMA_BETA_RATIO = 0.5f;

        public Config {
            if (type == null) throw new IllegalArgumentException("type must not be null");
            Args.positive("beta", beta);
            Args.finite("labelSmoothing", labelSmoothing);
            Args.finite("gamma", gamma);
            switch (type) {
                case ROBUST -> {
                    if (!(labelSmoothing >= 0 && labelSmoothing < 0.5f))
                        throw new IllegalArgumentException(
                                "labelSmoothing must be in [0, 0.5) for ROBUST (it divides by 1 − 2ε), got " + labelSmoothing);
                }
                case HINGE, IPO -> {
                    if (labelSmoothing != 0)
                        throw new IllegalArgumentException("labelSmoothing must be 0 for " + type + ", got " + labelSmoothing);
                }
                default -> {
                    if (!(labelSmoothing >= 0 && labelSmoothing < 1))
                        throw new IllegalArgumentException("labelSmoothing must be in [0, 1) for " + type + ", got " + labelSmoothing);
                }
            }
            if (type != Type.SIMPO && gamma != 0)
                throw new IllegalArgumentException("gamma is SimPO's margin and must be 0 for " + type + ", got " + gamma);
        }

        /** ε of cDPO and robust DPO by default (the cDPO paper's and TRL's example value). */
        public static final float DEFAULT_LABEL_SMOOTHING = 0.1f;

        /** Defaults for {@code type}: β = 0.1, γ = 0, ε = 0.1 for CDPO and ROBUST and 0 otherwise; for SIMPO {@link #simpo()}. */
        public static Config of(Type type) {
            if (type == Type.SIMPO) return simpo();
            boolean smoothed = type == Type.CDPO || type == Type.ROBUST;
            return new Config(type, DEFAULT_BETA, smoothed ? DEFAULT_LABEL_SMOOTHING : 0f, 0f);
        }

        /** DPO with β = 0.1. */
        public static Config dpo() {
            return of(Type.SIGMOID);
        }

        /** cDPO with β = 0.1 and the given label smoothing. */
        public static Config cdpo(float labelSmoothing) {
            return new Config(Type.CDPO, DEFAULT_BETA, labelSmoothing, 0f);
        }

        /** SimPO with β = 2.0 and γ = β·0.5 = 1.0. */
        public static Config simpo() {
            return new Config(Type.SIMPO, SIMPO_BETA, 0f, SIMPO_BETA * SIMPO_GAMMA_BETA_RATIO);
        }

        public Config withBeta(float beta) {
            return new Config(type, beta, labelSmoothing, gamma);
        }

        public Config withLabelSmoothing(float labelSmoothing) {
            return new Config(type, beta, labelSmoothing, gamma);
        }

        public Config withGamma(float gamma) {
            return new Config(type, beta, labelSmoothing, gamma);
        }
    }

    /**
     * Batch means, named as in TRL: {@code loss}, {@code rewards/chosen}, {@code rewards/rejected},
     * {@code rewards/accuracies} = mean[chosen > rejected], {@code rewards/margins} = mean(chosen − rejected).
     */
    public record Stats(float loss, float rewardsChosen, float rewardsRejected, float accuracy, float margin) {}

    /** Per-pair outputs (shape {@code [B]}) and the batch statistics. */
    public record Result(Tensor dchosen, Tensor drejected, Tensor losses, Tensor rewardsChosen, Tensor rewardsRejected,
                         Stats stats) implements AutoCloseable {
        @Override
        public void close() {
            dchosen.close();
            drejected.close();
            losses.close();
            rewardsChosen.close();
            rewardsRejected.close();
        }
    }

    /** The outputs on the host, from {@link #compute(float[], float[], float[], float[], float[], float[], Config)}. */
    public record HostResult(float[] dchosen, float[] drejected, float[] losses, float[] rewardsChosen,
                             float[] rewardsRejected, Stats stats) {}

    /**
     * Computes into new tensors of {@code scope}. {@code refChosen}/{@code refRejected} must be given except
     * for SIMPO, where they must be null; {@code chosenLen}/{@code rejectedLen} are needed for IPO, LN_DPO and
     * SIMPO and may be null otherwise.
     */
    public static Result compute(Scope scope, Tensor chosen, Tensor rejected, Tensor refChosen, Tensor refRejected,
                                 Tensor chosenLen, Tensor rejectedLen, Config config) {
        if (scope == null) throw new IllegalArgumentException("scope must not be null");
        Device device = Args.open("chosen", chosen);
        long b = batch(chosen);
        return Args.withOutputs(scope, device, new long[][] {{b}, {b}, {b}, {b}, {b}}, out -> {
            Stats stats = compute(chosen, rejected, refChosen, refRejected, chosenLen, rejectedLen, config,
                    out[0], out[1], out[2], out[3], out[4]);
            return new Result(out[0], out[1], out[2], out[3], out[4], stats);
        });
    }

    /**
     * Computes into caller-provided outputs, all F32 {@code [B]}, distinct from each other and from the inputs;
     * returns the statistics.
     */
    public static Stats compute(Tensor chosen, Tensor rejected, Tensor refChosen, Tensor refRejected, Tensor chosenLen,
                                Tensor rejectedLen, Config config, Tensor dchosen, Tensor drejected, Tensor losses,
                                Tensor rewardsChosen, Tensor rewardsRejected) {
        if (config == null) throw new IllegalArgumentException("config must not be null");
        Args.open("chosen", chosen);
        Device device = Args.sameDevice(
                new String[] {"chosen", "rejected", "refChosen", "refRejected", "chosenLen", "rejectedLen", "dchosen",
                        "drejected", "losses", "rewardsChosen", "rewardsRejected"},
                chosen, rejected, refChosen, refRejected, chosenLen, rejectedLen, dchosen, drejected, losses,
                rewardsChosen, rewardsRejected);
        long b = batch(chosen);
        Type type = config.type();
        Args.f32("rejected", rejected, false, b);
        if (type.needsReference()) {
            Args.f32("refChosen", refChosen, false, b);
            Args.f32("refRejected", refRejected, false, b);
        } else {
            if (refChosen != null)
                throw new IllegalArgumentException("refChosen must be null for " + type + " (it uses no reference model)");
            if (refRejected != null)
                throw new IllegalArgumentException("refRejected must be null for " + type + " (it uses no reference model)");
        }
        if (type.needsLengths()) {
            if (chosenLen == null) throw new IllegalArgumentException("chosenLen must not be null for " + type);
            if (rejectedLen == null) throw new IllegalArgumentException("rejectedLen must not be null for " + type);
        }
        Args.f32("chosenLen", chosenLen, true, b);
        Args.f32("rejectedLen", rejectedLen, true, b);
        Args.f32("dchosen", dchosen, false, b);
        Args.f32("drejected", drejected, false, b);
        Args.f32("losses", losses, false, b);
        Args.f32("rewardsChosen", rewardsChosen, false, b);
        Args.f32("rewardsRejected", rewardsRejected, false, b);
        noAlias(new String[] {"dchosen", "drejected", "losses", "rewardsChosen", "rewardsRejected"},
                new Tensor[] {dchosen, drejected, losses, rewardsChosen, rewardsRejected},
                new String[] {"chosen", "rejected", "refChosen", "refRejected", "chosenLen", "rejectedLen"},
                new Tensor[] {chosen, rejected, refChosen, refRejected, chosenLen, rejectedLen});
        Args.finiteValues("chosen", chosen);
        Args.finiteValues("rejected", rejected);
        if (refChosen != null) Args.finiteValues("refChosen", refChosen);
        if (refRejected != null) Args.finiteValues("refRejected", refRejected);
        // Lengths that were given are checked even where unused: a zero length is a data bug either way.
        if (chosenLen != null) Args.positiveValues("chosenLen", chosenLen);
        if (rejectedLen != null) Args.positiveValues("rejectedLen", rejectedLen);
        boolean lengths = type.needsLengths();
        try (Scope tmp = new Scope()) {
            Tensor stats = tmp.empty(device, DType.F32, NativeConstants.PREF_STATS);
            NativeKernels.preferenceLoss(device, chosen, rejected, refChosen, refRejected,
                    lengths ? chosenLen : null, lengths ? rejectedLen : null, b, type.code, config.beta(),
                    config.labelSmoothing(), config.gamma(), dchosen, drejected, losses, rewardsChosen,
                    rewardsRejected, stats);
            float[] s = stats.toFloatArray();
            return new Stats(s[0], s[1], s[2], s[3], s[4]);
        }
    }

    /** Convenience on Java arrays (CPU); nullable arguments as for the tensor version. */
    public static HostResult compute(float[] chosen, float[] rejected, float[] refChosen, float[] refRejected,
                                     float[] chosenLen, float[] rejectedLen, Config config) {
        if (chosen == null) throw new IllegalArgumentException("chosen must not be null");
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Result r = compute(s, s.of(cpu, chosen), host(s, "rejected", rejected, chosen.length),
                    host(s, "refChosen", refChosen, chosen.length), host(s, "refRejected", refRejected, chosen.length),
                    host(s, "chosenLen", chosenLen, chosen.length), host(s, "rejectedLen", rejectedLen, chosen.length),
                    config);
            return new HostResult(r.dchosen().toFloatArray(), r.drejected().toFloatArray(), r.losses().toFloatArray(),
                    r.rewardsChosen().toFloatArray(), r.rewardsRejected().toFloatArray(), r.stats());
        }
    }

    /** Outputs must be distinct tensors, and none may be an input (the kernel's pointers are restrict). */
    static void noAlias(String[] outNames, Tensor[] outs, String[] inNames, Tensor[] ins) {
        for (int i = 0; i < outs.length; i++) {
            for (int j = 0; j < i; j++)
                if (outs[i] == outs[j])
                    throw new IllegalArgumentException(outNames[i] + " is the same tensor as " + outNames[j]);
            for (int j = 0; j < ins.length; j++)
                if (outs[i] == ins[j])
                    throw new IllegalArgumentException(outNames[i] + " is the same tensor as the input " + inNames[j]);
        }
    }

    static Tensor host(Scope s, String name, float[] data, int b) {
        if (data == null) return null;
        if (data.length != b)
            throw new IllegalArgumentException(name + " has " + data.length + " values, expected " + b);
        return s.of(Device.cpu(), data);
    }

    private static long batch(Tensor chosen) {
        Args.dtype("chosen", chosen, DType.F32);
        if (chosen.rank() != 1)
            throw new IllegalArgumentException("chosen must have shape [B], got rank " + chosen.rank());
        return chosen.dim(0);
    }
}
