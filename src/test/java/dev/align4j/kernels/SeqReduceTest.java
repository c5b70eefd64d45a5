package dev.align4j.kernels;

import static dev.align4j.testing.Close.poisoned;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.reference.SeqReduceReference;
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
import org.junit.jupiter.api.function.Executable;

class SeqReduceTest {
    /** [B, T] shapes that break kernels: empty, one, odd, not multiples of 4 or 32, block-sized, long. */
    static final int[][] SHAPES = {{0, 5}, {3, 0}, {1, 1}, {1, 33}, {3, 7}, {5, 31}, {4, 32}, {7, 65}, {2, 257},
            {3, 1000}, {2, 100_000}};
    static final int MASK_KINDS = 5;

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        sweep(seed, (b, t, kind, tag) -> runCase(rnd, device, b, t, kind, tag));
        backwardMatchesFiniteDifferences(rnd, device, "seed " + seed);
    }

    /** One case of {@link #sweep}: a [B, T] shape, a mask kind, and a tag naming them and the seed. */
    interface SweepCase {
        void run(int b, int t, int kind, String tag);
    }

    /** Every shape of {@link #SHAPES} with every mask kind, in that order: the sweep of the [B, T] kernels' tests. */
    static void sweep(long seed, SweepCase c) {
        for (int[] shape : SHAPES)
            for (int kind = 0; kind < MASK_KINDS; kind++)
                c.run(shape[0], shape[1], kind, "seed " + seed + " shape " + Arrays.toString(shape) + " mask kind " + kind);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int b = rnd.nextInt(7);
        int t = 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 300);
        int kind = rnd.nextInt(MASK_KINDS);
        runCase(rnd, device, b, t, kind, "fuzz B=" + b + " T=" + t + " mask kind " + kind);
    }

    static void runCase(Random rnd, Device device, int b, int t, int kind, String tag) {
        float[] v = gaussian(rnd, b * t, 1.0, 0.0);
        float[] m = mask(rnd, b, t, kind);
        // Padding may hold anything: NaN off the mask must not reach the sums.
        for (int i = 0; i < v.length; i++) if (m[i] == 0 && rnd.nextInt(3) == 0) v[i] = Float.NaN;
        float[] ds = gaussian(rnd, b, 1.0, 0.0);
        double[][] ref = SeqReduceReference.forward(v, m, b, t);
        double[] refGrad = SeqReduceReference.backward(ds, m, b, t);
        try (Scope s = new Scope()) {
            Tensor vt = s.of(device, v, b, t);
            Tensor mt = s.of(device, m, b, t);
            Tensor sums = poisoned(s, device, b);
            Tensor counts = poisoned(s, device, b);
            SeqReduce.forward(vt, mt, sums, counts);
            float[] got = sums.toFloatArray();
            for (int r = 0; r < b; r++) {
                double l1 = 0;
                for (int i = 0; i < t; i++) if (m[r * t + i] != 0) l1 += Math.abs(v[r * t + i]);
                Close.assertClose(tag + " sums[" + r + "]", ref[0][r], got[r], 1e-6 * l1 + 1e-6, 1e-6);
            }
            Close.assertClose(tag + " counts", ref[1], counts.toFloatArray(), 0, 0);
            double total = 0, l1All = 0;
            for (int r = 0; r < b; r++) total += ref[0][r];
            for (int i = 0; i < v.length; i++) if (m[i] != 0) l1All += Math.abs(v[i]);
            Close.assertClose(tag + " maskedTotal", total, SeqReduce.maskedTotal(vt, mt), 1e-6 * l1All + 1e-6, 1e-6);
            Tensor dv = poisoned(s, device, b, t);
            SeqReduce.backward(s.of(device, ds, b), mt, dv);
            Close.assertClose(tag + " dvalues", refGrad, dv.toFloatArray(), 0, 0);
        }
    }

    /** dvalues against central differences of the reference loss Σ_b w_b·sums_b (w = dsums). */
    static void backwardMatchesFiniteDifferences(Random rnd, Device device, String tag) {
        int b = 3, t = 7;
        float[] m = mask(rnd, b, t, 4);
        float[] w = gaussian(rnd, b, 1.0, 0.0);
        double[] v = new double[b * t];
        for (int i = 0; i < v.length; i++) v[i] = rnd.nextGaussian();
        double[] wd = new double[b];
        for (int i = 0; i < b; i++) wd[i] = w[i];
        double[] fd = FiniteDifference.all(v, 1e-3, () -> SeqReduceReference.weightedLoss(v, m, wd, b, t));
        try (Scope s = new Scope()) {
            Tensor dv = SeqReduce.backward(s, s.of(device, w, b), s.of(device, m, b, t));
            Close.assertClose(tag + " dvalues vs finite differences", fd, dv.toFloatArray(), 1e-6, 1e-6);
        }
    }

    @Test
    void convenienceOverload() {
        float[][] r = SeqReduce.forward(new float[] {1, 2, 3, 4, 5, 6}, new float[] {1, 0, 1, 0, 1, 1}, 2);
        assertEquals(4.0f, r[0][0]);
        assertEquals(11.0f, r[0][1]);
        assertEquals(2.0f, r[1][0]);
        assertEquals(2.0f, r[1][1]);
        assertThrowsNaming("batch", () -> SeqReduce.forward(new float[6], new float[6], 4));
        assertThrowsNaming("mask", () -> SeqReduce.forward(new float[6], new float[5], 2));
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor v = s.of(cpu, gaussian(new Random(1), 6, 1, 0), 2, 3);
            Tensor m = s.of(cpu, new float[] {1, 1, 0, 1, 0, 0}, 2, 3);
            Tensor sums = s.empty(cpu, DType.F32, 2);
            Tensor counts = s.empty(cpu, DType.F32, 2);
            assertThrowsNaming("values", () -> SeqReduce.forward(s, null, m));
            assertThrowsNaming("values", () -> SeqReduce.forward(s, s.of(cpu, new float[6]), m));
            assertThrowsNaming("values", () -> SeqReduce.forward(s, s.zeros(cpu, DType.I32, 2, 3), m));
            assertThrowsNaming("mask", () -> SeqReduce.forward(s, v, null));
            assertThrowsNaming("mask", () -> SeqReduce.forward(s, v, s.of(cpu, new float[] {1, 1, 1, 1}, 2, 2)));
            assertThrowsNaming("mask[4]", () -> SeqReduce.forward(s, v, s.of(cpu, new float[] {1, 1, 0, 1, 0.5f, 0}, 2, 3)));
            assertThrowsNaming("mask[1]", () -> SeqReduce.forward(s, v, s.of(cpu, new float[] {1, Float.NaN, 0, 1, 0, 0}, 2, 3)));
            assertThrowsNaming("sums", () -> SeqReduce.forward(v, m, s.empty(cpu, DType.F32, 3), counts));
            assertThrowsNaming("counts", () -> SeqReduce.forward(v, m, sums, s.empty(cpu, DType.F32, 2, 1)));
            assertThrowsNaming("dsums", () -> SeqReduce.backward(s, s.empty(cpu, DType.F32, 3), m));
            assertThrowsNaming("dsums", () -> SeqReduce.backward(s, null, m));
            assertThrowsNaming("dvalues", () -> SeqReduce.backward(sums, m, s.empty(cpu, DType.F32, 2, 4)));
            assertThrowsNaming("mask", () -> SeqReduce.backward(sums, s.of(cpu, new float[] {2, 0, 0, 0, 0, 0}, 2, 3),
                    s.empty(cpu, DType.F32, 2, 3)));
            Tensor closed = s.of(cpu, new float[6], 2, 3);
            closed.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> SeqReduce.forward(s, closed, m));
            assertTrue(e.getMessage().contains("values"), e.getMessage());
        }
    }

    // ------------------------------------------------------------ helpers shared by the sequence-kernel tests

    /** offset + scale·N(0,1), never exactly 0. */
    static float[] gaussian(Random rnd, int n, double scale, double offset) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            float v;
            do v = (float) (offset + scale * rnd.nextGaussian()); while (v == 0.0f);
            x[i] = v;
        }
        return x;
    }

    /**
     * A [batch, t] mask. kind 0: contiguous responses (prompt, response, padding; some rows empty); 1: random,
     * non-contiguous; 2: all ones; 3: all zeros; 4: each row one of the others.
     */
    static float[] mask(Random rnd, int batch, int t, int kind) {
        float[] m = new float[batch * t];
        for (int b = 0; b < batch; b++) {
            int k = kind == 4 ? rnd.nextInt(4) : kind;
            switch (k) {
                case 0: {
                    int start = rnd.nextInt(t + 1);
                    int len = rnd.nextInt(8) == 0 ? 0 : rnd.nextInt(t - start + 1);
                    for (int i = start; i < start + len; i++) m[b * t + i] = 1;
                    break;
                }
                case 1: {
                    double p = rnd.nextDouble();
                    for (int i = 0; i < t; i++) m[b * t + i] = rnd.nextDouble() < p ? 1 : 0;
                    break;
                }
                case 2:
                    Arrays.fill(m, b * t, b * t + t, 1);
                    break;
                default:
                    break;
            }
        }
        return m;
    }

    static void assertThrowsNaming(String name, Executable call) {
        RuntimeException e = assertThrows(RuntimeException.class, call);
        assertTrue(e instanceof IllegalArgumentException || e instanceof IllegalStateException, e.toString());
        assertTrue(e.getMessage() != null && e.getMessage().contains(name),
                "message should name " + name + ": " + e.getMessage());
    }
}
