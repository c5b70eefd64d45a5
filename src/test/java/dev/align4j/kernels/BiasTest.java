package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static dev.align4j.testing.Close.poisoned;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.align4j.reference.BiasReference;
import dev.align4j.reference.EmbeddingReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BiasTest {
    /** {N, OC}: empty, one, odd, a partial last 64-row chunk, wide, parallel-sized (N·OC > 2^20). */
    static final int[][] SHAPES = {{0, 5}, {5, 0}, {1, 1}, {3, 7}, {64, 64}, {65, 33}, {129, 257}, {1000, 3},
            {200, 3072}, {513, 2049}};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int[] s : SHAPES) runCase(rnd, device, s[0], s[1], "seed " + seed + " shape " + Arrays.toString(s));
        rank3AndInPlace(rnd, device, "seed " + seed);
        backwardMatchesFiniteDifferences(rnd, device, "seed " + seed);
        deterministic(rnd, device, "seed " + seed);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int n = rnd.nextInt(rnd.nextBoolean() ? 10 : 200), oc = 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 300);
        runCase(rnd, device, n, oc, "fuzz N=" + n + " OC=" + oc);
    }

    static void runCase(Random rnd, Device device, int n, int oc, String tag) {
        float[] x = gaussian(rnd, n * oc, 1.0, 0.0);
        float[] bias = gaussian(rnd, oc, 1.0, 0.0);
        float[] dout = gaussian(rnd, n * oc, 1.0, 0.0);
        float[] dbias0 = gaussian(rnd, oc, 1.0, 0.0);
        float[] y = gaussian(rnd, n * oc, 1.0, 0.0);
        try (Scope s = new Scope()) {
            Tensor out = s.of(device, x, n, oc);
            Bias.add(out, s.of(device, bias, oc));
            Close.assertClose(tag + " bias add", BiasReference.add(x, bias, n, oc), out.toFloatArray(), 0, 6e-8);
            Tensor dbias = s.of(device, dbias0, oc);
            Bias.backward(s.of(device, dout, n, oc), dbias);
            double[] ref = BiasReference.backward(dout, dbias0, n, oc);
            double[] l1 = BiasReference.backwardL1(dout, dbias0, n, oc);
            float[] got = dbias.toFloatArray();
            for (int k = 0; k < oc; k++) Close.assertClose(tag + " dbias[" + k + "]", ref[k], got[k], 1e-6 * l1[k], 0);
            Tensor sum = poisoned(s, device, n, oc);
            Bias.residual(s.of(device, x, n, oc), s.of(device, y, n, oc), sum);
            Close.assertClose(tag + " residual", BiasReference.residual(x, y), sum.toFloatArray(), 0, 6e-8);
        }
    }

    /** [B, T, OC] outputs (N = B·T rows), caller-provided work, residual in place (out = a). */
    static void rank3AndInPlace(Random rnd, Device device, String tag) {
        int b = 3, t = 37, oc = 45, n = b * t;
        float[] x = gaussian(rnd, n * oc, 1.0, 0.0), bias = gaussian(rnd, oc, 1.0, 0.0), y = gaussian(rnd, n * oc, 1.0, 0.0);
        try (Scope s = new Scope()) {
            Tensor out = s.of(device, x, b, t, oc);
            Bias.add(out, s.of(device, bias, oc));
            Close.assertClose(tag + " bias add [B,T,OC]", BiasReference.add(x, bias, n, oc), out.toFloatArray(), 0, 6e-8);
            Tensor dbias = s.zeros(device, DType.F32, oc);
            Tensor work = s.of(device, gaussian(rnd, (int) Bias.workSize(n, oc), 1.0, 0.0), Bias.workSize(n, oc));
            Bias.backward(s.of(device, x, b, t, oc), dbias, work);
            double[] l1 = BiasReference.backwardL1(x, new float[oc], n, oc);
            double[] ref = BiasReference.backward(x, new float[oc], n, oc);
            float[] got = dbias.toFloatArray();
            for (int k = 0; k < oc; k++) Close.assertClose(tag + " dbias [B,T,OC][" + k + "]", ref[k], got[k], 1e-6 * l1[k], 0);
            Tensor a = s.of(device, x, b, t, oc);
            Bias.residual(a, s.of(device, y, b, t, oc), a);
            Close.assertClose(tag + " residual in place", BiasReference.residual(x, y), a.toFloatArray(), 0, 6e-8);
            Tensor r = Bias.residual(s, s.of(device, x, b, t, oc), s.of(device, y, b, t, oc));
            Close.assertClose(tag + " residual new", BiasReference.residual(x, y), r.toFloatArray(), 0, 6e-8);
        }
    }

    /** dbias against central differences of the reference loss Σ w·(x + bias). */
    static void backwardMatchesFiniteDifferences(Random rnd, Device device, String tag) {
        int n = 70, oc = 5;
        double[] x = new double[n * oc], bias = new double[oc];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextGaussian();
        for (int i = 0; i < oc; i++) bias[i] = rnd.nextGaussian();
        float[] w = gaussian(rnd, n * oc, 1.0, 0.0);
        double[] wd = EmbeddingReference.toDouble(w);
        double[] fd = FiniteDifference.all(bias, 1e-3, () -> BiasReference.weightedLoss(x, bias, wd, n, oc));
        try (Scope s = new Scope()) {
            Tensor dbias = s.zeros(device, DType.F32, oc);
            Bias.backward(s.of(device, w, n, oc), dbias);
            Close.assertClose(tag + " dbias vs finite differences", fd, dbias.toFloatArray(), 1e-5, 1e-5);
        }
    }

    static void deterministic(Random rnd, Device device, String tag) {
        int n = 777, oc = 1500;
        float[] dout = gaussian(rnd, n * oc, 1.0, 0.0);
        float[] first = null;
        for (int run = 0; run < 2; run++) {
            try (Scope s = new Scope()) {
                Tensor dbias = s.zeros(device, DType.F32, oc);
                Bias.backward(s.of(device, dout, n, oc), dbias);
                if (run == 0) first = dbias.toFloatArray();
                else assertArrayEquals(first, dbias.toFloatArray(), tag + " dbias differs between runs");
            }
        }
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor out = s.zeros(cpu, DType.F32, 4, 3);
            Tensor bias = s.zeros(cpu, DType.F32, 3);
            assertThrowsNaming("out", () -> Bias.add(null, bias));
            assertThrowsNaming("out", () -> Bias.add(s.zeros(cpu, DType.I32, 4, 3), bias));
            assertThrowsNaming("bias", () -> Bias.add(out, s.zeros(cpu, DType.F32, 4)));
            assertThrowsNaming("bias", () -> Bias.add(out, null));
            assertThrowsNaming("dout", () -> Bias.backward(null, bias));
            assertThrowsNaming("dbias", () -> Bias.backward(out, s.zeros(cpu, DType.F32, 2)));
            assertThrowsNaming("work", () -> Bias.backward(out, bias, s.zeros(cpu, DType.F32, 2)));
            assertThrowsNaming("work", () -> Bias.backward(out, bias, s.zeros(cpu, DType.F64, 3)));
            assertThrowsNaming("b", () -> Bias.residual(out, s.zeros(cpu, DType.F32, 3, 4), out));
            assertThrowsNaming("out", () -> Bias.residual(out, out, s.zeros(cpu, DType.F32, 12)));
            assertThrowsNaming("a", () -> Bias.residual(s, null, out));
            Tensor closed = s.zeros(cpu, DType.F32, 3);
            closed.close();
            assertThrowsNaming("bias", () -> Bias.add(out, closed));
        }
    }
}
