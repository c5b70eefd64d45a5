package dev.align4j.kernels;

import static dev.align4j.kernels.LogProbsTest.assertMessage;
import static dev.align4j.testing.Close.POISON;
import static dev.align4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.reference.AttentionSoftmaxReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import dev.align4j.testing.Rand;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AttentionSoftmaxTest {
    // {BH, Tq, Tk}: empty, one, odd, not multiples of 4 or 32, KV-cache shapes (Tq < Tk), a long T = 1024 row set
    private static final int[][] SHAPES = {{0, 4, 4}, {1, 1, 1}, {3, 1, 1}, {2, 5, 5}, {3, 7, 7}, {2, 33, 33},
            {1, 37, 37}, {2, 3, 8}, {2, 1, 9}, {1, 130, 131}, {1, 1024, 1024}};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int[] sh : SHAPES) {
            float scale = r.nextBoolean() ? 0.125f : (float) (0.05 + r.nextDouble());
            runCase(device, "seed " + seed + " BH=" + sh[0] + " Tq=" + sh[1] + " Tk=" + sh[2] + " scale=" + scale,
                    Rand.normal(r, sh[0] * sh[1] * sh[2], 3), r, sh[0], sh[1], sh[2], scale, false);
        }
        // rank 4 ([B, NH, T, T])
        runCase(device, "seed " + seed + " rank 4", Rand.normal(r, 2 * 3 * 6 * 6, 2), r, 6, 6, 6, 0.3f, true);
    }

    /** −inf among the visible keys (also the row max's neighbours), large scores, a row with no finite key. */
    @DeviceTest
    void hardValues(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int bh = 2, t = 9;
        float[] s = Rand.normal(r, bh * t * t, 2);
        for (int k = 0; k < s.length; k += 4) s[k] = Float.NEGATIVE_INFINITY;  // row 0 of head 0: only −inf → NaN
        runCase(device, "seed " + seed + " −inf", s, r, bh, t, t, 0.5f, false);
        runCase(device, "seed " + seed + " 1e4", Rand.normal(r, bh * t * t, 1e4), r, bh, t, t, 1f, false);
    }

    /**
     * Forward and backward against the reference. The masked triangle of every input is set to NaN, so reading
     * it would show; the masked outputs must be exactly 0. Then in place, bit for bit.
     */
    static void runCase(Device device, String what, float[] scores, Random r, int bh, int tq, int tk, float scale,
                        boolean rank4) {
        int size = bh * tq * tk;
        float[] dp = Rand.normal(r, size, 1);
        double[] ref = AttentionSoftmaxReference.forward(toDouble(scores), bh, tq, tk, scale);
        double maxS = 1;
        for (float v : scores) if (Float.isFinite(v)) maxS = Math.max(maxS, Math.abs(v) * scale);
        poisonMasked(scores, bh, tq, tk);
        poisonMasked(dp, bh, tq, tk);
        long[] shape = rank4 ? new long[] {2, bh / 2, tq, tk} : new long[] {bh, tq, tk};
        try (Scope s = new Scope()) {
            Tensor st = s.of(device, scores, shape);
            Tensor pt = s.of(device, Rand.filled(size, POISON), shape);
            AttentionSoftmax.forward(st, scale, pt);
            float[] p = pt.toFloatArray();
            // p = exp(scale·s − lse): the exponent's rounding is ~2.4e-7·max|scale·s| relative to p
            assertClose(what + " probs", ref, p, 1e-7 + 3e-7 * maxS, 1e-5);
            assertMaskedZero(what + " probs", p, bh, tq, tk);

            // backward from the kernel's own P (the reference uses the same floats)
            float[] pIn = p.clone();
            poisonMasked(pIn, bh, tq, tk);
            Tensor pn = s.of(device, pIn, shape);
            Tensor dpt = s.of(device, dp, shape);
            Tensor ds = s.of(device, Rand.filled(size, POISON), shape);
            AttentionSoftmax.backward(pn, dpt, scale, ds);
            float[] got = ds.toFloatArray();
            double[] refGrad = AttentionSoftmaxReference.backward(pIn, dp, bh, tq, tk, scale);
            assertClose(what + " dscores", refGrad, got, 1e-6 * scale, 1e-4);
            assertMaskedZero(what + " dscores", got, bh, tq, tk);

            AttentionSoftmax.backward(pn, dpt, scale, dpt);
            assertArrayEquals(got, dpt.toFloatArray(), what + " in-place backward (dscores = dprobs)");
            AttentionSoftmax.forward(st, scale, st);
            assertArrayEquals(p, st.toFloatArray(), what + " in-place forward (probs = scores)");
        }
    }

    /** Kernel dscores of L = Σ dP·P against central differences of the reference, every entry (masked: 0). */
    @DeviceTest
    void finiteDifferences(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int bh = 2, tq = 4, tk = 6;
        float scale = 0.7f;
        float[] sc = Rand.normal(r, bh * tq * tk, 1.5);
        float[] dp = Rand.normal(r, bh * tq * tk, 1);
        float[] got;
        try (Scope s = new Scope()) {
            Tensor p = AttentionSoftmax.forward(s, s.of(device, sc, bh, tq, tk), scale);
            Tensor ds = s.empty(device, DType.F32, bh, tq, tk);
            AttentionSoftmax.backward(p, s.of(device, dp, bh, tq, tk), scale, ds);
            got = ds.toFloatArray();
        }
        double[] sd = toDouble(sc);
        double h = 1e-6;
        for (int i = 0; i < sd.length; i++) {
            double fd = FiniteDifference.at(sd, i, h, () -> AttentionSoftmaxReference.objective(sd, bh, tq, tk, scale, dp));
            assertClose("seed " + seed + " finite difference dscores[" + i + "]", fd, got[i], 2e-6, 1e-3);
        }
    }

    /** One random case for the fuzz test. */
    public static void fuzzCase(Random r, Device device) {
        int bh = r.nextInt(4);
        int tq = 1 + r.nextInt(r.nextBoolean() ? 6 : 40);
        int tk = tq + (r.nextInt(3) == 0 ? r.nextInt(20) : 0);
        float scale = (float) (0.05 + r.nextDouble());
        float[] s = Rand.normal(r, bh * tq * tk, r.nextBoolean() ? 1 : 8);
        if (r.nextInt(5) == 0) for (int k = 1; k < s.length; k += 2 + r.nextInt(5)) s[k] = Float.NEGATIVE_INFINITY;
        runCase(device, "fuzz BH=" + bh + " Tq=" + tq + " Tk=" + tk, s, r, bh, tq, tk, scale, false);
    }

    @Test
    void badInputsNameTheArgument() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor sc = s.of(d, new float[2 * 4 * 4], 2, 4, 4);
            assertMessage(IllegalArgumentException.class, "keys Tk = 3 must be >= queries Tq = 4",
                    () -> AttentionSoftmax.forward(s, s.of(d, new float[12], 1, 4, 3), 1f));
            assertMessage(IllegalArgumentException.class, "scale", () -> AttentionSoftmax.forward(s, sc, 0f));
            assertMessage(IllegalArgumentException.class, "scale", () -> AttentionSoftmax.forward(s, sc, Float.NaN));
            assertMessage(IllegalArgumentException.class, "scores must have rank >= 2",
                    () -> AttentionSoftmax.forward(s, s.of(d, new float[4]), 1f));
            assertMessage(IllegalArgumentException.class, "scores must be F32",
                    () -> AttentionSoftmax.forward(s, s.of(d, new int[16], 4, 4), 1f));
            assertMessage(IllegalArgumentException.class, "scores must not be null",
                    () -> AttentionSoftmax.forward(null, 1f, sc));
            assertMessage(IllegalArgumentException.class, "probs: expected shape [2, 4, 4], got [4, 4, 2]",
                    () -> AttentionSoftmax.forward(sc, 1f, s.empty(d, DType.F32, 4, 4, 2)));
            assertMessage(IllegalArgumentException.class, "dprobs: expected shape [2, 4, 4], got [32]",
                    () -> AttentionSoftmax.backward(sc, s.of(d, new float[32]), 1f, sc));
            assertMessage(IllegalArgumentException.class, "dscores must not be null",
                    () -> AttentionSoftmax.backward(sc, sc, 1f, null));
            Tensor closed = s.of(d, new float[32], 2, 4, 4);
            closed.close();
            assertMessage(IllegalStateException.class, "dprobs", () -> AttentionSoftmax.backward(sc, closed, 1f, sc));
        }
    }

    private static void poisonMasked(float[] a, int bh, int tq, int tk) {
        for (int row = 0; row < bh * tq; row++)
            for (int j = AttentionSoftmaxReference.visible(row % tq, tq, tk); j < tk; j++) a[row * tk + j] = Float.NaN;
    }

    private static void assertMaskedZero(String what, float[] a, int bh, int tq, int tk) {
        for (int row = 0; row < bh * tq; row++)
            for (int j = AttentionSoftmaxReference.visible(row % tq, tq, tk); j < tk; j++)
                assertEquals(0f, a[row * tk + j], what + ": masked [" + row + ", " + j + "] must be exactly 0");
    }

    private static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
