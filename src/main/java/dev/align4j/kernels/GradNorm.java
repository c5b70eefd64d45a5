package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Global L2 norm of a flat gradient buffer and the clip factor of {@code torch.nn.utils.clip_grad_norm_}:
 * {@code norm = ‖g‖₂} (before clipping), {@code scale = min(1, maxNorm / (norm + 1e-6))}. Accumulated in
 * double in two deterministic launches (per-chunk partials, then one finalize), so the norm is exact to
 * float rounding even at 124M parameters and bitwise reproducible. A NaN norm gives a NaN scale and an
 * infinite one gives 0, as PyTorch (error_if_nonfinite = False); {@code maxNorm = +inf} never clips.
 * <p>The device-resident form writes {@code out[2] = {norm, scale}}, which {@link AdamW#step} takes as its
 * {@code clip} argument: clipping then needs no host synchronisation.
 */
public final class GradNorm {
    private GradNorm() {}

    /** Elements per partial sum; the work size depends on it (must equal cuda/grad_norm.cuh's GRAD_NORM_CHUNK). */
    static final long CHUNK = 1L << 16;

    /** The norm and clip factor read back to the host. */
    public record Result(float norm, float scale) {}

    /** Doubles of scratch for {@code n} gradients. */
    public static long workSize(long n) {
        return Math.max(1, (n + CHUNK - 1) / CHUNK);
    }

    /** Computes and reads back the norm and the clip factor. */
    public static Result compute(Tensor grads, float maxNorm) {
        Device device = Args.open("grads", grads);
        try (Scope tmp = new Scope()) {
            Tensor out = tmp.empty(device, DType.F32, 2);
            compute(grads, maxNorm, out);
            float[] r = out.toFloatArray();
            return new Result(r[0], r[1]);
        }
    }

    /** Writes {@code out[2] = {norm, scale}} on the device, with scratch allocated and freed here. */
    public static void compute(Tensor grads, float maxNorm, Tensor out) {
        Device device = Args.open("grads", grads);
        try (Scope tmp = new Scope()) {
            compute(grads, maxNorm, tmp.empty(device, DType.F64, workSize(grads.numel())), out);
        }
    }

    /** Writes {@code out[2] = {norm, scale}}, with caller-provided scratch of at least {@link #workSize} doubles. */
    public static void compute(Tensor grads, float maxNorm, Tensor work, Tensor out) {
        Device device = Args.sameDevice(new String[] {"grads", "work", "out"}, grads, work, out);
        Args.open("work", work);
        Args.open("out", out);
        Args.dtype("grads", grads, DType.F32);
        Args.dtype("work", work, DType.F64);
        Args.f32("out", out, false, 2);
        if (!(maxNorm > 0)) throw new IllegalArgumentException("maxNorm must be > 0 (+inf: never clip), got " + maxNorm);
        long n = grads.numel();
        if (work.numel() < workSize(n))
            throw new IllegalArgumentException("work has " + work.numel() + " doubles, needs " + workSize(n));
        NativeKernels.gradNorm(device, grads, n, maxNorm, work, out);
    }

    /** Convenience on a Java array (CPU). */
    public static Result compute(float[] grads, float maxNorm) {
        if (grads == null) throw new IllegalArgumentException("grads must not be null");
        try (Scope s = new Scope()) {
            return compute(s.of(Device.cpu(), grads, grads.length), maxNorm);
        }
    }
}
