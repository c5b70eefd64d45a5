package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Bradley–Terry reward-model loss over B pairs of scalar rewards r⁺ ({@code rChosen}) and r⁻
 * ({@code rRejected}), with an optional per-pair margin m (Llama-2 style) and a centring term with
 * coefficient c >= 0 (TRL's {@code center_rewards_coefficient}, which keeps rewards near zero):
 * <pre>
 *   L = −mean log σ(r⁺ − r⁻ − m) + c·mean((r⁺ + r⁻)²)
 * </pre>
 * Returns ∂L/∂r⁺ and ∂L/∂r⁻ and the statistics loss, accuracy = mean[r⁺ > r⁻] (margin ignored), mean r⁺,
 * mean r⁻ and mean margin (r⁺ − r⁻). log σ is computed stably, so any finite reward gap is safe. With B = 0
 * the gradients are empty and every statistic is 0.
 */
public final class RewardLoss {
    private RewardLoss() {}

    /** Batch means: loss, accuracy, mean chosen reward, mean rejected reward, mean (r⁺ − r⁻). */
    public record Stats(float loss, float accuracy, float rewardsChosen, float rewardsRejected, float margin) {}

    /** Gradients (shape {@code [B]}) of the mean loss, and the statistics. */
    public record Result(Tensor dchosen, Tensor drejected, Stats stats) implements AutoCloseable {
        @Override
        public void close() {
            dchosen.close();
            drejected.close();
        }
    }

    /** The outputs on the host, from {@link #compute(float[], float[], float[], float)}. */
    public record HostResult(float[] dchosen, float[] drejected, Stats stats) {}

    /** Computes into new tensors of {@code scope}; {@code margin} may be null (no margin). */
    public static Result compute(Scope scope, Tensor rChosen, Tensor rRejected, Tensor margin, float centerCoef) {
        if (scope == null) throw new IllegalArgumentException("scope must not be null");
        Device device = Args.open("rChosen", rChosen);
        long b = batch(rChosen);
        return Args.withOutputs(scope, device, new long[][] {{b}, {b}}, out -> {
            Stats stats = compute(rChosen, rRejected, margin, centerCoef, out[0], out[1]);
            return new Result(out[0], out[1], stats);
        });
    }

    /** Computes into caller-provided gradients, F32 {@code [B]}, distinct from each other and the inputs. */
    public static Stats compute(Tensor rChosen, Tensor rRejected, Tensor margin, float centerCoef, Tensor dchosen,
                                Tensor drejected) {
        Args.open("rChosen", rChosen);
        Device device = Args.sameDevice(new String[] {"rChosen", "rRejected", "margin", "dchosen", "drejected"},
                rChosen, rRejected, margin, dchosen, drejected);
        long b = batch(rChosen);
        Args.f32("rRejected", rRejected, false, b);
        Args.f32("margin", margin, true, b);
        Args.f32("dchosen", dchosen, false, b);
        Args.f32("drejected", drejected, false, b);
        Args.nonNegative("centerCoef", centerCoef);
        PreferenceLoss.noAlias(new String[] {"dchosen", "drejected"}, new Tensor[] {dchosen, drejected},
                new String[] {"rChosen", "rRejected", "margin"}, new Tensor[] {rChosen, rRejected, margin});
        Args.finiteValues("rChosen", rChosen);
        Args.finiteValues("rRejected", rRejected);
        if (margin != null) Args.finiteValues("margin", margin);
        try (Scope tmp = new Scope()) {
            Tensor stats = tmp.empty(device, DType.F32, NativeConstants.RM_STATS);
            NativeKernels.rewardLoss(device, rChosen, rRejected, margin, b, centerCoef, dchosen, drejected, stats);
            float[] s = stats.toFloatArray();
            return new Stats(s[0], s[1], s[2], s[3], s[4]);
        }
    }

    /** Convenience on Java arrays (CPU); {@code margin} may be null. */
    public static HostResult compute(float[] rChosen, float[] rRejected, float[] margin, float centerCoef) {
        if (rChosen == null) throw new IllegalArgumentException("rChosen must not be null");
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Result r = compute(s, s.of(cpu, rChosen), PreferenceLoss.host(s, "rRejected", rRejected, rChosen.length),
                    PreferenceLoss.host(s, "margin", margin, rChosen.length), centerCoef);
            return new HostResult(r.dchosen().toFloatArray(), r.drejected().toFloatArray(), r.stats());
        }
    }

    private static long batch(Tensor rChosen) {
        Args.dtype("rChosen", rChosen, DType.F32);
        if (rChosen.rank() != 1)
            throw new IllegalArgumentException("rChosen must have shape [B], got rank " + rChosen.rank());
        return rChosen.dim(0);
    }
}
