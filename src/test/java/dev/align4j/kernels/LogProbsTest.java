package dev.align4j.kernels;

import static dev.align4j.testing.Close.POISON;
import static dev.align4j.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.reference.LogProbsReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import dev.align4j.testing.Rand;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LogProbsTest {
    private static final int[][] SHAPES = {{0, 5}, {1, 1}, {1, 7}, {3, 33}, {5, 1000}, {7, 4099}, {2, 32000}};

    /**
     * The backward at logits of 1e2–1e4 (τ 0.3–2) held to the tolerance of ordinary magnitudes, not to one that
     * grows with |s| as {@link #runCase}'s does: p = exp(s − lse) from the fp32 lse alone is off by up to half
     * an ulp of lse (2.4e-4 at 3000), which moved the gradient by up to ~1e-2 and flipped signs.
     */
    @DeviceTest
    void hugeLogitsBackward(Device device) {
        // 1 − p₀ = 4.54e-5, where p from the rounded lse made dz₀ = −7.2e-5
        float[] pair = {3000f, 2990f};
        checkBackward(device, "[3000, 2990]", pair, new int[] {0}, 1, 2, 1f, new float[] {1f}, null);
        checkBackward(device, "[3000, 2990] H", pair, new int[] {0}, 1, 2, 1f, new float[] {1f}, new float[] {1f});
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (double magnitude : new double[] {1e2, 1e3, 1e4})
            for (float temperature : new float[] {0.3f, 0.7f, 1f, 2f})
                for (boolean entropy : new boolean[] {false, true}) {
                    int n = 8, v = 1 + r.nextInt(600);
                    float[] z = Rand.normal(r, n * v, magnitude);
                    int[] y = Rand.ints(r, n, v);
                    for (int i = 0; i < n; i += 2) { // labels at the row max, where 1 − p is small
                        float max = Float.NEGATIVE_INFINITY;
                        for (int j = 0; j < v; j++) max = Math.max(max, z[i * v + j]);
                        z[i * v + y[i]] = max;
                    }
                    checkBackward(device, "seed " + seed + " |z|~" + magnitude + " V=" + v + " τ=" + temperature
                            + " H=" + entropy, z, y, n, v, temperature, Rand.normal(r, n, 1),
                            entropy ? Rand.normal(r, n, 1) : null);
                }
    }

    /**
     * Row by row, relative to the row's gradient scale (|g| + |h|·(1 + ln V))/τ: 1e-6 (the kernel measured
     * ≤ 2.5e-7), plus, in rows with |lse| under the kernel's LOGPROBS_RENORM_LSE = 64, which keep the plain
     * formula, the ~|lse|·1.2e-7 of the rounded lse (up to 2.9e-7·|lse| measured; 5e-7·|lse| allowed).
     */
    static void checkBackward(Device device, String what, float[] z, int[] y, int n, int v, float temperature,
                              float[] dlogp, float[] dentropy) {
        double[] zd = LogProbsReference.toDouble(z);
        double[] lse = LogProbsReference.forward(zd, y, null, n, v, temperature)[2];
        double[] ref = LogProbsReference.backward(zd, y, null, n, v, temperature, dlogp, dentropy);
        float[] got;
        try (Scope s = new Scope()) {
            Tensor logits = s.of(device, z, n, v);
            Tensor labels = s.of(device, y, n);
            LogProbs.Result fwd = LogProbs.forward(s, logits, labels, null, temperature, dentropy != null);
            Tensor dz = s.of(device, Rand.filled(n * v, POISON), n, v);
            LogProbs.backward(logits, labels, null, temperature, fwd, s.of(device, dlogp, n),
                    dentropy == null ? null : s.of(device, dentropy, n), dz);
            got = dz.toFloatArray();
        }
        for (int i = 0; i < n; i++) {
            double scale = (Math.abs(dlogp[i]) + (dentropy == null ? 0 : Math.abs(dentropy[i]) * (1 + Math.log(v))))
                    / temperature;
            double plain = Math.abs(lse[i]) < 64 ? 5e-7 * Math.abs(lse[i]) : 0;
            assertClose(what + " row " + i + " dlogits", Arrays.copyOfRange(ref, i * v, (i + 1) * v),
                    Arrays.copyOfRange(got, i * v, (i + 1) * v), scale * (1e-6 + plain), 0);
        }
    }

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        for (int[] shape : SHAPES)
            for (float temperature : new float[] {1.0f, 0.7f})
                for (boolean entropy : new boolean[] {true, false}) {
                    int n = shape[0], v = shape[1];
                    float[] mask = r.nextBoolean() ? null : Rand.mask(r, n, 0.7);
                    runCase(device, "seed " + seed + " N=" + n + " V=" + v + " τ=" + temperature + " H=" + entropy,
                            Rand.normal(r, n * v, 3.0), Rand.ints(r, n, v), mask, n, v, temperature, entropy, r,
                            1e-5);
                }
        // every row masked
        runCase(device, "seed " + seed + " all masked", Rand.normal(r, 4 * 50, 3), Rand.ints(r, 4, 50),
                new float[4], 4, 50, 1f, true, r, 1e-5);
    }

    /** −inf entries (also at the label), logits of magnitude 1e4. */
    @DeviceTest
    void hardValues(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int n = 6, v = 37;
        float[] z = Rand.normal(r, n * v, 2);
        int[] y = Rand.ints(r, n, v);
        for (int i = 0; i < n; i++) for (int j = 0; j < v; j += 3) if (j != y[i]) z[i * v + j] = Float.NEGATIVE_INFINITY;
        z[2 * v + y[2]] = Float.NEGATIVE_INFINITY; // the label itself impossible: logp = −inf
        runCase(device, "seed " + seed + " −inf", z, y, null, n, v, 1f, true, r, 1e-5);

        // Rows longer than the CPU's 2048-float chunk: a first chunk of only −inf, a max that rises in every
        // chunk (a rescale of the running sums each time), and a late spike.
        int lv = 5000;
        float[] lz = Rand.normal(r, 3 * lv, 2);
        int[] ly = {4000, 10, 2100};
        for (int j = 0; j < 2048; j++) lz[j] = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < lv; j++) lz[lv + j] = j * 0.01f + (float) r.nextGaussian();
        lz[2 * lv + 4999] = 40f;
        runCase(device, "seed " + seed + " chunks", lz, ly, null, 3, lv, 1f, true, r, 1e-5);
        runCase(device, "seed " + seed + " chunks τ", lz, ly, null, 3, lv, 0.6f, true, r, 1e-5);

        float[] big = Rand.normal(r, n * v, 1e4);
        for (int i = 0; i < n; i++) big[i * v + y[i]] = 1.2e4f; // some labels at (near) the max
        runCase(device, "seed " + seed + " 1e4", big, y, null, n, v, 1f, true, r, 1e-5);
        runCase(device, "seed " + seed + " 1e4 τ", big, y, null, n, v, 3.3f, true, r, 1e-5);
    }

    /**
     * Tolerances follow fp32's limits: s = z/τ and the saved lse carry a relative rounding of a few 2^-24, so
     * p = exp(s − lse) has an absolute exponent error of ~4e-7·max|s| (as in PyTorch). {@code atol} is the
     * floor for ordinary magnitudes.
     */
    static void runCase(Device device, String what, float[] z, int[] y, float[] mask, int n, int v, float temperature,
                        boolean withEntropy, Random r, double atol) {
        double[] zd = LogProbsReference.toDouble(z);
        double maxS = 1;
        for (float x : z) if (Float.isFinite(x)) maxS = Math.max(maxS, Math.abs(x) / temperature);
        double[][] ref = LogProbsReference.forward(zd, y, mask, n, v, temperature);
        float[] dlogp = Rand.normal(r, n, 1);
        float[] dent = withEntropy ? Rand.normal(r, n, 1) : null;
        double gMax = 0, hMax = 0;
        for (int i = 0; i < n; i++) {
            gMax = Math.max(gMax, Math.abs(dlogp[i]));
            if (dent != null) hMax = Math.max(hMax, Math.abs(dent[i]));
        }
        double fwdAtol = atol + 2.4e-7 * maxS;
        double gradAtol = atol * 0.1 + 4e-7 * maxS * (gMax + hMax * (1 + Math.log(v))) / temperature;
        double[] refGrad = LogProbsReference.backward(zd, y, mask, n, v, temperature, dlogp, dent);
        try (Scope s = new Scope()) {
            Tensor logits = s.of(device, z, n, v);
            Tensor labels = s.of(device, y, n);
            Tensor m = mask == null ? null : s.of(device, mask, n);
            Tensor logp = s.of(device, Rand.filled(n, POISON), n);
            Tensor ent = withEntropy ? s.of(device, Rand.filled(n, POISON), n) : null;
            Tensor lse = s.of(device, Rand.filled(n, POISON), n);
            LogProbs.forward(logits, labels, m, temperature, logp, ent, lse);
            assertClose(what + " logp", ref[0], logp.toFloatArray(), fwdAtol, 1e-5);
            assertClose(what + " lse", ref[2], lse.toFloatArray(), fwdAtol, 1e-6);
            if (withEntropy) assertClose(what + " entropy", ref[1], ent.toFloatArray(), fwdAtol, 1e-4);

            Tensor g = s.of(device, dlogp, n);
            Tensor h = withEntropy ? s.of(device, dent, n) : null;
            Tensor dz = s.of(device, Rand.filled(n * v, POISON), n, v);
            LogProbs.backward(logits, labels, m, temperature, lse, ent, g, h, dz);
            float[] grad = dz.toFloatArray();
            assertClose(what + " dlogits", refGrad, grad, gradAtol, 2e-5);

            // in place: the gradient overwrites the logits, bit for bit the same as out of place
            LogProbs.backward(logits, labels, m, temperature, lse, ent, g, h, logits);
            assertArrayEquals(grad, logits.toFloatArray(), what + " in-place backward");
        }
    }

    @DeviceTest
    void finiteDifferences(Device device) {
        long seed = System.nanoTime();
        Random r = new Random(seed);
        int n = 4, v = 13;
        float temperature = 0.8f;
        float[] z = Rand.normal(r, n * v, 2);
        int[] y = Rand.ints(r, n, v);
        float[] mask = {1, 0, 1, 1};
        float[] g = Rand.normal(r, n, 1), h = Rand.normal(r, n, 1);
        float[] got;
        try (Scope s = new Scope()) {
            Tensor logits = s.of(device, z, n, v);
            Tensor labels = s.of(device, y, n);
            Tensor m = s.of(device, mask, n);
            LogProbs.Result fwd = LogProbs.forward(s, logits, labels, m, temperature, true);
            Tensor dz = s.empty(device, DType.F32, n, v);
            LogProbs.backward(logits, labels, m, temperature, fwd, s.of(device, g, n), s.of(device, h, n), dz);
            got = dz.toFloatArray();
        }
        double[] zd = LogProbsReference.toDouble(z);
        double eps = 1e-6;
        for (int i = 0; i < n * v; i++) {
            double fd = FiniteDifference.at(zd, i, eps,
                    () -> LogProbsReference.objective(zd, y, mask, n, v, temperature, g, h));
            assertClose("seed " + seed + " finite difference dlogits", fd, got[i], 2e-5, 1e-3);
        }
    }

    /** One random case for the fuzz test. */
    public static void fuzzCase(Random r, Device device) {
        int n = r.nextInt(9);
        int v = 1 + r.nextInt(r.nextBoolean() ? 8 : 300);
        float temperature = r.nextBoolean() ? 1f : (float) (0.2 + 2 * r.nextDouble());
        float[] z = Rand.normal(r, n * v, r.nextBoolean() ? 1 : 10);
        if (r.nextInt(4) == 0) for (int k = 0; k < z.length; k += 1 + r.nextInt(5)) z[k] = Float.NEGATIVE_INFINITY;
        int[] y = Rand.ints(r, n, v);
        // keep at least the label finite unless we want −inf on purpose (reference handles both)
        float[] mask = r.nextBoolean() ? null : Rand.mask(r, n, r.nextDouble());
        runCase(device, "fuzz N=" + n + " V=" + v, z, y, mask, n, v, temperature, r.nextBoolean(), r, 1e-5);
    }

    @Test
    void convenienceArrays() {
        float[][] out = LogProbs.compute(new float[] {1, 2, 3, 0, 0, 0}, new int[] {2, 0}, null, 3, 1f);
        double lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
        assertClose("logp0", 3 - lse, out[0][0], 1e-6, 1e-6);
        assertClose("logp1", -Math.log(3), out[0][1], 1e-6, 1e-6);
        assertClose("entropy1", Math.log(3), out[1][1], 1e-6, 1e-6);
        assertClose("lse0", lse, out[2][0], 1e-6, 1e-6);
    }

    @Test
    void badInputsNameTheArgument() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor logits = s.of(d, Rand.normal(new Random(1), 3 * 5, 1), 3, 5);
            Tensor labels = s.of(d, new int[] {0, 7, 2});
            Tensor good = s.of(d, new int[] {0, 1, 2});
            assertMessage(IllegalArgumentException.class, "labels[1] = 7 is outside [0, 5)",
                    () -> LogProbs.forward(s, logits, labels, null, 1f, false));
            assertMessage(IllegalArgumentException.class, "labels[0] = -1",
                    () -> LogProbs.forward(s, logits, s.of(d, new int[] {-1, 0, 0}), null, 1f, false));
            assertMessage(IllegalArgumentException.class, "temperature",
                    () -> LogProbs.forward(s, logits, good, null, 0f, false));
            assertMessage(IllegalArgumentException.class, "temperature",
                    () -> LogProbs.forward(s, logits, good, null, Float.NaN, false));
            assertMessage(IllegalArgumentException.class, "mask[2] = NaN",
                    () -> LogProbs.forward(s, logits, good, s.of(d, new float[] {1, 0, Float.NaN}), 1f, false));
            assertMessage(IllegalArgumentException.class, "mask[0] = 0.5",
                    () -> LogProbs.forward(s, logits, good, s.of(d, new float[] {0.5f, 0, 1}), 1f, false));
            assertMessage(IllegalArgumentException.class, "labels: expected shape [3], got [2]",
                    () -> LogProbs.forward(s, logits, s.of(d, new int[] {0, 1}), null, 1f, false));
            assertMessage(IllegalArgumentException.class, "labels must be I32",
                    () -> LogProbs.forward(s, logits, s.of(d, new float[] {0, 1, 2}), null, 1f, false));
            assertMessage(IllegalArgumentException.class, "last dimension (V) must be >= 1",
                    () -> LogProbs.forward(s, s.empty(d, DType.F32, 3, 0), good, null, 1f, false));
            LogProbs.Result fwd = LogProbs.forward(s, logits, good, null, 1f, false);
            Tensor g = s.of(d, new float[] {1, 1, 1});
            assertMessage(IllegalArgumentException.class, "entropy: the forward's entropy is needed",
                    () -> LogProbs.backward(logits, good, null, 1f, fwd.lse(), null, g, g, logits));
            assertMessage(IllegalArgumentException.class, "dlogits: expected shape [3, 5], got [5, 3]",
                    () -> LogProbs.backward(logits, good, null, 1f, fwd, g, null, s.empty(d, DType.F32, 5, 3)));
            Tensor closed = s.of(d, new int[] {0, 1, 2});
            closed.close();
            assertMessage(IllegalStateException.class, "labels",
                    () -> LogProbs.forward(s, logits, closed, null, 1f, false));
            assertThrows(IllegalArgumentException.class, () -> LogProbs.compute(new float[5], new int[2], null, 3, 1f));
            assertMessage(IllegalArgumentException.class, "logits must not be null",
                    () -> LogProbs.compute(null, new int[2], null, 3, 1f));
            assertMessage(IllegalArgumentException.class, "labels must not be null",
                    () -> LogProbs.compute(new float[6], null, null, 3, 1f));
            assertMessage(IllegalArgumentException.class, "mask has 1 values, expected 2",
                    () -> LogProbs.compute(new float[6], new int[2], new float[1], 3, 1f));
        }
    }

    static void assertMessage(Class<? extends Throwable> type, String fragment, org.junit.jupiter.api.function.Executable call) {
        Throwable t = assertThrows(type, call);
        assertTrue(String.valueOf(t.getMessage()).contains(fragment),
                "message '" + t.getMessage() + "' should contain '" + fragment + "'");
    }

    @Test
    void outputsOwnedByScope() {
        Device d = Device.cpu();
        long before = Scope.globalLiveCount();
        try (Scope s = new Scope()) {
            Tensor logits = s.of(d, new float[] {1, 2}, 1, 2);
            LogProbs.forward(s, logits, s.of(d, new int[] {1}), null, 1f, true);
            assertEquals(5, s.liveCount()); // logits, labels, logp, entropy, lse: no temporaries left behind
        }
        assertEquals(before, Scope.globalLiveCount());
    }
}
