package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Masked whitening over padded {@code [B, T]} tensors (PPO's advantage normalisation, TRL's {@code masked_whiten}):
 * one mean and one unbiased standard deviation (divisor n − 1) over every masked element of the batch, then
 * <pre>
 *   out = (x − mean) / (std + 1e-8)             on the mask (+ mean again when shiftMean is false), 0 off it
 * </pre>
 * With fewer than two masked elements std is 0 (and with none, mean is 0 and out is all 0). Statistics are
 * accumulated in double, in two passes (no Σx² − n·mean² cancellation). {@code out} may be {@code x} (in place).
 * Every input value must be finite, padding included. There is no backward: PPO whitens advantages, which are
 * constants of the loss. Default: shiftMean = true.
 */
public final class Whiten {
    private Whiten() {}

    /** The mean and std used, read back to the host. */
    public record Stats(float mean, float std) {}

    /** The whitened tensor {@code [B, T]} and the statistics used. */
    public record Result(Tensor out, float mean, float std) implements AutoCloseable {
        @Override
        public void close() {
            out.close();
        }
    }

    /** The float[] convenience result. */
    public record Whitened(float[] out, float mean, float std) {}

    /** With shiftMean = true. */
    public static Result apply(Scope scope, Tensor x, Tensor mask) {
        return apply(scope, x, mask, true);
    }

    /** Into a new tensor of {@code scope}. */
    public static Result apply(Scope scope, Tensor x, Tensor mask, boolean shiftMean) {
        Device device = Args.open("x", x);
        SeqReduce.rows("x", x);
        return Args.withOutputs(scope, device, new long[][] {x.shape()}, out -> {
            Stats s = apply(x, mask, shiftMean, out[0]);
            return new Result(out[0], s.mean(), s.std());
        });
    }

    /** Into a caller-provided {@code out [B, T]}, which may be {@code x}. */
    public static Stats apply(Tensor x, Tensor mask, boolean shiftMean, Tensor out) {
        Device device = Args.sameDevice(new String[] {"x", "mask", "out"}, x, mask, out);
        long b = SeqReduce.rows("x", x);
        long t = x.dim(1);
        Args.f32("x", x, false, b, t);
        Args.f32("mask", mask, false, b, t);
        Args.f32("out", out, false, b, t);
        if (out == mask) throw new IllegalArgumentException("out must not be mask");
        Args.mask("mask", mask);
        Args.finiteValues("x", x);
        float[] stats;
        try (Scope tmp = new Scope()) {
            Tensor work = tmp.empty(device, DType.F64, NativeConstants.WHITEN_ROW * b);
            Tensor st = tmp.empty(device, DType.F32, 2);
            NativeKernels.whiten(device, x, mask, b, t, shiftMean ? 1 : 0, out, work, st);
            stats = st.toFloatArray();
        }
        return new Stats(stats[0], stats[1]);
    }

    /** Convenience on Java arrays (CPU), {@code [batch·T]} row-major. */
    public static Whitened apply(float[] x, float[] mask, int batch, boolean shiftMean) {
        int t = SeqReduce.rowLength("x", x, batch);
        SeqReduce.sameLength("mask", mask, x.length);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Result r = apply(s, s.of(cpu, x, batch, t), s.of(cpu, mask, batch, t), shiftMean);
            return new Whitened(r.out().toFloatArray(), r.mean(), r.std());
        }
    }
}
