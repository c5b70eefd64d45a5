package dev.align4j.kernels;

import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Generalised advantage estimation over padded {@code [B, T]} rollouts. The backward scan runs over the MASKED
 * positions of each row only; masked-out positions are skipped (outputs 0, the recursion carries across them), and
 * V and A are zero after the last masked token. For masked t, with V_next and A_next taken at the next masked
 * position of the row (0 after the last):
 * <pre>
 *   δ_t = r_t + γ·V_next − V_t,   A_t = δ_t + γλ·A_next,   returns G_t = A_t + V_t
 * </pre>
 * For a contiguous response this is the textbook formula over the response tokens. Every input value must be
 * finite, padding included. There is no backward: advantages and returns are PPO's targets, not functions of the
 * parameters being trained. Outputs must not alias inputs. Defaults: γ = 1, λ = 0.95 (TRL's).
 */
public final class Gae {
    private Gae() {}

    public static final float DEFAULT_GAMMA = 1.0f;
    public static final float DEFAULT_LAMBDA = 0.95f;

    /** Advantages and returns, both {@code [B, T]}, 0 off the mask. */
    public record Result(Tensor advantages, Tensor returns) implements AutoCloseable {
        @Override
        public void close() {
            advantages.close();
            returns.close();
        }
    }

    /** With the defaults γ = 1, λ = 0.95. */
    public static Result compute(Scope scope, Tensor rewards, Tensor values, Tensor mask) {
        return compute(scope, rewards, values, mask, DEFAULT_GAMMA, DEFAULT_LAMBDA);
    }

    /** Into new tensors of {@code scope}. */
    public static Result compute(Scope scope, Tensor rewards, Tensor values, Tensor mask, float gamma, float lambda) {
        Device device = Args.open("rewards", rewards);
        SeqReduce.rows("rewards", rewards);
        return Args.withOutputs(scope, device, new long[][] {rewards.shape(), rewards.shape()}, out -> {
            compute(rewards, values, mask, gamma, lambda, out[0], out[1]);
            return new Result(out[0], out[1]);
        });
    }

    /** Into caller-provided {@code advantages} and {@code returns} ({@code [B, T]}). */
    public static void compute(Tensor rewards, Tensor values, Tensor mask, float gamma, float lambda, Tensor advantages,
                               Tensor returns) {
        Device device = Args.sameDevice(new String[] {"rewards", "values", "mask", "advantages", "returns"},
                rewards, values, mask, advantages, returns);
        long b = SeqReduce.rows("rewards", rewards);
        long t = rewards.dim(1);
        Args.f32("rewards", rewards, false, b, t);
        Args.f32("values", values, false, b, t);
        Args.f32("mask", mask, false, b, t);
        Args.f32("advantages", advantages, false, b, t);
        Args.f32("returns", returns, false, b, t);
        unitInterval("gamma", gamma);
        unitInterval("lambda", lambda);
        if (advantages == returns) throw new IllegalArgumentException("advantages and returns must be different tensors");
        for (Tensor out : new Tensor[] {advantages, returns})
            if (out == rewards || out == values || out == mask)
                throw new IllegalArgumentException("advantages and returns must not alias the inputs");
        Args.mask("mask", mask);
        Args.finiteValues("rewards", rewards);
        Args.finiteValues("values", values);
        NativeKernels.gae(device, rewards, values, mask, b, t, gamma, lambda, advantages, returns);
    }

    /** Convenience on Java arrays (CPU), {@code [batch·T]} row-major: returns {advantages, returns}. */
    public static float[][] compute(float[] rewards, float[] values, float[] mask, int batch, float gamma, float lambda) {
        int t = SeqReduce.rowLength("rewards", rewards, batch);
        SeqReduce.sameLength("values", values, rewards.length);
        SeqReduce.sameLength("mask", mask, rewards.length);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Result r = compute(s, s.of(cpu, rewards, batch, t), s.of(cpu, values, batch, t), s.of(cpu, mask, batch, t),
                    gamma, lambda);
            return new float[][] {r.advantages().toFloatArray(), r.returns().toFloatArray()};
        }
    }

    private static void unitInterval(String name, float v) {
        if (!(v >= 0.0f && v <= 1.0f)) throw new IllegalArgumentException(name + " must be in [0, 1], got " + v);
    }
}
