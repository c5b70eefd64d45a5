package dev.align4j.testing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;

/** Tolerance comparison atol + rtol·|ref| against a double-precision reference, naming the first bad index. */
public final class Close {
    private Close() {}

    public static void assertClose(String what, double[] ref, float[] got, double atol, double rtol) {
        if (ref.length != got.length) fail(what + ": length " + got.length + ", expected " + ref.length);
        for (int i = 0; i < ref.length; i++) assertClose(what + "[" + i + "]", ref[i], got[i], atol, rtol);
    }

    public static void assertClose(String what, double ref, double got, double atol, double rtol) {
        if (Double.isNaN(ref) || Double.isNaN(got)) {
            if (Double.isNaN(ref) && Double.isNaN(got)) return;
            fail(what + ": got " + got + ", expected " + ref);
        }
        if (Double.isInfinite(ref) || Double.isInfinite(got)) {
            if (ref == got) return;
            fail(what + ": got " + got + ", expected " + ref);
        }
        double err = Math.abs(ref - got);
        if (!(err <= atol + rtol * Math.abs(ref)))
            fail(what + ": got " + got + ", expected " + ref + " (error " + err + " > " + atol + " + " + rtol + "·|ref|)");
    }

    /** Poison value for outputs, so that an element a kernel failed to write shows up. */
    public static final float POISON = 7.77e33f;

    /** An F32 tensor of {@code s} full of {@link #POISON}. */
    public static Tensor poisoned(Scope s, Device device, long... shape) {
        Tensor x = s.empty(device, DType.F32, shape);
        float[] p = new float[(int) x.numel()];
        Arrays.fill(p, POISON);
        return x.copyFrom(p);
    }
}
