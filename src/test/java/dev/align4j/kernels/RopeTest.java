package dev.align4j.kernels;

import static dev.align4j.kernels.LogProbsTest.assertMessage;
import static dev.align4j.testing.Close.POISON;
import static dev.align4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.align4j.kernels.Rope.Llama3Scaling;
import dev.align4j.reference.RopeReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import dev.align4j.testing.Rand;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RopeTest {
    /**
     * Error bound of one rotated output against the exact rotation, in units of |x[i]| + |x[i+R]|: cos and sin
     * rounded to float (~6e-8 each) and three float roundings in the rotation (cuda/rope.cuh: ~2.4e-7), with margin.
     */
    static final double BOUND = 4e-7;

    /**
     * {B, H, T, D, R}: B = 0, T = 0, H = 0, D = 2, T = 1, odd H, D = 64, 96 and 128, R > ROPE_TILE (128) so that a
     * block takes two tiles of frequencies, partial rotary (R < D/2, dims [2R, D) pass through), a block whose
     * (head, frequency) pairs exceed the 256 threads.
     */
    static final int[][] SHAPES = {{0, 2, 3, 8, 4}, {2, 3, 0, 8, 4}, {2, 0, 3, 8, 4}, {1, 1, 1, 2, 1}, {2, 3, 5, 64, 32},
            {1, 5, 7, 128, 64}, {3, 7, 4, 96, 48}, {2, 3, 3, 264, 132}, {2, 3, 5, 64, 16}, {1, 3, 3, 10, 2},
            {1, 9, 2, 128, 64}};

    /** Start positions: 0, a KV-cache offset, long contexts (10^5, 10^6) and beyond 2^31. */
    static final long[] POS0 = {0, 17, 100_000, 1_000_000, (1L << 31) + 5};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int[] s : SHAPES)
            for (long pos0 : POS0) {
                // frequencies: Llama 2's theta, Llama 3's theta, Llama 3.1's scaling (R = D/2 only: it needs the head dim)
                int kind = r.nextInt(3);
                float[] inv = kind == 0 || s[4] * 2 != s[3] ? Rope.invFreq(2 * s[4], kind == 1 ? 500_000 : 10_000, null)
                        : Rope.invFreq(s[3], 500_000, Llama3Scaling.LLAMA_3_1);
                runCase(device, "seed " + seed + " " + Arrays.toString(s) + " pos0=" + pos0, r, s[0], s[1], s[2], s[3],
                        inv, pos0);
            }
    }

    /** Forward and backward against the reference, in place bit for bit; returns the largest error / bound unit. */
    static double runCase(Device device, String what, Random r, int b, int h, int t, int d, float[] inv, long pos0) {
        int n = b * h * t * d;
        float[] x = Rand.normal(r, n, 2);
        float[] dout = Rand.normal(r, n, 1);
        double worst;
        try (Scope s = new Scope()) {
            Tensor invT = s.of(device, inv);
            Tensor xt = s.of(device, x, b, h, t, d);
            Tensor out = s.of(device, Rand.filled(n, POISON), b, h, t, d);
            Rope.forward(xt, invT, pos0, out);
            float[] got = out.toFloatArray();
            worst = assertRotation(what + " forward", RopeReference.forward(x, b, h, t, d, inv, pos0), got, x, d,
                    inv.length);

            Tensor dt = s.of(device, dout, b, h, t, d);
            Tensor dx = s.of(device, Rand.filled(n, POISON), b, h, t, d);
            Rope.backward(dt, invT, pos0, dx);
            float[] gotDx = dx.toFloatArray();
            worst = Math.max(worst, assertRotation(what + " backward",
                    RopeReference.backward(dout, b, h, t, d, inv, pos0), gotDx, dout, d, inv.length));

            Rope.forward(xt, invT, pos0, xt);
            assertArrayEquals(got, xt.toFloatArray(), what + " in-place forward (out = x)");
            Rope.backward(dt, invT, pos0, dt);
            assertArrayEquals(gotDx, dt.toFloatArray(), what + " in-place backward (dx = dout)");
        }
        return worst;
    }

    /**
     * Each rotated output within BOUND·(|x[i]| + |x[i+R]|) of the reference, the pass-through dims exact. Returns the
     * largest error in units of |x[i]| + |x[i+R]|.
     */
    static double assertRotation(String what, double[] ref, float[] got, float[] x, int d, int r) {
        assertEquals(ref.length, got.length, what + ": length");
        double worst = 0;
        for (int k = 0; k < ref.length; k++) {
            int i = k % d, row = k - i;
            if (i >= 2 * r) {
                if (got[k] != x[k]) fail(what + "[" + k + "]: pass-through dim " + i + " changed: " + got[k] + ", was " + x[k]);
                continue;
            }
            int j = i < r ? i : i - r;
            double scale = Math.abs(x[row + j]) + Math.abs(x[row + j + r]);
            double err = Math.abs(got[k] - ref[k]);
            if (!(err <= BOUND * scale + 1e-37))
                fail(what + "[" + k + "] (dim " + i + "): got " + got[k] + ", expected " + ref[k] + " (error " + err
                        + " > " + BOUND + "·" + scale + ")");
            if (scale > 0) worst = Math.max(worst, err / scale);
        }
        return worst;
    }

    /**
     * Long positions (10^5, 10^6, 10^7, 10^9) at Llama 3.1's frequencies and head dim 128: the same error bound as at
     * position 0. Prints the measured error and, for comparison, that of an angle computed in float32 as transformers
     * does.
     */
    @DeviceTest
    void largePositions(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int b = 1, h = 4, t = 16, d = 128;
        float[][] freqs = {Rope.invFreq(d, 500_000, Llama3Scaling.LLAMA_3_1), Rope.invFreq(d, 10_000, null)};
        String[] names = {"Llama 3.1 (theta 500000, llama3 scaling)", "theta 10000"};
        for (int f = 0; f < freqs.length; f++)
            for (long pos0 : new long[] {0, 100_000, 1_000_000, 10_000_000, 1_000_000_000}) {
                float[] inv = freqs[f];
                String what = "seed " + seed + " pos0=" + pos0 + " " + names[f];
                double worst = runCase(device, what, r, b, h, t, d, inv, pos0);
                System.out.printf(Locale.ROOT, "rope %s %s: max |error| / (|x1| + |x2|) = %.3g (float32 angle: %.3g)%n",
                        device, what, worst, float32AngleError(r, inv, pos0, t));
            }
    }

    /** The largest |cos error| over positions pos0 .. pos0 + t − 1 when the angle is computed in float32. */
    static double float32AngleError(Random r, float[] inv, long pos0, int t) {
        double worst = 0;
        for (int ti = 0; ti < t; ti++)
            for (float f : inv) {
                double exact = (double) (pos0 + ti) * f;
                float a32 = (float) (pos0 + ti) * f;
                worst = Math.max(worst, Math.abs(Math.cos(a32) - Math.cos(exact)));
            }
        return worst;
    }

    /** {@code <R x, y> = <x, Rᵀ y>}: the backward is the transpose of the forward (kernel on both sides). */
    @DeviceTest
    void transposeDotProduct(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int[][] shapes = {{2, 3, 5, 64, 32}, {1, 2, 4, 10, 3}, {1, 1, 3, 264, 132}};
        for (int[] sh : shapes) {
            int b = sh[0], h = sh[1], t = sh[2], d = sh[3], n = b * h * t * d;
            float[] inv = Rope.invFreq(2 * sh[4], 10_000, null);
            long pos0 = r.nextInt(2_000_000);
            float[] x = Rand.normal(r, n, 1), y = Rand.normal(r, n, 1);
            try (Scope s = new Scope()) {
                Tensor invT = s.of(device, inv);
                Tensor rx = Rope.forward(s, s.of(device, x, b, h, t, d), invT, pos0);
                Tensor rty = s.empty(device, DType.F32, b, h, t, d);
                Rope.backward(s.of(device, y, b, h, t, d), invT, pos0, rty);
                float[] a = rx.toFloatArray(), c = rty.toFloatArray();
                double lhs = 0, rhs = 0, mag = 0;
                for (int i = 0; i < n; i++) {
                    lhs += (double) a[i] * y[i];
                    rhs += (double) x[i] * c[i];
                    mag += Math.abs(x[i]) * (double) Math.abs(y[i]);
                }
                assertClose("seed " + seed + " " + Arrays.toString(sh) + " pos0=" + pos0 + " <Rx, y> vs <x, R^T y>", lhs,
                        rhs, 2 * BOUND * 2 * mag, 0);
            }
        }
    }

    /** The kernel's dx of L = Σ dout·rope(x) against central differences of the reference forward. */
    @DeviceTest
    void finiteDifferences(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int b = 2, h = 3, t = 4, d = 12;
        float[] inv = Rope.invFreq(d, 10_000, 0.5, null);  // partial: dims [6, 12) pass through
        long pos0 = 1_000_000 + r.nextInt(1000);
        float[] x = Rand.normal(r, b * h * t * d, 1), dout = Rand.normal(r, x.length, 1);
        float[] dx;
        try (Scope s = new Scope()) {
            Tensor g = s.empty(device, DType.F32, b, h, t, d);
            Rope.backward(s.of(device, dout, b, h, t, d), s.of(device, inv), pos0, g);
            dx = g.toFloatArray();
        }
        double[] xd = RopeReference.toDouble(x);
        double[] fd = FiniteDifference.all(xd, 1e-3, () -> {
            double[] y = RopeReference.rotate(xd, b, h, t, d, inv, pos0, 1);
            double l = 0;
            for (int i = 0; i < y.length; i++) l += dout[i] * y[i];
            return l;
        });
        assertClose("seed " + seed + " finite difference dx", fd, dx, 3e-6, 1e-5);
    }

    /** One random case for the fuzz test. */
    public static void fuzzCase(Random r, Device device) {
        int b = r.nextInt(3), h = r.nextInt(5), t = r.nextInt(6), d = 2 * (1 + r.nextInt(r.nextBoolean() ? 4 : 70));
        int rot = 1 + r.nextInt(d / 2);
        long pos0 = r.nextBoolean() ? r.nextInt(64) : (long) (r.nextDouble() * 2e6);
        float[] inv = Rope.invFreq(2 * rot, r.nextBoolean() ? 10_000 : 1_000_000, null);
        runCase(device, "fuzz B=" + b + " H=" + h + " T=" + t + " D=" + d + " R=" + rot + " pos0=" + pos0, r, b, h, t, d,
                inv, pos0);
    }

    // ------------------------------------------------------------------------------------ frequencies

    @Test
    void invFreqDefault() {
        // 1/theta^(2i/dim): head dim 4 -> [1, theta^-1/2]; 8 -> [1, theta^-1/4, theta^-1/2, theta^-3/4]
        assertArrayEquals(new double[] {1, 0.01}, Rope.invFreqDouble(4, 10_000, 1.0, null), 1e-17);
        assertArrayEquals(new double[] {1, 0.1, 0.01, 0.001}, Rope.invFreqDouble(8, 10_000, 1.0, null), 1e-17);
        assertArrayEquals(new float[] {1f, 0.1f, 0.01f, 0.001f}, Rope.invFreq(8, 10_000, null));
        // Llama 3 (theta 500000, head dim 128): f_1 = 500000^(-1/64), f_63 = 500000^(-63/64)
        double[] l3 = Rope.invFreqDouble(128, 500_000, 1.0, null);
        assertEquals(64, l3.length);
        assertEquals(Math.exp(-Math.log(500_000) / 64), l3[1], 1e-16);
        assertEquals(Math.exp(-63 * Math.log(500_000) / 64), l3[63], 1e-20);
        // partial rotary factor 0.5 of head dim 8: dim 4, 1/theta^(2i/4)
        assertArrayEquals(new double[] {1, 0.01}, Rope.invFreqDouble(8, 10_000, 0.5, null), 1e-17);
        // factor 0.25 of 80 (Phi-2's 32 of 80 is 0.4): dim 20
        assertEquals(10, Rope.invFreq(80, 10_000, 0.25, null).length);
    }

    /**
     * transformers' _compute_llama3_parameters by hand on head dim 8, theta 10^4 (f = 1, 0.1, 0.01, 0.001; wavelengths
     * 2π/f = 6.28, 62.8, 628, 6283) with factor 8, low 1, high 4, original context 1000 (bands: wavelength < 250 kept,
     * > 1000 divided by 8, between: smoothed with s = (1000/wavelength − 1)/(4 − 1)).
     */
    @Test
    void llama3ScalingByHand() {
        Llama3Scaling sc = new Llama3Scaling(8, 1, 4, 1000);
        double[] got = Rope.invFreqDouble(8, 10_000, 1.0, sc);
        double s2 = (1000 / (2 * Math.PI / 0.01) - 1) / 3;  // = (5/π − 1)/3 = 0.19718...
        assertEquals(0.19718, s2, 1e-5);
        double[] want = {1, 0.1, (1 - s2) * 0.01 / 8 + s2 * 0.01, 0.001 / 8};
        assertArrayEquals(want, got, 1e-17);
        assertEquals(0.00297535, got[2], 1e-8);  // 0.01·((1 − s)/8 + s), worked out: 0.01·(0.100352 + 0.197183)
        assertArrayEquals(new float[] {1f, 0.1f, 0.00297535f, 1.25e-4f}, Rope.invFreq(8, 10_000, sc), 1e-8f);
        // Llama 3.1 8B (head dim 128, theta 500000): f_0 = 1 kept; the lowest frequency divided by 8
        double[] base = Rope.invFreqDouble(128, 500_000, 1.0, null);
        double[] l31 = Rope.invFreqDouble(128, 500_000, 1.0, Llama3Scaling.LLAMA_3_1);
        assertEquals(1.0, l31[0], 0);
        assertEquals(base[63] / 8, l31[63], 1e-22);
        // every frequency: kept, divided by 8, or strictly between (monotone in i, like the base)
        int kept = 0, divided = 0, smoothed = 0;
        for (int i = 0; i < 64; i++) {
            double wl = 2 * Math.PI / base[i];
            if (wl < 2048) {
                assertEquals(base[i], l31[i], 0, "i=" + i);
                kept++;
            } else if (wl > 8192) {
                assertEquals(base[i] / 8, l31[i], 0, "i=" + i);
                divided++;
            } else {
                assertTrue(l31[i] > base[i] / 8 && l31[i] < base[i], "i=" + i);
                smoothed++;
            }
            if (i > 0) assertTrue(l31[i] < l31[i - 1], "monotone at " + i);
        }
        // wavelength 2π·500000^(i/64) < 2048 for i < 64·ln(2048/2π)/ln(500000) = 28.2, > 8192 for
        // i > 64·ln(8192/2π)/ln(500000) = 34.98 (by hand): 29 kept (i <= 28), 29 divided (i >= 35), 6 smoothed
        assertEquals(29, kept);
        assertEquals(29, divided);
        assertEquals(6, smoothed);
    }

    @Test
    void invFreqBadArguments() {
        assertMessage(IllegalArgumentException.class, "headDim must be >= 2, got 1", () -> Rope.invFreq(1, 10_000, null));
        assertMessage(IllegalArgumentException.class, "theta (rope_theta) must be finite and > 0, got 0.0",
                () -> Rope.invFreq(8, 0, null));
        assertMessage(IllegalArgumentException.class, "theta (rope_theta) must be finite and > 0, got NaN",
                () -> Rope.invFreq(8, Double.NaN, null));
        assertMessage(IllegalArgumentException.class, "partialRotaryFactor must be in (0, 1], got 1.5",
                () -> Rope.invFreq(8, 10_000, 1.5, null));
        assertMessage(IllegalArgumentException.class, "= 3 must be even and >= 2", () -> Rope.invFreq(6, 10_000, 0.5, null));
        assertMessage(IllegalArgumentException.class, "= 3 must be even and >= 2", () -> Rope.invFreq(3, 10_000, null));
        assertMessage(IllegalArgumentException.class, "factor must be finite and > 0, got 0.0",
                () -> new Llama3Scaling(0, 1, 4, 8192));
        assertMessage(IllegalArgumentException.class, "low_freq_factor must be finite and > 0, got -1.0",
                () -> new Llama3Scaling(8, -1, 4, 8192));
        assertMessage(IllegalArgumentException.class, "high_freq_factor must be finite and > low_freq_factor (1.0), got 1.0",
                () -> new Llama3Scaling(8, 1, 1, 8192));
        assertMessage(IllegalArgumentException.class, "original_max_position_embeddings must be >= 1, got 0",
                () -> new Llama3Scaling(8, 1, 4, 0));
    }

    // ------------------------------------------------------------------------------------ API

    @Test
    void convenienceArrays() {
        // one head of dim 4 at position 1 with f = [1, 0.5]: pairs (x0, x2) by 1 rad, (x1, x3) by 0.5 rad
        float[] y = Rope.compute(new float[] {1, 2, 3, 4}, 1, 1, 1, 4, new float[] {1f, 0.5f}, 1);
        double c1 = Math.cos(1), s1 = Math.sin(1), c5 = Math.cos(0.5), s5 = Math.sin(0.5);
        assertClose("rope", new double[] {1 * c1 - 3 * s1, 2 * c5 - 4 * s5, 3 * c1 + 1 * s1, 4 * c5 + 2 * s5}, y, 1e-6, 0);
        // position 0 is the identity
        assertArrayEquals(new float[] {1, 2, 3, 4}, Rope.compute(new float[] {1, 2, 3, 4}, 1, 1, 1, 4, new float[] {1f, 0.5f}, 0));
        assertMessage(IllegalArgumentException.class, "x has 4 values, not batch·heads·seqLen·headDim = 1·1·2·4",
                () -> Rope.compute(new float[4], 1, 1, 2, 4, new float[] {1f, 0.5f}, 0));
    }

    @Test
    void outputsOwnedByScope() {
        Device d = Device.cpu();
        long before = Scope.globalLiveCount();
        try (Scope s = new Scope()) {
            Tensor x = s.of(d, new float[8], 1, 1, 2, 4);
            Tensor inv = s.of(d, new float[] {1, 0.5f});
            Rope.forward(s, x, inv, 3);
            assertEquals(3, s.liveCount());
            assertMessage(IllegalArgumentException.class, "pos0 must be >= 0, got -1", () -> Rope.forward(s, x, inv, -1));
            assertEquals(3, s.liveCount(), "a failed call leaves no output behind");
        }
        assertEquals(before, Scope.globalLiveCount());
    }

    @Test
    void badInputsNameTheArgument() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(d, new float[48], 2, 3, 2, 4);
            Tensor inv = s.of(d, new float[] {1, 0.5f});
            Tensor out = s.empty(d, DType.F32, 2, 3, 2, 4);
            assertMessage(IllegalArgumentException.class, "x must not be null", () -> Rope.forward(null, inv, 0, out));
            assertMessage(IllegalArgumentException.class, "invFreq must not be null", () -> Rope.forward(x, null, 0, out));
            assertMessage(IllegalArgumentException.class, "out must not be null", () -> Rope.forward(x, inv, 0, null));
            assertMessage(IllegalArgumentException.class, "x must be [B, H, T, D] (rank 4), got [6, 8]",
                    () -> Rope.forward(s.of(d, new float[48], 6, 8), inv, 0, out));
            assertMessage(IllegalArgumentException.class, "x must be F32",
                    () -> Rope.forward(s.of(d, new int[48], 2, 3, 2, 4), inv, 0, out));
            assertMessage(IllegalArgumentException.class, "x: the head dimension D must be even and >= 2, got 3",
                    () -> Rope.forward(s.of(d, new float[36], 2, 3, 2, 3), inv, 0, out));
            assertMessage(IllegalArgumentException.class, "dout: the head dimension D must be even and >= 2, got 0",
                    () -> Rope.backward(s.empty(d, DType.F32, 2, 3, 2, 0), inv, 0, out));
            assertMessage(IllegalArgumentException.class, "invFreq must be [R] with 1 <= R <= D/2 = 2, got [3]",
                    () -> Rope.forward(x, s.of(d, new float[] {1, 2, 3}), 0, out));
            assertMessage(IllegalArgumentException.class, "invFreq must be [R] with 1 <= R <= D/2 = 2, got [0]",
                    () -> Rope.forward(x, s.of(d, new float[0]), 0, out));
            assertMessage(IllegalArgumentException.class, "invFreq must be [R] with 1 <= R <= D/2 = 2, got [1, 2]",
                    () -> Rope.forward(x, s.of(d, new float[] {1, 2}, 1, 2), 0, out));
            assertMessage(IllegalArgumentException.class, "invFreq must be F32",
                    () -> Rope.forward(x, s.of(d, new int[] {1, 2}), 0, out));
            assertMessage(IllegalArgumentException.class, "invFreq[1] = NaN is not finite",
                    () -> Rope.forward(x, s.of(d, new float[] {1, Float.NaN}), 0, out));
            assertMessage(IllegalArgumentException.class, "invFreq[0] = Infinity is not finite",
                    () -> Rope.backward(x, s.of(d, new float[] {Float.POSITIVE_INFINITY}), 0, out));
            assertMessage(IllegalArgumentException.class, "pos0 must be >= 0, got -5", () -> Rope.forward(x, inv, -5, out));
            assertMessage(IllegalArgumentException.class, "positions pos0 + t must be <= 2^53 (exact in double): pos0 = "
                    + Rope.MAX_POSITION + ", T = 2", () -> Rope.forward(x, inv, Rope.MAX_POSITION, out));
            Rope.forward(x, inv, Rope.MAX_POSITION - 1, out);  // the last position is 2^53: allowed
            assertMessage(IllegalArgumentException.class, "out: expected shape [2, 3, 2, 4], got [2, 3, 4, 2]",
                    () -> Rope.forward(x, inv, 0, s.empty(d, DType.F32, 2, 3, 4, 2)));
            assertMessage(IllegalArgumentException.class, "dx: expected shape [2, 3, 2, 4], got [48]",
                    () -> Rope.backward(x, inv, 0, s.empty(d, DType.F32, 48)));
            assertMessage(IllegalArgumentException.class, "dx must not be null", () -> Rope.backward(x, inv, 0, null));
            assertMessage(IllegalArgumentException.class, "dout must not be null", () -> Rope.backward(null, inv, 0, out));
            Tensor closed = s.of(d, new float[] {1, 0.5f});
            closed.close();
            assertMessage(IllegalStateException.class, "invFreq", () -> Rope.forward(x, closed, 0, out));
            assertMessage(IllegalArgumentException.class, "scope must not be null", () -> Rope.forward(null, x, inv, 0));
        }
    }
}
