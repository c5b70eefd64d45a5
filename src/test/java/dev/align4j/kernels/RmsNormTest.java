package dev.align4j.kernels;

import static dev.align4j.kernels.LogProbsTest.assertMessage;
import static dev.align4j.testing.Close.POISON;
import static dev.align4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.reference.RmsNormReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import dev.align4j.testing.Rand;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RmsNormTest {
    // {N, C}: empty, one, C = 1, odd C, C under a warp (GPU blocks of 32/64 threads), Qwen3's head_dim 128 (a
    // 128-thread block), 769/768, C over several CPU slices (64) with a ragged last slice, N over the GPU's 32 row
    // phases, a large N, and C > 1024 (odd) with N·C over 2^20 (the CPU launch goes parallel). Large N·C is taken
    // in long rows: the emulated GPU's cost grows with rows × threads, not with elements.
    private static final int[][] SHAPES = {{0, 5}, {1, 1}, {4, 1}, {1, 7}, {3, 37}, {33, 128}, {5, 769}, {9, 768},
            {70, 130}, {300, 33}, {2, 2048}, {1025, 40}, {257, 4099}};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int[] shape : SHAPES) {
            int n = shape[0], c = shape[1];
            runCase(device, "seed " + seed + " N=" + n + " C=" + c, randomRows(r, n, c, 2.0), r, n, c,
                    RmsNorm.DEFAULT_EPS, r.nextBoolean(), r.nextBoolean() ? 0 : 1);
        }
        runCase(device, "seed " + seed + " eps 0.5", randomRows(r, 4, 65, 1.0), r, 4, 65, 0.5f, false, 1);
        // rows far from zero mean (x̂ ≈ 1 everywhere: dx cancels between its two terms)
        float[] offset = randomRows(r, 6, 300, 0.5);
        for (int k = 0; k < offset.length; k++) offset[k] += 1000;
        runCase(device, "seed " + seed + " offset 1000", offset, r, 6, 300, 1e-5f, true, 0);
    }

    /**
     * Rows whose squares an fp32 sum could not hold: 1e18 (x² = 1e36, a row of more than 340 overflows), 1e-20 (x²
     * = 1e-40, subnormal in fp32), a zero row (rstd = 1/sqrt(eps) exactly, out = 0), and one 1e18 among O(1)
     * values; beside an ordinary row. eps from Llama's 1e-5 down to 1e-37, under which a 1e-20 row's mean square
     * (1e-40) still moves rstd.
     */
    @DeviceTest
    void hardValues(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int c : new int[] {3, 769, 2048})
            for (float eps : new float[] {1e-5f, RmsNorm.DEFAULT_EPS, 1e-37f}) {
                int n = 5;
                float[] x = Rand.normal(r, n * c, 1);
                for (int j = 0; j < c; j++) {
                    x[c + j] *= 1e18f;
                    x[2 * c + j] *= 1e-20f;
                    x[3 * c + j] = 0;
                }
                x[4 * c + r.nextInt(c)] = 1e18f;
                String what = "seed " + seed + " hard rows C=" + c + " eps " + eps;
                float[] rstd = runCase(device, what, x, r, n, c, eps, false, 0);
                assertEquals((float) (1 / Math.sqrt(eps)), rstd[3], what + ": rstd of the zero row");
            }
    }

    static float[] randomRows(Random r, int n, int c, double spread) {
        float[] x = Rand.normal(r, n * c, spread);
        // rows of different scales: rstd differs per row
        for (int i = 0; i < n; i++) {
            float s = (float) Math.exp(r.nextGaussian());
            for (int j = 0; j < c; j++) x[i * c + j] *= s;
        }
        return x;
    }

    /**
     * One case: forward (out of place, and in place without rstd), backward into poisoned dx, into a pre-filled dx
     * with accumulation, and in place over dout and over x; dweight starts from random values (it accumulates), or
     * is null when {@code nullDweight} is 1. Returns the kernel's rstd.
     */
    static float[] runCase(Device device, String what, float[] x, Random r, int n, int c, float eps, boolean rank3,
                           int nullDweight) {
        float[] w = Rand.normal(r, c, 1), dout = Rand.normal(r, n * c, 1);
        float[] dw0 = Rand.normal(r, c, 1), dx0 = Rand.normal(r, n * c, 1);
        double[] xd = LayerNormTest.toDouble(x), wd = LayerNormTest.toDouble(w);
        double[][] f = RmsNormReference.forward(xd, wd, n, c, eps);
        double[][] g = RmsNormReference.backward(xd, wd, n, c, eps, dout);
        long[] shape = rank3 && n % 2 == 0 && n > 0 ? new long[] {2, n / 2, c} : new long[] {n, c};
        long[] rows = shape.length == 3 ? new long[] {2, n / 2} : new long[] {n};
        // dx = rstd·(dout·w − x̂·m), m = mean(dout·w·x̂): its error per row is the rounding of both terms and of m's
        // float sum (GPU), relative to the row's scale rstd.
        double[] dxAtol = new double[n * c];
        for (int i = 0; i < n; i++) {
            double rs = f[1][i], maxGw = 0, maxXh = 0, mAbs = 0;
            for (int j = 0; j < c; j++) {
                double gw = Math.abs(dout[i * c + j] * wd[j]), xh = Math.abs(xd[i * c + j] * rs);
                maxGw = Math.max(maxGw, gw);
                maxXh = Math.max(maxXh, xh);
                mAbs += gw * xh / c;
            }
            double a = rs * (2e-6 * maxGw + maxXh * mAbs * (2e-6 + 2e-7 * Math.sqrt(c)));
            for (int j = 0; j < c; j++) dxAtol[i * c + j] = a;
        }
        double[] dwAtol = new double[c];
        for (int j = 0; j < c; j++) dwAtol[j] = g[2][j] * (1e-6 + 1e-7 * Math.sqrt(n));
        try (Scope s = new Scope()) {
            Tensor xt = s.of(device, x, shape), wt = s.of(device, w);
            Tensor out = s.of(device, Rand.filled(n * c, POISON), shape);
            Tensor rstd = s.of(device, Rand.filled(n, POISON), rows);
            RmsNorm.forward(xt, wt, eps, out, rstd);
            float[] got = out.toFloatArray(), gotRstd = rstd.toFloatArray();
            // out = w·(x·rstd): products only, no cancellation; a few roundings per element
            assertCloseEach(what + " out", f[0], got, 1e-37, 1e-6);
            assertCloseEach(what + " rstd", f[1], gotRstd, 0, 1e-6);

            // backward: dx overwritten, dweight accumulated
            Tensor dt = s.of(device, dout, shape);
            Tensor dx = s.of(device, Rand.filled(n * c, POISON), shape);
            Tensor dwt = nullDweight == 1 ? null : s.of(device, dw0);
            RmsNorm.backward(dt, xt, wt, rstd, dx, false, dwt);
            float[] gotDx = dx.toFloatArray();
            assertCloseEach(what + " dx", g[0], gotDx, dxAtol, 1e-5);
            if (dwt != null) assertCloseEach(what + " dweight (+= onto its start)", LayerNormTest.plus(g[1], dw0), dwt.toFloatArray(), dwAtol, 1e-5);

            // dx accumulated onto a start value
            Tensor dxAcc = s.of(device, dx0, shape);
            RmsNorm.backward(dt, xt, wt, rstd, dxAcc, true, null);
            assertCloseEach(what + " dx (+= onto its start)", LayerNormTest.plus(g[0], dx0), dxAcc.toFloatArray(), dxAtol, 1e-5);

            // in place, bit for bit as out of place: dx over x (dweight still sees x), dx over dout, out over x
            Tensor xCopy = s.of(device, x, shape);
            Tensor dwOverX = s.zeros(device, DType.F32, c);
            RmsNorm.backward(dt, xCopy, wt, rstd, xCopy, false, dwOverX);
            assertArrayEquals(gotDx, xCopy.toFloatArray(), what + " in-place backward (dx = x)");
            assertCloseEach(what + " dweight (dx = x)", g[1], dwOverX.toFloatArray(), dwAtol, 1e-5);
            Tensor dwOverDout = s.zeros(device, DType.F32, c);
            RmsNorm.backward(dt, xt, wt, rstd, dt, false, dwOverDout);
            assertArrayEquals(gotDx, dt.toFloatArray(), what + " in-place backward (dx = dout)");
            assertArrayEquals(dwOverX.toFloatArray(), dwOverDout.toFloatArray(), what + " dweight (dx = dout)");
            RmsNorm.forward(xt, wt, eps, xt, null);
            assertArrayEquals(got, xt.toFloatArray(), what + " in-place forward (out = x, no rstd)");
            return gotRstd;
        }
    }

    /** Kernel gradients of L = Σ dout·out against central differences of the double reference, every entry. */
    @DeviceTest
    void finiteDifferences(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int n = 4, c = 7;
        float eps = 1e-5f;
        float[] x = Rand.normal(r, n * c, 1.5), w = Rand.normal(r, c, 1), dout = Rand.normal(r, n * c, 1);
        for (int j = 0; j < c; j++) {
            x[2 * c + j] = 0; // a zero row: rstd = 1/sqrt(eps), the largest gradient
            x[3 * c + j] *= 1e-3f;
        }
        float[] dx, dw;
        try (Scope s = new Scope()) {
            Tensor xt = s.of(device, x, n, c), wt = s.of(device, w);
            RmsNorm.Result fwd = RmsNorm.forward(s, xt, wt, eps);
            Tensor dxt = s.empty(device, DType.F32, n, c);
            Tensor dwt = s.zeros(device, DType.F32, c);
            RmsNorm.backward(s.of(device, dout, n, c), xt, wt, fwd, dxt, dwt);
            dx = dxt.toFloatArray();
            dw = dwt.toFloatArray();
        }
        double[] xd = LayerNormTest.toDouble(x), wd = LayerNormTest.toDouble(w);
        double[][] ref = RmsNormReference.backward(xd, wd, n, c, eps, dout);
        double h = 1e-6;
        double[][] params = {xd, wd};
        float[][] kernel = {dx, dw};
        String[] names = {"dx", "dweight"};
        for (int p = 0; p < 2; p++)
            for (int i = 0; i < params[p].length; i++) {
                double fd = FiniteDifference.at(params[p], i, h, () -> RmsNormReference.objective(xd, wd, n, c, eps, dout));
                assertClose("seed " + seed + " finite difference " + names[p] + "[" + i + "] (kernel)", fd, kernel[p][i], 2e-5, 1e-3);
                assertClose("seed " + seed + " finite difference " + names[p] + "[" + i + "] (reference)", fd, ref[p][i], 1e-6, 1e-5);
            }
    }

    /** One random case for the fuzz test. */
    public static void fuzzCase(Random r, Device device) {
        int n = r.nextInt(9);
        int c = 1 + r.nextInt(r.nextBoolean() ? 8 : 300);
        float eps = r.nextBoolean() ? RmsNorm.DEFAULT_EPS : (float) Math.pow(10, -1 - 8 * r.nextDouble());
        float[] x = randomRows(r, n, c, Math.pow(10, -4 + 8 * r.nextDouble()));
        runCase(device, "fuzz N=" + n + " C=" + c + " eps " + eps, x, r, n, c, eps, r.nextBoolean(), r.nextInt(2));
    }

    @Test
    void convenienceArrays() {
        float[] out = RmsNorm.compute(new float[] {1, 2, 3, 0, 0, 0}, new float[] {1, 2, -1}, 3, 1e-6f);
        double r = 1 / Math.sqrt(14.0 / 3 + 1e-6);
        assertClose("rows", new double[] {r, 4 * r, -3 * r, 0, 0, 0}, out, 1e-7, 1e-6);
    }

    /** Qwen3's q_norm: [B, T, H, D] normalises each head's D values with the one weight[D], as [B·T·H, D] does. */
    @Test
    void perHeadRowsOfAnyRank() {
        Device d = Device.cpu();
        Random r = new Random(7);
        int b = 2, t = 3, h = 4, hd = 16;
        float[] q = Rand.normal(r, b * t * h * hd, 1), w = Rand.normal(r, hd, 1);
        try (Scope s = new Scope()) {
            Tensor wt = s.of(d, w);
            RmsNorm.Result heads = RmsNorm.forward(s, s.of(d, q, b, t, h, hd), wt, RmsNorm.DEFAULT_EPS);
            RmsNorm.Result flat = RmsNorm.forward(s, s.of(d, q, (long) b * t * h, hd), wt, RmsNorm.DEFAULT_EPS);
            assertArrayEquals(new long[] {b, t, h}, heads.rstd().shape());
            assertArrayEquals(flat.out().toFloatArray(), heads.out().toFloatArray());
            assertArrayEquals(flat.rstd().toFloatArray(), heads.rstd().toFloatArray());
        }
    }

    @Test
    void badInputsNameTheArgument() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(d, Rand.normal(new Random(1), 3 * 5, 1), 3, 5);
            Tensor w = s.of(d, new float[5]);
            assertMessage(IllegalArgumentException.class, "weight: expected shape [5], got [4]",
                    () -> RmsNorm.forward(s, x, s.of(d, new float[4]), 1e-6f));
            assertMessage(IllegalArgumentException.class, "weight must not be null",
                    () -> RmsNorm.forward(s, x, null, 1e-6f));
            assertMessage(IllegalArgumentException.class, "x must not be null", () -> RmsNorm.forward(s, null, w, 1e-6f));
            for (float eps : new float[] {0f, -1e-6f, Float.NaN, Float.POSITIVE_INFINITY})
                assertMessage(IllegalArgumentException.class, "eps must be finite and > 0, got " + eps,
                        () -> RmsNorm.forward(s, x, w, eps));
            assertMessage(IllegalArgumentException.class, "x must be F32",
                    () -> RmsNorm.forward(s, s.of(d, new int[15], 3, 5), w, 1e-6f));
            assertMessage(IllegalArgumentException.class, "weight must be F32",
                    () -> RmsNorm.forward(s, x, s.of(d, new int[5]), 1e-6f));
            assertMessage(IllegalArgumentException.class, "last dimension (C) must be >= 1",
                    () -> RmsNorm.forward(s, s.empty(d, DType.F32, 3, 0), s.empty(d, DType.F32, 0), 1e-6f));
            assertMessage(IllegalArgumentException.class, "out: expected shape [3, 5], got [5, 3]",
                    () -> RmsNorm.forward(x, w, 1e-6f, s.empty(d, DType.F32, 5, 3), null));
            assertMessage(IllegalArgumentException.class, "out must not be null", () -> RmsNorm.forward(x, w, 1e-6f, null, null));
            assertMessage(IllegalArgumentException.class, "rstd: expected shape [3], got [5]",
                    () -> RmsNorm.forward(x, w, 1e-6f, s.empty(d, DType.F32, 3, 5), s.empty(d, DType.F32, 5)));
            RmsNorm.Result fwd = RmsNorm.forward(s, x, w, 1e-6f);
            Tensor g = s.of(d, new float[15], 3, 5);
            assertMessage(IllegalArgumentException.class, "dout: expected shape [3, 5], got [15]",
                    () -> RmsNorm.backward(s.of(d, new float[15]), x, w, fwd, g, null));
            assertMessage(IllegalArgumentException.class, "rstd must not be null",
                    () -> RmsNorm.backward(g, x, w, null, g, false, null));
            assertMessage(IllegalArgumentException.class, "dx must not be null",
                    () -> RmsNorm.backward(g, x, w, fwd.rstd(), null, false, null));
            assertMessage(IllegalArgumentException.class, "dweight: expected shape [5], got [3]",
                    () -> RmsNorm.backward(g, x, w, fwd, g, s.empty(d, DType.F32, 3)));
            assertMessage(IllegalArgumentException.class, "dweight must not be weight itself",
                    () -> RmsNorm.backward(g, x, w, fwd, g, w));
            Tensor row = s.of(d, new float[5]), drow = s.of(d, new float[5]), rrow = s.empty(d, DType.F32).copyFrom(new float[] {1});
            assertMessage(IllegalArgumentException.class, "dweight must not be dout itself",
                    () -> RmsNorm.backward(drow, row, w, rrow, row, false, drow));
            assertMessage(IllegalArgumentException.class, "dweight must not be x itself",
                    () -> RmsNorm.backward(drow, row, w, rrow, drow, false, row));
            assertMessage(IllegalArgumentException.class, "saved must not be null",
                    () -> RmsNorm.backward(g, x, w, null, g, null));
            Tensor closed = s.of(d, new float[5]);
            closed.close();
            assertMessage(IllegalStateException.class, "weight", () -> RmsNorm.forward(s, x, closed, 1e-6f));
            assertMessage(IllegalArgumentException.class, "scope must not be null", () -> RmsNorm.forward(null, x, w, 1e-6f));
            assertMessage(IllegalArgumentException.class, "not a multiple of c",
                    () -> RmsNorm.compute(new float[7], new float[3], 3, 1e-6f));
            assertMessage(IllegalArgumentException.class, "c must be >= 1",
                    () -> RmsNorm.compute(new float[7], new float[3], 0, 1e-6f));
        }
    }

    @Test
    void outputsOwnedByScope() {
        Device d = Device.cpu();
        long before = Scope.globalLiveCount();
        try (Scope s = new Scope()) {
            Tensor x = s.of(d, new float[] {1, 2}, 1, 2);
            RmsNorm.forward(s, x, s.of(d, new float[] {1, 1}), 1e-6f);
            assertEquals(4, s.liveCount()); // x, weight, out, rstd
        }
        assertEquals(before, Scope.globalLiveCount());
    }

    /** {@link dev.align4j.testing.Close#assertClose} with an atol per element; the message is built only on failure. */
    static void assertCloseEach(String what, double[] ref, float[] got, double[] atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs(ref[i] - got[i]);
            if (!(e <= atol[i] + rtol * Math.abs(ref[i]))) assertClose(what + "[" + i + "]", ref[i], got[i], atol[i], rtol);
        }
    }

    static void assertCloseEach(String what, double[] ref, float[] got, double atol, double rtol) {
        double[] a = new double[ref.length];
        java.util.Arrays.fill(a, atol);
        assertCloseEach(what, ref, got, a, rtol);
    }
}
