package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * The bias of a Linear layer stored row-major, and the residual add.
 * <ul>
 *   <li>{@link #add}: {@code out[n, oc] += bias[oc]} in place, where {@code out} is any F32 tensor whose last
 *       dimension is {@code OC} (e.g. {@code [B, T, OC]} = N rows of OC).</li>
 *   <li>{@link #backward}: {@code dbias[oc] += Σ_n dout[n, oc]} — ACCUMULATES, deterministic (fixed-order
 *       column sums in two launches, no atomics).</li>
 *   <li>{@link #residual}: {@code out = a + b} elementwise. Its backward is the identity ({@code da = db =
 *       dout}): the model accumulates dout into both branches, so there is no backward kernel.</li>
 * </ul>
 */
public final class Bias {
    private Bias() {}

    /** Rows per partial sum of the backward; the work size depends on it (must equal cuda/bias.cuh's BIAS_ROWS). */
    static final long ROWS = 64;

    /** Floats of scratch {@link #backward(Tensor, Tensor, Tensor)} needs for N rows of OC channels. */
    public static long workSize(long n, long oc) {
        return Math.max(1, Math.multiplyExact((n + ROWS - 1) / ROWS, oc));
    }

    /** {@code out[..., oc] += bias[oc]} in place. */
    public static void add(Tensor out, Tensor bias) {
        Device device = Args.sameDevice(new String[] {"out", "bias"}, out, bias);
        long oc = channels("out", out);
        Args.f32("bias", bias, false, oc);
        NativeKernels.biasAdd(device, out, bias, rows(out, oc), oc);
    }

    /** {@code dbias += Σ_rows dout}, with scratch allocated and freed here. */
    public static void backward(Tensor dout, Tensor dbias) {
        long oc = channels("dout", dout);
        try (Scope tmp = new Scope()) {
            Tensor work = tmp.empty(dout.device(), DType.F32, workSize(rows(dout, oc), oc));
            backward(dout, dbias, work);
        }
    }

    /** {@code dbias += Σ_rows dout}, with caller-provided scratch of at least {@link #workSize} floats. */
    public static void backward(Tensor dout, Tensor dbias, Tensor work) {
        Device device = Args.sameDevice(new String[] {"dout", "dbias", "work"}, dout, dbias, work);
        long oc = channels("dout", dout);
        long n = rows(dout, oc);
        Args.f32("dbias", dbias, false, oc);
        Args.open("work", work);
        Args.dtype("work", work, DType.F32);
        if (work.numel() < workSize(n, oc))
            throw new IllegalArgumentException(
                    "work has " + work.numel() + " floats, needs " + workSize(n, oc) + " for " + n + " rows of " + oc);
        NativeKernels.biasBwd(device, dout, n, oc, work, dbias);
    }

    /** {@code out = a + b} into a new tensor of {@code scope} shaped like {@code a}. */
    public static Tensor residual(Scope scope, Tensor a, Tensor b) {
        Device device = Args.open("a", a);
        return Args.withOutput(scope, device, a.shape(), out -> residual(a, b, out));
    }

    /** {@code out = a + b}; all three of one shape. {@code out} may be {@code a} or {@code b} (in place). */
    public static void residual(Tensor a, Tensor b, Tensor out) {
        Device device = Args.sameDevice(new String[] {"a", "b", "out"}, a, b, out);
        Args.open("a", a);
        Args.dtype("a", a, DType.F32);
        Args.f32("b", b, false, a.shape());
        Args.f32("out", out, false, a.shape());
        NativeKernels.residualAdd(device, a, b, a.numel(), out);
    }

    /** OC = the last dimension of an F32 tensor of rank >= 1. */
    private static long channels(String name, Tensor x) {
        Args.open(name, x);
        Args.dtype(name, x, DType.F32);
        if (x.rank() < 1) throw new IllegalArgumentException(name + " must have rank >= 1, got " + x.describe());
        return x.dim(-1);
    }

    private static long rows(Tensor x, long oc) {
        return oc == 0 ? 0 : x.numel() / oc;
    }
}
