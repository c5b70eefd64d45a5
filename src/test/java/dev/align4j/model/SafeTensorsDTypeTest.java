package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/** F16 and BF16 widen to F32 exactly: every one of the 65536 bit patterns against a definition in double. */
class SafeTensorsDTypeTest {
    /**
     * A 16-bit float by its definition: sign bit, {@code e} exponent bits (bias 2^(e-1) - 1), {@code m} mantissa
     * bits; (-1)^s * 2^(exp-bias) * (1 + mant/2^m), subnormals 2^(1-bias) * mant/2^m. binary16: e = 5, m = 10;
     * bfloat16: e = 8, m = 7.
     */
    static double reference(int bits, int e, int m) {
        int bias = (1 << (e - 1)) - 1, maxExp = (1 << e) - 1;
        int s = (bits >> 15) & 1, exp = (bits >> m) & maxExp, mant = bits & ((1 << m) - 1);
        double sign = s == 1 ? -1 : 1, frac = mant / (double) (1 << m);
        if (exp == maxExp) return mant == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        if (exp == 0) return sign * Math.scalb(frac, 1 - bias);
        return sign * Math.scalb(1 + frac, exp - bias);
    }

    /** {@code widen} of each of the 65536 bit patterns equals {@link #reference}, signed zeros and NaNs included. */
    private static void assertExhaustive(String format, int e, int m, IntFunction<Float> widen) {
        for (int bits = 0; bits < 0x10000; bits++) {
            double want = reference(bits, e, m);
            float got = widen.apply(bits);
            String what = format + " 0x" + Integer.toHexString(bits);
            if (Double.isNaN(want)) {
                assertTrue(Float.isNaN(got), what);
            } else {
                assertEquals(want, (double) got, 0.0, what);
                // signed zero too: 0x8000 is -0.0
                assertEquals(Math.copySign(1.0, want), Math.copySign(1.0, got), what + " sign");
            }
        }
    }

    @Test
    void halfExhaustive() {
        assertExhaustive("F16", 5, 10, SafeTensorsDType::halfToFloat);
    }

    @Test
    void bfloat16Exhaustive() {
        assertExhaustive("BF16", 8, 7, SafeTensorsDType::bfloat16ToFloat);
    }

    @Test
    void knownValues() {
        assertEquals(1.0f, SafeTensorsDType.halfToFloat(0x3c00));
        assertEquals(-2.0f, SafeTensorsDType.halfToFloat(0xc000));
        assertEquals(65504.0f, SafeTensorsDType.halfToFloat(0x7bff)); // largest finite
        assertEquals(0x1p-24f, SafeTensorsDType.halfToFloat(0x0001)); // smallest subnormal
        assertEquals(0x1p-14f - 0x1p-24f, SafeTensorsDType.halfToFloat(0x03ff)); // largest subnormal
        assertEquals(0x1p-14f, SafeTensorsDType.halfToFloat(0x0400)); // smallest normal
        assertEquals(Float.POSITIVE_INFINITY, SafeTensorsDType.halfToFloat(0x7c00));
        assertEquals(Float.NEGATIVE_INFINITY, SafeTensorsDType.halfToFloat(0xfc00));
        assertTrue(Float.isNaN(SafeTensorsDType.halfToFloat(0x7e00)));
        assertTrue(Float.isNaN(SafeTensorsDType.halfToFloat(0x7c01))); // signalling NaN stays NaN, not inf
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(SafeTensorsDType.halfToFloat(0x8000)));
        assertEquals(1.0f, SafeTensorsDType.bfloat16ToFloat(0x3f80));
        assertEquals(Float.MIN_VALUE * 65536, SafeTensorsDType.bfloat16ToFloat(0x0001)); // smallest subnormal 2^-133
        assertEquals(Float.NEGATIVE_INFINITY, SafeTensorsDType.bfloat16ToFloat(0xff80));
        assertTrue(Float.isNaN(SafeTensorsDType.bfloat16ToFloat(0x7fc0)));
        assertTrue(Float.isNaN(SafeTensorsDType.bfloat16ToFloat(0x7f81)));
    }
}
