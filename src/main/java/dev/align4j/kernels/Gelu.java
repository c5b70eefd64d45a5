package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * GELU in GPT-2's tanh form, elementwise over a tensor of any shape:
 * {@code gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))}; backward {@code dx = dout·gelu'(x)}.
 * The backward needs the forward's input {@code x} (not its output). Both may run in place: {@code out} may be
 * {@code x}, and {@code dx} may be {@code dout} (or {@code x}). Accurate to a few 1e-7 relative (the native
 * code evaluates x·σ(2u) with a vectorised exponential). Values are not scanned; NaN propagates.
 */
public final class Gelu {
    private Gelu() {}

    /** Forward into a new tensor of {@code scope}. */
    public static Tensor forward(Scope scope, Tensor x) {
        Device device = Args.open("x", x);
        Args.dtype("x", x, DType.F32);
        return Args.withOutput(scope, device, x.shape(), out -> forward(x, out));
    }

    /** {@code out = gelu(x)}; {@code out} may be {@code x}. */
    public static void forward(Tensor x, Tensor out) {
        Device device = Args.sameDevice(new String[] {"x", "out"}, x, out);
        Args.open("x", x);
        Args.open("out", out);
        Args.dtype("x", x, DType.F32);
        Args.f32("out", out, false, x.shape());
        NativeKernels.geluFwd(device, x, x.numel(), out);
    }

    /** {@code dx = dout·gelu'(x)}; {@code dx} may be {@code dout} or {@code x}. */
    public static void backward(Tensor x, Tensor dout, Tensor dx) {
        Device device = Args.sameDevice(new String[] {"x", "dout", "dx"}, x, dout, dx);
        Args.open("x", x);
        Args.open("dout", dout);
        Args.open("dx", dx);
        Args.dtype("x", x, DType.F32);
        Args.f32("dout", dout, false, x.shape());
        Args.f32("dx", dx, false, x.shape());
        NativeKernels.geluBwd(device, x, dout, x.numel(), dx);
    }

    /** Convenience on Java arrays (CPU). */
    public static float[] compute(float[] x) {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            return forward(s, s.of(cpu, x)).toFloatArray();
        }
    }
}
