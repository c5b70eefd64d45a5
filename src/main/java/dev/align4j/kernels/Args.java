package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Argument validation shared by the kernel entry points. Everything a kernel reads is checked here before
 * native code runs; each failure names the argument and, for values, the first offending index. Value
 * checks (masks, labels, lengths) run as native scans on the tensor's own device.
 */
final class Args {
    private Args() {}

    /** Non-null, open, and returns its device. */
    static Device open(String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(name + " must not be null");
        if (t.isClosed()) throw new IllegalStateException(name + " (" + t + ") is closed");
        return t.device();
    }

    /** The device of {@code first}, after checking that every non-null tensor is open and on it. */
    static Device sameDevice(String[] names, Tensor... tensors) {
        Device device = null;
        String deviceOf = null;
        for (int i = 0; i < tensors.length; i++) {
            if (tensors[i] == null) continue;
            Device d = open(names[i], tensors[i]);
            if (device == null) {
                device = d;
                deviceOf = names[i];
            } else if (!device.equals(d)) {
                throw new IllegalArgumentException(
                        names[i] + " is on " + d + " but " + deviceOf + " is on " + device + ": tensors must share a device");
            }
        }
        return device;
    }

    /**
     * F32 outputs of {@code shapes}, made in the caller's {@code scope} and handed to {@code body}, whose result is
     * returned. If an allocation or the body fails, the outputs made so far are closed again: a failed call leaves
     * nothing open behind.
     */
    static <R> R withOutputs(Scope scope, Device device, long[][] shapes, Function<Tensor[], R> body) {
        if (scope == null) throw new IllegalArgumentException("scope must not be null");
        Tensor[] out = new Tensor[shapes.length];
        try {
            for (int i = 0; i < out.length; i++) out[i] = scope.empty(device, DType.F32, shapes[i]);
            return body.apply(out);
        } catch (RuntimeException | Error e) {
            for (Tensor t : out) if (t != null) t.close();
            throw e;
        }
    }

    /** One output of {@code shape}, filled by {@code fill}, as {@link #withOutputs}. */
    static Tensor withOutput(Scope scope, Device device, long[] shape, Consumer<Tensor> fill) {
        return withOutputs(scope, device, new long[][] {shape}, out -> {
            fill.accept(out[0]);
            return out[0];
        });
    }

    /** The leading shape of an open F32 tensor {@code name} whose last dimension (C, the row) is >= 1: its rows. */
    static long[] rows(String name, Tensor t) {
        open(name, t);
        dtype(name, t, DType.F32);
        if (t.rank() < 1) throw new IllegalArgumentException(name + " must have rank >= 1 (the last dimension is C)");
        if (t.dim(-1) < 1)
            throw new IllegalArgumentException(name + ": the last dimension (C) must be >= 1, got " + t.dim(-1));
        long[] s = t.shape();
        return java.util.Arrays.copyOf(s, s.length - 1);
    }

    static void dtype(String name, Tensor t, DType dtype) {
        if (t.dtype() != dtype) throw new IllegalArgumentException(name + " must be " + dtype + ", got " + t.describe());
    }

    /** Exact shape. */
    static void shape(String name, Tensor t, long... dims) {
        if (!Arrays.equals(t.shape(), dims))
            throw new IllegalArgumentException(
                    name + ": expected shape " + Arrays.toString(dims) + ", got " + Arrays.toString(t.shape()));
    }

    /** F32 of the given shape; null allowed when {@code optional}. */
    static void f32(String name, Tensor t, boolean optional, long... dims) {
        if (t == null) {
            if (optional) return;
            throw new IllegalArgumentException(name + " must not be null");
        }
        dtype(name, t, DType.F32);
        shape(name, t, dims);
    }

    static void positive(String name, float v) {
        if (!(v > 0 && v < Float.POSITIVE_INFINITY))
            throw new IllegalArgumentException(name + " must be finite and > 0, got " + v);
    }

    static void nonNegative(String name, float v) {
        if (!(v >= 0 && v < Float.POSITIVE_INFINITY))
            throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
    }

    static void finite(String name, float v) {
        if (!Float.isFinite(v)) throw new IllegalArgumentException(name + " must be finite, got " + v);
    }

    /** Every value exactly 0 or 1 (NaN fails). */
    static void mask(String name, Tensor t) {
        long bad = scanF32(t, NativeConstants.CHECK_MASK);
        if (bad >= 0)
            throw new IllegalArgumentException(name + "[" + bad + "] = " + t.getFloat(bad) + ": mask values must be 0 or 1");
    }

    /** Every value finite (no NaN, no ±inf). */
    static void finiteValues(String name, Tensor t) {
        long bad = scanF32(t, NativeConstants.CHECK_FINITE);
        if (bad >= 0) throw new IllegalArgumentException(name + "[" + bad + "] = " + t.getFloat(bad) + " is not finite");
    }

    /** Every value finite and > 0. */
    static void positiveValues(String name, Tensor t) {
        long bad = scanF32(t, NativeConstants.CHECK_POSITIVE);
        if (bad >= 0)
            throw new IllegalArgumentException(name + "[" + bad + "] = " + t.getFloat(bad) + " must be finite and > 0");
    }

    /** Every value in [lo, hi). */
    static void indices(String name, Tensor t, int lo, int hi) {
        dtype(name, t, DType.I32);
        if (t.numel() == 0) return;
        long bad;
        try (Scope s = new Scope()) {
            Tensor out = s.empty(t.device(), DType.I64, 1);
            NativeKernels.checkI32(t.device(), t, t.numel(), lo, hi, out);
            bad = out.toLongArray()[0];
        }
        if (bad >= 0)
            throw new IllegalArgumentException(
                    name + "[" + bad + "] = " + t.getInt(bad) + " is outside [" + lo + ", " + hi + ")");
    }

    private static long scanF32(Tensor t, int rule) {
        if (t.numel() == 0) return -1;
        try (Scope s = new Scope()) {
            Tensor out = s.empty(t.device(), DType.I64, 1);
            NativeKernels.checkF32(t.device(), t, t.numel(), rule, out);
            return out.toLongArray()[0];
        }
    }
}
