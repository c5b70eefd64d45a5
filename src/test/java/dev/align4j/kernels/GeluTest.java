package dev.align4j.kernels;

import static dev.align4j.kernels.LogProbsTest.assertMessage;
import static dev.align4j.testing.Close.POISON;
import static dev.align4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.align4j.reference.GeluReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.Rand;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GeluTest {
    // empty, one, odd, several CPU chunks (16384) with a ragged end
    private static final int[] SIZES = {0, 1, 7, 37, 4097, 3 * 16384 + 5};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int n : SIZES) runCase(device, "seed " + seed + " n=" + n, Rand.normal(r, n, 3), r, new long[] {n});
        runCase(device, "seed " + seed + " [3,5,7]", Rand.normal(r, 105, 1), r, new long[] {3, 5, 7});
        // hard values: 0, tiny, the tails where σ saturates or underflows, overflowing x³, ±inf, NaN, extremes
        float[] hard = {0f, -0f, 1e-30f, -1e-30f, 1e-3f, -1e-3f, 5, -5, 9, -9, 12, -12, 20, -20, 1e4f, -1e4f, 1e19f,
                -1e19f, 1e30f, -1e30f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.NaN};
        runCase(device, "seed " + seed + " hard values", hard, r, new long[] {hard.length});
    }

    static void runCase(Device device, String what, float[] x, Random r, long[] shape) {
        int n = x.length;
        float[] dout = Rand.normal(r, n, 1);
        double[] ref = GeluReference.forward(x);
        double[] refGrad = GeluReference.backward(x, dout);
        try (Scope s = new Scope()) {
            Tensor xt = s.of(device, x, shape);
            Tensor out = s.of(device, Rand.filled(n, POISON), shape);
            Gelu.forward(xt, out);
            float[] got = out.toFloatArray();
            assertClose(what + " gelu", ref, got, 1e-7, 1e-5);
            Tensor dt = s.of(device, dout, shape);
            Tensor dx = s.of(device, Rand.filled(n, POISON), shape);
            Gelu.backward(xt, dt, dx);
            float[] gotDx = dx.toFloatArray();
            // dx = dout·(Φ-like term + x·φ-like term): near x ≈ −0.75 the two terms (each ~0.1–1) cancel, so its float
            // error is absolute, a few ulps of the terms times |dout| (1.27e-7 was seen at |dout| ≈ 2 on the emulated GPU).
            double dmax = 1;
            for (float d : dout) if (Float.isFinite(d)) dmax = Math.max(dmax, Math.abs(d));
            assertClose(what + " dx", refGrad, gotDx, 1e-7 * dmax, 1e-5);
            // in place, bit for bit
            Gelu.backward(xt, dt, dt);
            assertArrayEquals(gotDx, dt.toFloatArray(), what + " in-place backward (dx = dout)");
            Gelu.forward(xt, xt);
            assertArrayEquals(got, xt.toFloatArray(), what + " in-place forward (out = x)");
        }
    }

    /** The kernel's dx of L = Σ dout·gelu(x) against central differences of the reference gelu. */
    @DeviceTest
    void finiteDifferences(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        float[] x = Rand.normal(r, 64, 3);
        float[] dout = Rand.normal(r, 64, 1);
        float[] dx;
        try (Scope s = new Scope()) {
            Tensor d = s.empty(device, DType.F32, 64);
            Gelu.backward(s.of(device, x), s.of(device, dout), d);
            dx = d.toFloatArray();
        }
        double h = 1e-6;
        for (int i = 0; i < x.length; i++) {
            double fd = dout[i] * (GeluReference.gelu(x[i] + h) - GeluReference.gelu(x[i] - h)) / (2 * h);
            assertClose("seed " + seed + " finite difference dx (kernel) at x=" + x[i], fd, dx[i], 2e-6, 1e-4);
            assertClose("seed " + seed + " finite difference dx (reference) at x=" + x[i], fd,
                    dout[i] * GeluReference.grad(x[i]), 1e-8, 1e-6);
        }
    }

    /** One random case for the fuzz test. */
    public static void fuzzCase(Random r, Device device) {
        int n = r.nextInt(r.nextBoolean() ? 10 : 3000);
        float[] x = Rand.normal(r, n, r.nextBoolean() ? 1 : 10);
        runCase(device, "fuzz n=" + n, x, r, new long[] {n});
    }

    @Test
    void convenienceArrays() {
        float[] y = Gelu.compute(new float[] {0, 1, -1});
        assertClose("gelu", new double[] {0, GeluReference.gelu(1), GeluReference.gelu(-1)}, y, 1e-7, 1e-6);
    }

    @Test
    void badInputsNameTheArgument() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(d, new float[6], 2, 3);
            assertMessage(IllegalArgumentException.class, "out: expected shape [2, 3], got [6]",
                    () -> Gelu.forward(x, s.of(d, new float[6])));
            assertMessage(IllegalArgumentException.class, "out must not be null", () -> Gelu.forward(x, null));
            assertMessage(IllegalArgumentException.class, "x must not be null", () -> Gelu.forward((Tensor) null, x));
            assertMessage(IllegalArgumentException.class, "x must be F32", () -> Gelu.forward(s, s.of(d, new int[3])));
            assertMessage(IllegalArgumentException.class, "dout: expected shape [2, 3], got [3, 2]",
                    () -> Gelu.backward(x, s.of(d, new float[6], 3, 2), x));
            assertMessage(IllegalArgumentException.class, "dx must not be null", () -> Gelu.backward(x, x, null));
            Tensor closed = s.of(d, new float[6], 2, 3);
            closed.close();
            assertMessage(IllegalStateException.class, "dout", () -> Gelu.backward(x, closed, x));
        }
    }
}
