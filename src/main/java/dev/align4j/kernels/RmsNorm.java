package dev.align4j.kernels;

import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * RMSNorm over the last dimension C of {@code x [..., C]}, exactly as Hugging Face's {@code LlamaRMSNorm} in fp32
 * (the Llama family: Llama 2/3, Qwen2/2.5/3, Mistral, SmolLM2, TinyLlama): {@code rstd = 1/sqrt(mean_C(x²) + eps)},
 * {@code out = weight·(x·rstd)}, with {@code eps} the model config's {@code rms_norm_eps}. mean(x²) is accumulated
 * in double on every backend, so that rows of huge (1e18) or tiny (1e-20) values, whose squares overflow an fp32
 * sum or fall below fp32's normal range, are normalised correctly. The forward saves {@code rstd} per row (shape
 * {@code [...]}) for the backward, with {@code x̂ = x·rstd}:
 * {@code dx = rstd·(dout·w − x̂·mean_C(dout·w·x̂))}, {@code dweight += Σ_rows dout·x̂}.
 *
 * <p><b>Qwen3's q_norm and k_norm</b> are this op per attention head: rows of {@code head_dim} with one shared
 * {@code weight[head_dim]}. Pass q or k as {@code [B, T, H, D]} (the layout before the transpose to heads, as
 * Hugging Face applies them), or reshaped to {@code [B·T·H, D]}: the same rows either way.
 *
 * <p><b>dweight is accumulated</b> ({@code +=}, like {@link LayerNorm}'s), so that gradients of several
 * micro-batches add up; zero it first ({@link Tensor#zero()}) at the start of each accumulation. {@code dx} is
 * overwritten, or accumulated with {@code accumulateDx} (fusing the residual stream's gradient add). The dweight
 * reduction over rows is deterministic on both backends (no atomics).
 *
 * <p>Aliasing: {@code out} may be {@code x}; {@code dx} may be {@code dout} or {@code x}. Values are not scanned:
 * NaN or ±inf in a row give NaN in that row.
 */
public final class RmsNorm {
    private RmsNorm() {}

    /** {@code LlamaRMSNorm}'s default epsilon; real models set their own ({@code rms_norm_eps}: 1e-5 or 1e-6). */
    public static final float DEFAULT_EPS = 1e-6f;

    /** Forward outputs: {@code out} shaped like x, {@code rstd} shaped like x without its last dim. */
    public record Result(Tensor out, Tensor rstd) implements AutoCloseable {
        @Override
        public void close() {
            out.close();
            rstd.close();
        }
    }

    /** Forward into new tensors of {@code scope}. */
    public static Result forward(Scope scope, Tensor x, Tensor weight, float eps) {
        Device device = Args.open("x", x);
        long[] rows = Args.rows("x", x);
        return Args.withOutputs(scope, device, new long[][] {x.shape(), rows}, out -> {
            forward(x, weight, eps, out[0], out[1]);
            return new Result(out[0], out[1]);
        });
    }

    /** Forward into caller-provided outputs; {@code rstd} may be null (inference). */
    public static void forward(Tensor x, Tensor weight, float eps, Tensor out, Tensor rstd) {
        Device device = Args.sameDevice(new String[] {"x", "weight", "out", "rstd"}, x, weight, out, rstd);
        long[] rows = Args.rows("x", x);
        long c = x.dim(-1);
        Args.f32("weight", weight, false, c);
        Args.f32("out", out, false, x.shape());
        Args.f32("rstd", rstd, true, rows);
        Args.positive("eps", eps);
        NativeKernels.rmsnormFwd(device, x, weight, x.numel() / c, c, eps, out, rstd);
    }

    /** Backward with the forward's saved {@code rstd}; {@code dx} overwritten, dweight accumulated. */
    public static void backward(Tensor dout, Tensor x, Tensor weight, Result saved, Tensor dx, Tensor dweight) {
        if (saved == null) throw new IllegalArgumentException("saved must not be null");
        backward(dout, x, weight, saved.rstd(), dx, false, dweight);
    }

    /**
     * Backward. {@code dx = ...} or, with {@code accumulateDx}, {@code dx += ...}; {@code dweight += ...} (may be
     * null: not computed).
     */
    public static void backward(Tensor dout, Tensor x, Tensor weight, Tensor rstd, Tensor dx, boolean accumulateDx,
                                Tensor dweight) {
        Device device = Args.sameDevice(new String[] {"dout", "x", "weight", "rstd", "dx", "dweight"},
                dout, x, weight, rstd, dx, dweight);
        long[] rows = Args.rows("x", x);
        long c = x.dim(-1);
        Args.f32("dout", dout, false, x.shape());
        Args.f32("weight", weight, false, c);
        Args.f32("rstd", rstd, false, rows);
        Args.f32("dx", dx, false, x.shape());
        Args.f32("dweight", dweight, true, c);
        // dweight is written (by every row's sum) before dx is computed: it must not be anything dx reads.
        if (dweight != null) {
            String[] names = {"weight", "x", "dout", "dx"};
            Tensor[] others = {weight, x, dout, dx};
            for (int i = 0; i < others.length; i++)
                if (dweight == others[i]) throw new IllegalArgumentException("dweight must not be " + names[i] + " itself");
        }
        NativeKernels.rmsnormBwd(device, dout, x, weight, rstd, x.numel() / c, c, accumulateDx ? 1 : 0, dx, dweight);
    }

    /** Convenience on Java arrays (CPU): x {@code [n·c]} row-major -> out {@code [n·c]}. */
    public static float[] compute(float[] x, float[] weight, int c, float eps) {
        if (x == null) throw new IllegalArgumentException("x must not be null");
        if (c < 1) throw new IllegalArgumentException("c must be >= 1, got " + c);
        if (x.length % c != 0)
            throw new IllegalArgumentException("x has " + x.length + " values, not a multiple of c = " + c);
        if (weight == null) throw new IllegalArgumentException("weight must not be null");
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor xt = s.of(cpu, x, x.length / c, c);
            return forward(s, xt, s.of(cpu, weight), eps).out().toFloatArray();
        }
    }
}
