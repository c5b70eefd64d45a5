package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** F16 and BF16 widen to F32 exactly: every one of the 65536 bit patterns against a definition in double. */
class SafeTensorsDTypeTest {
    /** binary16 by its definition: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024. */
    static double halfReference(int bits) {
        int s = (bits >> 15) & 1, e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
        double sign = s == 1 ? -1 : 1;
        if (e == 31) return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        if (e == 0) return sign * Math.scalb(m / 1024.0, -14);
        return sign * Math.scalb(1 + m / 1024.0, e - 15);
    }

    /** bfloat16 by its definition: (-1)^s * 2^(e-127) * (1 + m/128), subnormals 2^-126 * m/128. */
    static double bf16Reference(int bits) {
        int s = (bits >> 15) & 1, e = (bits >> 7) & 0xff, m = bits & 0x7f;
        double sign = s == 1 ? -1 : 1;
        if (e == 255) return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        if (e == 0) return sign * Math.scalb(m / 128.0, -126);
        return sign * Math.scalb(1 + m / 128.0, e - 127);
    }

    @Test
    void halfExhaustive() {
        for (int bits = 0; bits < 0x10000; bits++) {
            double want = halfReference(bits);
            float got = SafeTensorsDType.halfToFloat(bits);
            String what = "F16 0x" + Integer.toHexString(bits);
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
    void bfloat16Exhaustive() {
        for (int bits = 0; bits < 0x10000; bits++) {
            double want = bf16Reference(bits);
            float got = SafeTensorsDType.bfloat16ToFloat(bits);
            String what = "BF16 0x" + Integer.toHexString(bits);
            if (Double.isNaN(want)) {
                assertTrue(Float.isNaN(got), what);
            } else {
                assertEquals(want, (double) got, 0.0, what);
                assertEquals(Math.copySign(1.0, want), Math.copySign(1.0, got), what + " sign");
            }
        }
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
