package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;

/**
 * SwiGLU, the activation of the Llama-family MLP {@code down(silu(gate(x)) ⊙ up(x))}, on the fused gate|up
 * projection: {@code h} has shape {@code [..., 2F]}, each row holding its gate values (columns {@code 0..F}) and
 * then its up values (columns {@code F..2F}), i.e. the output of one GEMM with Hugging Face's {@code gate_proj}
 * and {@code up_proj} weights stacked as {@code [2F, C]} (vLLM's {@code gate_up_proj} layout).
 * <ul>
 *   <li>forward: {@code out[..., f] = silu(g)·u}, {@code silu(z) = z·σ(z)}, out of shape {@code [..., F]};</li>
 *   <li>backward: {@code dh[..., f] = dout·u·silu'(g)}, {@code dh[..., F + f] = dout·silu(g)}, with
 *       {@code silu'(z) = σ(z)·(1 + z·(1 − σ(z)))}; dh has h's shape.</li>
 * </ul>
 * Why one fused tensor rather than separate gate and up: one GEMM forward instead of two, one GEMM each for dx and
 * dW backward instead of two (plus an accumulation), and the backward may run in place ({@code dh} = {@code h}).
 *
 * <p>Aliasing: {@code dh} may be {@code h}. {@code out} must not overlap {@code h}, nor {@code dout} overlap
 * {@code dh} (their shapes differ, so they cannot be the same tensor; a view onto the same memory is not detected
 * and gives undefined results). Accurate to a few 1e-7 relative ({@code silu'}: of its larger term); silu(−inf) = 0,
 * silu(+inf) = +inf, silu'(±inf) = 1 / 0. Values are not scanned; NaN propagates.
 */
public final class SwiGlu {
    private SwiGlu() {}

    /** Forward into a new tensor {@code [..., F]} of {@code scope}. */
    public static Tensor forward(Scope scope, Tensor h) {
        Device device = Args.open("h", h);
        Args.dtype("h", h, DType.F32);
        return Args.withOutput(scope, device, outShape(h), out -> forward(h, out));
    }

    /** {@code out[..., F] = silu(gate)·up} from {@code h[..., 2F]}; {@code out} must not overlap {@code h}. */
    public static void forward(Tensor h, Tensor out) {
        Device device = Args.sameDevice(new String[] {"h", "out"}, h, out);
        Args.open("h", h);
        Args.open("out", out);
        Args.dtype("h", h, DType.F32);
        long[] shape = outShape(h);
        Args.f32("out", out, false, shape);
        long f = shape[shape.length - 1];
        NativeKernels.swigluFwd(device, h, rows(h, f), f, out);
    }

    /** The gradient with respect to {@code h} into a new tensor of {@code scope}. */
    public static Tensor backward(Scope scope, Tensor h, Tensor dout) {
        Device device = Args.open("h", h);
        Args.dtype("h", h, DType.F32);
        return Args.withOutput(scope, device, h.shape(), dh -> backward(h, dout, dh));
    }

    /**
     * {@code dh = [dout·up·silu'(gate), dout·silu(gate)]} of {@code h}'s shape from {@code dout[..., F]};
     * {@code dh} may be {@code h} (in place).
     */
    public static void backward(Tensor h, Tensor dout, Tensor dh) {
        Device device = Args.sameDevice(new String[] {"h", "dout", "dh"}, h, dout, dh);
        Args.open("h", h);
        Args.open("dout", dout);
        Args.open("dh", dh);
        Args.dtype("h", h, DType.F32);
        long[] shape = outShape(h);
        Args.f32("dout", dout, false, shape);
        Args.f32("dh", dh, false, h.shape());
        long f = shape[shape.length - 1];
        NativeKernels.swigluBwd(device, h, dout, rows(h, f), f, dh);
    }

    /** Convenience on Java arrays (CPU): {@code h} is {@code [N, 2F]} row-major with {@code F = f}; returns {@code [N, F]}. */
    public static float[] compute(float[] h, int f) {
        if (h == null) throw new IllegalArgumentException("h must not be null");
        if (f <= 0) throw new IllegalArgumentException("f must be > 0, got " + f);
        if (h.length % (2L * f) != 0)
            throw new IllegalArgumentException("h has " + h.length + " values, not a multiple of 2F = " + 2L * f);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            return forward(s, s.of(cpu, h, h.length / (2L * f), 2L * f)).toFloatArray();
        }
    }

    /** h's shape with the last dimension 2F halved; h must have one, and it must be even. */
    private static long[] outShape(Tensor h) {
        long[] shape = h.shape();
        if (shape.length == 0) throw new IllegalArgumentException("h must have a last dimension 2F, got a scalar");
        long last = shape[shape.length - 1];
        if (last % 2 != 0)
            throw new IllegalArgumentException("h: last dimension must be 2F (gate | up), an even number, got shape "
                    + Arrays.toString(shape));
        long[] out = shape.clone();
        out[out.length - 1] = last / 2;
        return out;
    }

    /** N: the product of h's leading dimensions (h.numel() / 2F, also when F = 0). */
    private static long rows(Tensor h, long f) {
        if (f > 0) return h.numel() / (2 * f);
        long n = 1;
        for (int i = 0; i < h.rank() - 1; i++) n *= h.dim(i);
        return n;
    }
}
