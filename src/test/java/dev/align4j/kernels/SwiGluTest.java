package dev.align4j.kernels;

import static dev.align4j.kernels.LogProbsTest.assertMessage;
import static dev.align4j.testing.Close.POISON;
import static dev.align4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.align4j.reference.SwiGluReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import dev.align4j.testing.Rand;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SwiGluTest {
    /**
     * {N, F}: empty either way; one element; F odd, below the 32-lane warp and the 256-thread block; many rows per
     * block with a ragged last block (GPU chunk 4096: 585 rows of F = 7 per block); F just over the GPU chunk
     * (one row per block there); F over the CPU chunk (16384); and N·F = 528,771, whose 3·N·F (forward) and
     * 5·N·F (backward) touched elements cross the CPU backend's parallel threshold (2^20), 43 CPU blocks.
     */
    private static final int[][] SHAPES = {{0, 5}, {4, 0}, {1, 1}, {1, 7}, {5, 33}, {1000, 7}, {3, 4100},
            {2, 16385}, {129, 4099}};
    /** σ within ~3 ulp, then a few roundings: relative error of silu·u well under this. */
    private static final double RTOL = 2e-6;
    private static final double ATOL = 1e-30;

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int[] nf : SHAPES) {
            int n = nf[0], f = nf[1];
            runCase(device, "seed " + seed + " N=" + n + " F=" + f, Rand.normal(r, n * 2 * f, 3), r, n, f,
                    new long[] {n, 2L * f});
        }
        runCase(device, "seed " + seed + " [2,3,18]", Rand.normal(r, 108, 3), r, 6, 9, new long[] {2, 3, 18});
    }

    /**
     * Every hard gate against every hard up (row r: gate = GATES[r], up = UPS[j]): signed zeros, denormals, tiny
     * values, the zero of silu' (z ≈ −1.2785), the tails where e = exp(−|z|) is tiny or 0, products that overflow
     * (the reference is rounded to float, which gives ±inf there too), ±inf (silu(−inf) = 0, silu(+inf) = +inf,
     * silu'(±inf) = 1 / 0; inf·0 is NaN) and NaN.
     */
    @DeviceTest
    void hardValues(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        float inf = Float.POSITIVE_INFINITY, max = Float.MAX_VALUE;
        float[] gates = {0f, -0f, 1e-40f, -1e-40f, 1e-30f, -1e-30f, 1e-3f, -1e-3f, 1, -1, -1.2785f, 5, -5, 20, -20,
                50, -50, 87, -87, 1e4f, -1e4f, 1e30f, -1e30f, max, -max, inf, -inf, Float.NaN};
        float[] ups = {1, -1, 0f, -0f, 1e-30f, 3.5f, -1e4f, 1e30f, inf, -inf, Float.NaN};
        int n = gates.length, f = ups.length;
        float[] h = new float[n * 2 * f];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < f; j++) {
                h[i * 2 * f + j] = gates[i];
                h[i * 2 * f + f + j] = ups[j];
            }
        runCase(device, "seed " + seed + " hard values", h, r, n, f, new long[] {n, 2L * f});
        // hard upstream gradients on moderate h (dout = ±inf, NaN, 0, tiny, huge)
        float[] hm = Rand.normal(r, 2 * 2 * 6, 2);
        float[] dout = {inf, -inf, Float.NaN, 0f, -0f, 1e-30f, 1e30f, -1e30f, 1, -1, 1e-40f, 2};
        runCase(device, "seed " + seed + " hard dout", hm, dout, 2, 6, new long[] {2, 12});
    }

    static void runCase(Device device, String what, float[] h, Random r, int n, int f, long[] shape) {
        runCase(device, what, h, Rand.normal(r, n * f, 1), n, f, shape);
    }

    static void runCase(Device device, String what, float[] h, float[] dout, int n, int f, long[] shape) {
        double[] ref = SwiGluReference.forward(h, n, f);
        double[] refDh = SwiGluReference.backward(h, dout, n, f);
        long[] outShape = shape.clone();
        outShape[outShape.length - 1] = f;
        try (Scope s = new Scope()) {
            Tensor ht = s.of(device, h, shape);
            Tensor out = s.of(device, Rand.filled(n * f, POISON), outShape);
            SwiGlu.forward(ht, out);
            float[] got = out.toFloatArray();
            close(what + " out", ref, got, constant(ref.length, ATOL));
            Tensor dt = s.of(device, dout, outShape);
            Tensor dh = s.of(device, Rand.filled(n * 2 * f, POISON), shape);
            SwiGlu.backward(ht, dt, dh);
            float[] gotDh = dh.toFloatArray();
            close(what + " dh", refDh, gotDh, dhAtol(h, dout, n, f));
            // the allocating overloads, bit for bit
            assertArrayEquals(got, SwiGlu.forward(s, ht).toFloatArray(), what + " forward into a new tensor");
            assertArrayEquals(gotDh, SwiGlu.backward(s, ht, dt).toFloatArray(), what + " backward into a new tensor");
            // in place (dh = h), bit for bit: the kernel reads gate and up before it overwrites them
            SwiGlu.backward(ht, dt, ht);
            assertArrayEquals(gotDh, ht.toFloatArray(), what + " in-place backward (dh = h)");
        }
    }

    /** atol + rtol·|ref|, with the reference rounded to float (products that overflow float are ±inf there too). */
    private static void close(String what, double[] ref, float[] got, double[] atol) {
        if (ref.length != got.length) throw new AssertionError(what + ": length " + got.length + ", expected " + ref.length);
        for (int i = 0; i < ref.length; i++) assertClose(what + "[" + i + "]", (float) ref[i], got[i], atol[i], RTOL);
    }

    private static double[] constant(int n, double v) {
        double[] a = new double[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    /**
     * dgate = dout·u·(σ + z·σ·(1 − σ)) is accurate relative to its larger term, not to itself: near silu''s zero
     * (z ≈ −1.28) the two terms cancel. So dgate's absolute tolerance scales with |dout·u|·(σ + |z|·σ·(1 − σ)).
     */
    private static double[] dhAtol(float[] h, float[] dout, int n, int f) {
        double[] a = constant(n * 2 * f, ATOL);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < f; j++) {
                double g = h[r * 2 * f + j], u = h[r * 2 * f + f + j], d = dout[r * f + j];
                double s = SwiGluReference.sigmoid(g), terms = s + (Double.isInfinite(g) ? 0 : Math.abs(g) * s * SwiGluReference.sigmoid(-g));
                double scale = Math.abs(d * u) * terms;
                if (Double.isFinite(scale)) a[r * 2 * f + j] += RTOL * scale;
            }
        return a;
    }

    /** The kernel's dh of L = Σ dout·out against central differences of the reference, on gate and up. */
    @DeviceTest
    void finiteDifferences(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int n = 3, f = 11;
        float[] h = Rand.normal(r, n * 2 * f, 3);
        float[] dout = Rand.normal(r, n * f, 1);
        float[] dh;
        try (Scope s = new Scope()) {
            Tensor d = s.empty(device, DType.F32, n, 2L * f);
            SwiGlu.backward(s.of(device, h, n, 2L * f), s.of(device, dout, n, f), d);
            dh = d.toFloatArray();
        }
        double[] hd = new double[h.length];
        for (int i = 0; i < h.length; i++) hd[i] = h[i];
        double[] refDh = SwiGluReference.backward(h, dout, n, f);
        for (int i = 0; i < h.length; i++) {
            int row = i / (2 * f), col = i % (2 * f) % f;
            double fd = FiniteDifference.at(hd, i, 1e-6, () -> SwiGluReference.term(hd, dout, f, row, col));
            String which = (i % (2 * f) < f ? "dgate" : "dup") + " at h[" + i + "] = " + h[i];
            assertClose("seed " + seed + " finite difference " + which + " (kernel)", fd, dh[i], 2e-6, 1e-4);
            assertClose("seed " + seed + " finite difference " + which + " (reference)", fd, refDh[i], 1e-8, 1e-6);
        }
    }

    /** One random case for the fuzz test. */
    public static void fuzzCase(Random r, Device device) {
        int n = r.nextInt(r.nextBoolean() ? 4 : 40);
        int f = r.nextInt(r.nextBoolean() ? 10 : 300);
        float[] h = Rand.normal(r, n * 2 * f, r.nextBoolean() ? 1 : 10);
        runCase(device, "fuzz N=" + n + " F=" + f, h, r, n, f, new long[] {n, 2L * f});
    }

    @Test
    void convenienceArrays() {
        // two rows, F = 2: [g0 g1 | u0 u1]
        float[] y = SwiGlu.compute(new float[] {0, 1, 5, 2, -1, 3, 0.5f, -2}, 2);
        assertClose("swiglu", new double[] {0, SwiGluReference.silu(1) * 2, SwiGluReference.silu(-1) * 0.5,
                SwiGluReference.silu(3) * -2}, y, 1e-7, 1e-6);
        assertMessage(IllegalArgumentException.class, "h must not be null", () -> SwiGlu.compute(null, 2));
        assertMessage(IllegalArgumentException.class, "f must be > 0, got 0", () -> SwiGlu.compute(new float[4], 0));
        assertMessage(IllegalArgumentException.class, "h has 6 values, not a multiple of 2F = 4",
                () -> SwiGlu.compute(new float[6], 2));
    }

    @Test
    void badInputsNameTheArgument() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor h = s.of(d, new float[12], 2, 6);
            Tensor dout = s.of(d, new float[6], 2, 3);
            assertMessage(IllegalArgumentException.class, "h must not be null", () -> SwiGlu.forward(s, null));
            assertMessage(IllegalArgumentException.class, "h must not be null", () -> SwiGlu.forward((Tensor) null, dout));
            assertMessage(IllegalArgumentException.class, "h must be F32", () -> SwiGlu.forward(s, s.of(d, new int[4])));
            assertMessage(IllegalArgumentException.class,
                    "h: last dimension must be 2F (gate | up), an even number, got shape [2, 5]",
                    () -> SwiGlu.forward(s, s.of(d, new float[10], 2, 5)));
            assertMessage(IllegalArgumentException.class, "h must have a last dimension 2F, got a scalar",
                    () -> SwiGlu.forward(s, s.empty(d, DType.F32)));
            assertMessage(IllegalArgumentException.class, "out: expected shape [2, 3], got [2, 6]",
                    () -> SwiGlu.forward(h, s.of(d, new float[12], 2, 6)));
            assertMessage(IllegalArgumentException.class, "out must not be null", () -> SwiGlu.forward(h, null));
            assertMessage(IllegalArgumentException.class, "out must be F32",
                    () -> SwiGlu.forward(h, s.of(d, new int[6], 2, 3)));
            assertMessage(IllegalArgumentException.class, "dout: expected shape [2, 3], got [3, 2]",
                    () -> SwiGlu.backward(h, s.of(d, new float[6], 3, 2), h));
            assertMessage(IllegalArgumentException.class, "dout must not be null", () -> SwiGlu.backward(h, null, h));
            assertMessage(IllegalArgumentException.class, "dout must not be null", () -> SwiGlu.backward(s, h, null));
            assertMessage(IllegalArgumentException.class, "dh: expected shape [2, 6], got [2, 3]",
                    () -> SwiGlu.backward(h, dout, s.of(d, new float[6], 2, 3)));
            assertMessage(IllegalArgumentException.class, "dh must not be null", () -> SwiGlu.backward(h, dout, null));
            assertMessage(IllegalArgumentException.class, "h: last dimension must be 2F",
                    () -> SwiGlu.backward(s.of(d, new float[3], 3), s.of(d, new float[1]), s.of(d, new float[3])));
            Tensor closed = s.of(d, new float[6], 2, 3);
            closed.close();
            assertMessage(IllegalStateException.class, "dout", () -> SwiGlu.backward(h, closed, h));
            assertMessage(IllegalStateException.class, "out", () -> SwiGlu.forward(h, closed));
        }
    }
}
