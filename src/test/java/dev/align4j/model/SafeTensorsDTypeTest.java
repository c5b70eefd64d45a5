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

    // ------------------------------------------------------------------------------------ narrowing

    /**
     * The value of {@code x} rounded to the format of {@code e} exponent and {@code m} mantissa bits, to nearest with
     * ties to even, from the definition: in the binade of x (or the subnormal range) the representable values are
     * the integer multiples of ulp = 2^(exponent - m); rint picks the nearest multiple, the even one on a tie (an
     * even multiple has a 0 last mantissa bit). Past the largest finite value + ulp/2 it is infinite.
     */
    static double roundReference(float x, int e, int m) {
        int bias = (1 << (e - 1)) - 1;
        double ax = Math.abs((double) x);
        if (ax == 0) return x; // keeps the sign of zero
        int exp = Math.max(Math.getExponent(ax), 1 - bias);
        double ulp = Math.scalb(1.0, exp - m);
        double r = Math.rint(ax / ulp) * ulp;
        double maxFinite = Math.scalb(2.0 - Math.scalb(1.0, -m), bias);
        if (r > maxFinite) r = Double.POSITIVE_INFINITY;
        return Math.copySign(r, x);
    }

    private static void assertNarrows(float x) {
        String what = "0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + " (" + x + ")";
        int b = SafeTensorsDType.floatToBfloat16(x), h = SafeTensorsDType.floatToHalf(x);
        assertTrue(b >= 0 && b <= 0xffff && h >= 0 && h <= 0xffff, what);
        if (Float.isNaN(x)) {
            assertTrue(Float.isNaN(SafeTensorsDType.bfloat16ToFloat(b)), what + " BF16 NaN");
            assertTrue(Float.isNaN(SafeTensorsDType.halfToFloat(h)), what + " F16 NaN");
            return;
        }
        double wantB = roundReference(x, 8, 7), wantH = roundReference(x, 5, 10);
        float gotB = SafeTensorsDType.bfloat16ToFloat(b), gotH = SafeTensorsDType.halfToFloat(h);
        assertEquals(wantB, gotB, 0.0, what + " BF16");
        assertEquals(wantH, gotH, 0.0, what + " F16");
        assertEquals(Math.copySign(1.0, wantB), Math.copySign(1.0, gotB), what + " BF16 sign");
        assertEquals(Math.copySign(1.0, wantH), Math.copySign(1.0, gotH), what + " F16 sign");
    }

    /** Narrowing then widening gives back every non-NaN 16-bit value unchanged (the narrowing is exact on them). */
    @Test
    void narrowingInvertsWideningExhaustive() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float b = SafeTensorsDType.bfloat16ToFloat(bits);
            if (Float.isNaN(b)) assertTrue(Float.isNaN(SafeTensorsDType.bfloat16ToFloat(SafeTensorsDType.floatToBfloat16(b))));
            else assertEquals(bits, SafeTensorsDType.floatToBfloat16(b), "BF16 0x" + Integer.toHexString(bits));
            float h = SafeTensorsDType.halfToFloat(bits);
            if (Float.isNaN(h)) assertTrue(Float.isNaN(SafeTensorsDType.halfToFloat(SafeTensorsDType.floatToHalf(h))));
            else assertEquals(bits, SafeTensorsDType.floatToHalf(h), "F16 0x" + Integer.toHexString(bits));
        }
    }

    /**
     * Round to nearest even against the definition: every midpoint between two neighbouring 16-bit values (and the
     * floats just either side of it), plus a million random bit patterns over the whole float range.
     */
    @Test
    void narrowingRoundsToNearestEven() {
        for (int bits = 0; bits < 0x10000; bits++) {
            // the float bits of a bfloat16 midpoint: the bfloat16's bits followed by 0x8000
            int mid = (bits << 16) | 0x8000;
            for (int d = -1; d <= 1; d++) assertNarrows(Float.intBitsToFloat(mid + d));
            float h = SafeTensorsDType.halfToFloat(bits), next = SafeTensorsDType.halfToFloat(bits + 1);
            if (Float.isFinite(h) && Float.isFinite(next) && (bits & 0x7fff) != 0x7fff && bits != 0x7bff && bits != 0xfbff) {
                float m = (float) (((double) h + next) / 2); // exact: a half midpoint has at most 12 significant bits
                assertNarrows(Math.nextDown(m));
                assertNarrows(m);
                assertNarrows(Math.nextUp(m));
            }
        }
        for (float x : new float[] {65504f, 65519.996f, 65520f, -65520f, 0x1p-24f, 0x1p-25f, Math.nextUp(0x1p-25f),
                0x1.8p-24f, 0x1p-14f, Math.nextDown(0x1p-14f), Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE,
                Float.MIN_NORMAL, 0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
                Float.intBitsToFloat(0x7f800001), Float.intBitsToFloat(0xffc00000)})
            assertNarrows(x);
        java.util.Random r = new java.util.Random(0x5eed);
        for (int i = 0; i < 1_000_000; i++) assertNarrows(Float.intBitsToFloat(r.nextInt()));
    }

    @Test
    void narrowingKnownValues() {
        assertEquals(0x3f80, SafeTensorsDType.floatToBfloat16(1f + 0x1p-8f));        // a tie: down to even 1.0
        assertEquals(0x3f82, SafeTensorsDType.floatToBfloat16(1f + 0x3p-8f));        // a tie: up to even
        assertEquals(0x7f80, SafeTensorsDType.floatToBfloat16(Float.MAX_VALUE));     // overflows to infinity
        assertEquals(0x8000, SafeTensorsDType.floatToBfloat16(-0f));
        assertEquals(0x7bff, SafeTensorsDType.floatToHalf(65519f));
        assertEquals(0x7c00, SafeTensorsDType.floatToHalf(65520f));                 // the tie with 2^16 overflows
        assertEquals(0xfc00, SafeTensorsDType.floatToHalf(-1e6f));
        assertEquals(0x0000, SafeTensorsDType.floatToHalf(0x1p-25f));               // a tie with 0: to even 0
        assertEquals(0x0002, SafeTensorsDType.floatToHalf(0x1.8p-24f));              // a tie 1.5 units: to even 2
        assertEquals(0x0400, SafeTensorsDType.floatToHalf(Math.nextDown(0x1p-14f))); // the largest subnormal rounds up to the smallest normal
        assertEquals(0x8000, SafeTensorsDType.floatToHalf(-0f));
        assertEquals(0x7e00, SafeTensorsDType.floatToHalf(Float.NaN));
        assertEquals(0x7fc0, SafeTensorsDType.floatToBfloat16(Float.NaN));
    }

    /**
     * PyTorch's own answers (tools/half_rounding_golden.py, torch 1.13's {@code .to(torch.bfloat16)} and
     * {@code .to(torch.float16)}): ties, subnormals of both formats, the largest values and the first that overflow,
     * infinities, signed zeros and a few thousand random values, equal bit for bit; NaN equal as NaN (torch writes
     * 0xffff for every bfloat16 NaN).
     */
    @Test
    void matchesTorchGolden() throws java.io.IOException {
        java.io.InputStream in = SafeTensorsDTypeTest.class.getResourceAsStream("/half_rounding/torch_golden.txt");
        assertTrue(in != null, "half_rounding/torch_golden.txt is missing from the test resources");
        int lines = 0, nans = 0;
        try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(in,
                java.nio.charset.StandardCharsets.US_ASCII))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("#") || line.isBlank()) continue;
                String[] f = line.trim().split(" ");
                float x = Float.intBitsToFloat(Integer.parseUnsignedInt(f[0], 16));
                int wantB = Integer.parseInt(f[1], 16), wantH = Integer.parseInt(f[2], 16);
                if (Float.isNaN(x)) {
                    nans++;
                    assertTrue(Float.isNaN(SafeTensorsDType.bfloat16ToFloat(SafeTensorsDType.floatToBfloat16(x))), line);
                    assertTrue(Float.isNaN(SafeTensorsDType.halfToFloat(SafeTensorsDType.floatToHalf(x))), line);
                    continue;
                }
                assertEquals(wantB, SafeTensorsDType.floatToBfloat16(x), "BF16 of " + line);
                assertEquals(wantH, SafeTensorsDType.floatToHalf(x), "F16 of " + line);
                lines++;
            }
        }
        assertTrue(lines > 3000 && nans > 0, lines + " values, " + nans + " NaNs");
    }
}
