package dev.align4j.kernels;

import static dev.align4j.kernels.LogProbsTest.assertMessage;
import static dev.align4j.testing.Close.POISON;
import static dev.align4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.reference.LayerNormReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import dev.align4j.testing.Rand;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LayerNormTest {
    // {N, C}: empty, one, C = 1, odd C, GPT-2's 768 and 769, C over several CPU slices (64) with a ragged last
    // slice, N over the GPU's 32 row phases.
    private static final int[][] SHAPES = {{0, 5}, {1, 1}, {4, 1}, {1, 7}, {3, 37}, {5, 769}, {9, 768}, {70, 130},
            {300, 33}, {2, 2048}};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int[] shape : SHAPES) {
            int n = shape[0], c = shape[1];
            runCase(device, "seed " + seed + " N=" + n + " C=" + c, r, n, c, 1.0, 2.0, LayerNorm.GPT2_EPS,
                    r.nextBoolean(), r.nextInt(3));
        }
        // rows with a large common offset (two-pass variance), a tiny spread, and a large eps
        runCase(device, "seed " + seed + " offset 1000", r, 6, 300, 1000.0, 0.5, LayerNorm.GPT2_EPS, false, 0);
        runCase(device, "seed " + seed + " spread 1e-3", r, 4, 65, 0.2, 1e-3, LayerNorm.GPT2_EPS, true, 0);
        runCase(device, "seed " + seed + " eps 0.5", r, 4, 65, 0.0, 1.0, 0.5f, false, 1);
    }

    /**
     * One case: forward (out of place and in place), backward into poisoned dx, into a pre-filled dx with
     * accumulation, and in place over dout; dweight/dbias start from random values (they accumulate).
     * {@code nullGrads}: 0 both, 1 no dweight, 2 no dbias.
     */
    static void runCase(Device device, String what, Random r, int n, int c, double offset, double spread, float eps,
                        boolean rank3, int nullGrads) {
        float[] x = Rand.normal(r, n * c, spread);
        for (int k = 0; k < x.length; k++) x[k] += (float) (offset * (1 + 0.1 * r.nextGaussian()));
        float[] w = Rand.normal(r, c, 1), b = Rand.normal(r, c, 1), dout = Rand.normal(r, n * c, 1);
        float[] dw0 = Rand.normal(r, c, 1), db0 = Rand.normal(r, c, 1), dx0 = Rand.normal(r, n * c, 1);
        double[] xd = toDouble(x), wd = toDouble(w), bd = toDouble(b);
        double[][] f = LayerNormReference.forward(xd, wd, bd, n, c, eps);
        double[][] g = LayerNormReference.backward(xd, wd, bd, n, c, eps, dout);
        long[] shape = rank3 && n % 2 == 0 && n > 0 ? new long[] {2, n / 2, c} : new long[] {n, c};
        long[] rows = shape.length == 3 ? new long[] {2, n / 2} : new long[] {n};
        // x̂ carries the float rounding of x − mean relative to the row's own spread, i.e. ~1e-7·|mean|·rstd: a
        // short row (C = 2) of two close values is ill-conditioned whatever the nominal spread.
        double cond = 1 + Math.abs(offset) / spread;
        for (int i = 0; i < n; i++) cond = Math.max(cond, 1 + Math.abs(f[1][i]) * f[2][i]);
        double xhatErr = 1e-6 * cond;
        try (Scope s = new Scope()) {
            Tensor xt = s.of(device, x, shape), wt = s.of(device, w), bt = s.of(device, b);
            Tensor out = s.of(device, Rand.filled(n * c, POISON), shape);
            Tensor mean = s.of(device, Rand.filled(n, POISON), rows);
            Tensor rstd = s.of(device, Rand.filled(n, POISON), rows);
            LayerNorm.forward(xt, wt, bt, eps, out, mean, rstd);
            float[] got = out.toFloatArray();
            double maxW = 1;
            for (float v : w) maxW = Math.max(maxW, Math.abs(v));
            assertClose(what + " out", f[0], got, 2e-6 + xhatErr * maxW, 1e-5);
            assertClose(what + " mean", f[1], mean.toFloatArray(), 1e-6 * (1 + Math.abs(offset)), 1e-6);
            assertClose(what + " rstd", f[2], rstd.toFloatArray(), 0, 2e-5 * (1 + cond * 1e-2));

            // backward: dx overwritten, dweight/dbias accumulated
            Tensor dt = s.of(device, dout, shape);
            Tensor dx = s.of(device, Rand.filled(n * c, POISON), shape);
            Tensor dwt = nullGrads == 1 ? null : s.of(device, dw0);
            Tensor dbt = nullGrads == 2 ? null : s.of(device, db0);
            LayerNorm.backward(dt, xt, wt, mean, rstd, dx, false, dwt, dbt);
            double maxR = 1;
            for (double v : f[2]) maxR = Math.max(maxR, v);
            double dxAtol = (2e-6 + xhatErr) * maxR * maxW * Math.sqrt(c) * 0.1 + 1e-6 * maxR;
            float[] gotDx = dx.toFloatArray();
            assertClose(what + " dx", g[0], gotDx, dxAtol, 1e-4);
            double gradAtol = (1e-5 + xhatErr) * Math.sqrt(n + 1);
            if (dwt != null) assertClose(what + " dweight (+= onto its start)", plus(g[1], dw0), dwt.toFloatArray(), gradAtol, 1e-4);
            if (dbt != null) assertClose(what + " dbias (+= onto its start)", plus(g[2], db0), dbt.toFloatArray(), 1e-5 * Math.sqrt(n + 1), 1e-5);

            // dx accumulated onto a start value
            Tensor dxAcc = s.of(device, dx0, shape);
            LayerNorm.backward(dt, xt, wt, mean, rstd, dxAcc, true, null, null);
            assertClose(what + " dx (+= onto its start)", plus(g[0], dx0), dxAcc.toFloatArray(), dxAtol, 1e-4);

            // in place: dx over dout, out over x, bit for bit as out of place (dweight here sees the same dout)
            Tensor dwIn = s.zeros(device, DType.F32, c);
            LayerNorm.backward(dt, xt, wt, mean, rstd, dt, false, dwIn, null);
            assertArrayEquals(gotDx, dt.toFloatArray(), what + " in-place backward (dx = dout)");
            assertClose(what + " dweight (in-place call)", g[1], dwIn.toFloatArray(), gradAtol, 1e-4);
            LayerNorm.forward(xt, wt, bt, eps, xt, null, null);
            assertArrayEquals(got, xt.toFloatArray(), what + " in-place forward (out = x)");
        }
    }

    /** Kernel gradients of L = Σ dout·out against central differences of the double reference, every entry. */
    @DeviceTest
    void finiteDifferences(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int n = 3, c = 5;
        float eps = 1e-5f;
        float[] x = Rand.normal(r, n * c, 1.5), w = Rand.normal(r, c, 1), b = Rand.normal(r, c, 1);
        float[] dout = Rand.normal(r, n * c, 1);
        float[] dx, dw, db;
        try (Scope s = new Scope()) {
            Tensor xt = s.of(device, x, n, c), wt = s.of(device, w);
            LayerNorm.Result fwd = LayerNorm.forward(s, xt, wt, s.of(device, b), eps);
            Tensor dxt = s.empty(device, DType.F32, n, c);
            Tensor dwt = s.zeros(device, DType.F32, c), dbt = s.zeros(device, DType.F32, c);
            LayerNorm.backward(s.of(device, dout, n, c), xt, wt, fwd, dxt, dwt, dbt);
            dx = dxt.toFloatArray();
            dw = dwt.toFloatArray();
            db = dbt.toFloatArray();
        }
        double[] xd = toDouble(x), wd = toDouble(w), bd = toDouble(b);
        double[][] ref = LayerNormReference.backward(xd, wd, bd, n, c, eps, dout);
        double h = 1e-6;
        double[][] params = {xd, wd, bd};
        float[][] kernel = {dx, dw, db};
        String[] names = {"dx", "dweight", "dbias"};
        for (int p = 0; p < 3; p++)
            for (int i = 0; i < params[p].length; i++) {
                double fd = FiniteDifference.at(params[p], i, h,
                        () -> LayerNormReference.objective(xd, wd, bd, n, c, eps, dout));
                assertClose("seed " + seed + " finite difference " + names[p] + " (kernel)", fd, kernel[p][i], 2e-5, 1e-3);
                assertClose("seed " + seed + " finite difference " + names[p] + " (reference)", fd, ref[p][i], 1e-6, 1e-5);
            }
    }

    /** One random case for the fuzz test. */
    public static void fuzzCase(Random r, Device device) {
        int n = r.nextInt(9);
        int c = 1 + r.nextInt(r.nextBoolean() ? 8 : 200);
        double offset = r.nextBoolean() ? 0 : 10 * r.nextGaussian();
        float eps = r.nextBoolean() ? LayerNorm.GPT2_EPS : (float) (1e-3 + r.nextDouble());
        runCase(device, "fuzz N=" + n + " C=" + c, r, n, c, offset, 0.1 + 3 * r.nextDouble(), eps, r.nextBoolean(),
                r.nextInt(3));
    }

    @Test
    void convenienceArrays() {
        float[] out = LayerNorm.compute(new float[] {1, 2, 3, 4, 4, 4}, new float[] {1, 2, 1}, new float[] {0, 0, 5}, 3,
                LayerNorm.GPT2_EPS);
        double r = 1 / Math.sqrt(2.0 / 3 + 1e-5);
        assertClose("row 0", new double[] {-r, 0, r + 5, 0, 0, 5}, out, 1e-5, 1e-5);
    }

    @Test
    void badInputsNameTheArgument() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(d, Rand.normal(new Random(1), 3 * 5, 1), 3, 5);
            Tensor w = s.of(d, new float[5]), b = s.of(d, new float[5]);
            assertMessage(IllegalArgumentException.class, "weight: expected shape [5], got [4]",
                    () -> LayerNorm.forward(s, x, s.of(d, new float[4]), b, 1e-5f));
            assertMessage(IllegalArgumentException.class, "bias must not be null",
                    () -> LayerNorm.forward(s, x, w, null, 1e-5f));
            assertMessage(IllegalArgumentException.class, "eps", () -> LayerNorm.forward(s, x, w, b, 0f));
            assertMessage(IllegalArgumentException.class, "eps", () -> LayerNorm.forward(s, x, w, b, Float.NaN));
            assertMessage(IllegalArgumentException.class, "x must be F32",
                    () -> LayerNorm.forward(s, s.of(d, new int[15], 3, 5), w, b, 1e-5f));
            assertMessage(IllegalArgumentException.class, "last dimension (C) must be >= 1",
                    () -> LayerNorm.forward(s, s.empty(d, DType.F32, 3, 0), s.empty(d, DType.F32, 0),
                            s.empty(d, DType.F32, 0), 1e-5f));
            assertMessage(IllegalArgumentException.class, "out: expected shape [3, 5], got [5, 3]",
                    () -> LayerNorm.forward(x, w, b, 1e-5f, s.empty(d, DType.F32, 5, 3), null, null));
            assertMessage(IllegalArgumentException.class, "rstd: expected shape [3], got [5]",
                    () -> LayerNorm.forward(x, w, b, 1e-5f, s.empty(d, DType.F32, 3, 5), null, s.empty(d, DType.F32, 5)));
            LayerNorm.Result fwd = LayerNorm.forward(s, x, w, b, 1e-5f);
            Tensor g = s.of(d, new float[15], 3, 5);
            assertMessage(IllegalArgumentException.class, "dout: expected shape [3, 5], got [15]",
                    () -> LayerNorm.backward(s.of(d, new float[15]), x, w, fwd, g, null, null));
            assertMessage(IllegalArgumentException.class, "mean must not be null",
                    () -> LayerNorm.backward(g, x, w, null, fwd.rstd(), g, false, null, null));
            assertMessage(IllegalArgumentException.class, "dbias: expected shape [5], got [3]",
                    () -> LayerNorm.backward(g, x, w, fwd, g, null, s.empty(d, DType.F32, 3)));
            assertMessage(IllegalArgumentException.class, "dweight must not be weight",
                    () -> LayerNorm.backward(g, x, w, fwd, g, w, null));
            assertMessage(IllegalArgumentException.class, "saved must not be null",
                    () -> LayerNorm.backward(g, x, w, null, g, null, null));
            Tensor closed = s.of(d, new float[5]);
            closed.close();
            assertMessage(IllegalStateException.class, "weight", () -> LayerNorm.forward(s, x, closed, b, 1e-5f));
            assertMessage(IllegalArgumentException.class, "not a multiple of c",
                    () -> LayerNorm.compute(new float[7], new float[3], new float[3], 3, 1e-5f));
        }
    }

    @Test
    void outputsOwnedByScope() {
        Device d = Device.cpu();
        long before = Scope.globalLiveCount();
        try (Scope s = new Scope()) {
            Tensor x = s.of(d, new float[] {1, 2}, 1, 2);
            LayerNorm.forward(s, x, s.of(d, new float[] {1, 1}), s.of(d, new float[2]), 1e-5f);
            assertEquals(6, s.liveCount()); // x, weight, bias, out, mean, rstd
        }
        assertEquals(before, Scope.globalLiveCount());
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    static double[] plus(double[] a, float[] b) {
        double[] s = new double[a.length];
        for (int i = 0; i < a.length; i++) s[i] = a[i] + b[i];
        return s;
    }
}
