package dev.align4j.kernels;

import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * LayerNorm over the last dimension C of {@code x [..., C]} (GPT-2's, eps = {@link #GPT2_EPS}): with
 * {@code mean} and the biased variance {@code var} of each row, {@code rstd = 1/sqrt(var + eps)},
 * {@code x̂ = (x − mean)·rstd}, {@code out = x̂·weight + bias}. The forward saves {@code mean} and {@code rstd}
 * per row (shape {@code [...]}) for the backward:
 * {@code dx = rstd·(dout·w − mean_C(dout·w) − x̂·mean_C(dout·w·x̂))}, {@code dweight += Σ_rows dout·x̂},
 * {@code dbias += Σ_rows dout}.
 *
 * <p><b>dweight and dbias are accumulated</b> ({@code +=}, as in llm.c), so that gradients of several
 * micro-batches add up; zero them first ({@link Tensor#zero()}) at the start of each accumulation. {@code dx} is
 * overwritten, or accumulated with {@code accumulateDx} (fusing the residual stream's gradient add). The
 * dweight/dbias reduction over rows is deterministic on both backends (no atomics).
 *
 * <p>Aliasing: {@code out} may be {@code x}; {@code dx} may be {@code dout} or {@code x}. Values are not
 * scanned: NaN or ±inf in a row give NaN in that row.
 */
public final class LayerNorm {
    private LayerNorm() {}

    /** GPT-2's epsilon. */
    public static final float GPT2_EPS = 1e-5f;

    /** Forward outputs: {@code out} shaped like x, {@code mean} and {@code rstd} shaped like x without its last dim. */
    public record Result(Tensor out, Tensor mean, Tensor rstd) implements AutoCloseable {
        @Override
        public void close() {
            out.close();
            mean.close();
            rstd.close();
        }
    }

    /** Forward into new tensors of {@code scope}. */
    public static Result forward(Scope scope, Tensor x, Tensor weight, Tensor bias, float eps) {
        Device device = Args.open("x", x);
        long[] rows = Args.rows("x", x);
        return Args.withOutputs(scope, device, new long[][] {x.shape(), rows, rows}, out -> {
            forward(x, weight, bias, eps, out[0], out[1], out[2]);
            return new Result(out[0], out[1], out[2]);
        });
    }

    /** Forward into caller-provided outputs; {@code mean} and {@code rstd} may be null (inference). */
    public static void forward(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out, Tensor mean, Tensor rstd) {
        Device device = Args.sameDevice(new String[] {"x", "weight", "bias", "out", "mean", "rstd"},
                x, weight, bias, out, mean, rstd);
        long[] rows = Args.rows("x", x);
        long c = x.dim(-1);
        Args.f32("weight", weight, false, c);
        Args.f32("bias", bias, false, c);
        Args.f32("out", out, false, x.shape());
        Args.f32("mean", mean, true, rows);
        Args.f32("rstd", rstd, true, rows);
        Args.positive("eps", eps);
        NativeKernels.layernormFwd(device, x, weight, bias, x.numel() / c, c, eps, out, mean, rstd);
    }

    /** Backward with the forward's saved statistics; {@code dx} overwritten, dweight/dbias accumulated. */
    public static void backward(Tensor dout, Tensor x, Tensor weight, Result saved, Tensor dx, Tensor dweight,
                                Tensor dbias) {
        if (saved == null) throw new IllegalArgumentException("saved must not be null");
        backward(dout, x, weight, saved.mean(), saved.rstd(), dx, false, dweight, dbias);
    }

    /**
     * Backward. {@code dx = ...} or, with {@code accumulateDx}, {@code dx += ...}; {@code dweight += ...},
     * {@code dbias += ...} (each may be null: not computed).
     */
    public static void backward(Tensor dout, Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor dx,
                                boolean accumulateDx, Tensor dweight, Tensor dbias) {
        Device device = Args.sameDevice(
                new String[] {"dout", "x", "weight", "mean", "rstd", "dx", "dweight", "dbias"},
                dout, x, weight, mean, rstd, dx, dweight, dbias);
        long[] rows = Args.rows("x", x);
        long c = x.dim(-1);
        Args.f32("dout", dout, false, x.shape());
        Args.f32("weight", weight, false, c);
        Args.f32("mean", mean, false, rows);
        Args.f32("rstd", rstd, false, rows);
        Args.f32("dx", dx, false, x.shape());
        Args.f32("dweight", dweight, true, c);
        Args.f32("dbias", dbias, true, c);
        if (dweight == weight) throw new IllegalArgumentException("dweight must not be weight itself");
        NativeKernels.layernormBwd(device, dout, x, weight, mean, rstd, x.numel() / c, c, accumulateDx ? 1 : 0, dx,
                dweight, dbias);
    }

    /** Convenience on Java arrays (CPU): x {@code [n·c]} row-major -> out {@code [n·c]}. */
    public static float[] compute(float[] x, float[] weight, float[] bias, int c, float eps) {
        if (c < 1) throw new IllegalArgumentException("c must be >= 1, got " + c);
        if (x.length % c != 0)
            throw new IllegalArgumentException("x has " + x.length + " values, not a multiple of c = " + c);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor xt = s.of(cpu, x, x.length / c, c);
            Result r = forward(s, xt, s.of(cpu, weight), s.of(cpu, bias), eps);
            return r.out().toFloatArray();
        }
    }
}
