package dev.align4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.reference.RewardLossReference;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class RewardLossTest {
    private static final int[] SIZES = {0, 1, 7, 64, 1000};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int b : SIZES)
            for (int variant = 0; variant < 4; variant++) {
                boolean withMargin = (variant & 1) != 0;
                float center = (variant & 2) != 0 ? 0.01f + 0.1f * rnd.nextFloat() : 0f;
                runCase(device, rnd, seed, b, withMargin, center, false);
                runCase(device, rnd, seed, b, withMargin, center, true);
            }
        knownValues(device);
        overloads(device, rnd, seed);
        badInputs(device);
    }

    static void runCase(Device device, Random rnd, long seed, int b, boolean withMargin, float center, boolean large) {
        float[] rc = new float[b], rr = new float[b], m = withMargin ? new float[b] : null;
        for (int i = 0; i < b; i++) {
            if (large) {  // gaps of ±1e3: log σ must neither overflow nor lose the linear tail
                rc[i] = (float) (rnd.nextGaussian() * 5);
                rr[i] = (float) (rc[i] + (rnd.nextBoolean() ? 1000 : -1000) + rnd.nextGaussian());
            } else {
                rc[i] = (float) (rnd.nextGaussian() * 3 + 0.5);
                rr[i] = (float) (rnd.nextGaussian() * 3);
            }
            if (m != null) m[i] = (float) (0.1 + 2 * rnd.nextDouble());
        }
        String what = "B=" + b + (withMargin ? " margin" : "") + " c=" + center + (large ? " large" : "") + " on "
                + device + " (seed " + seed + ")";
        float[] poison = new float[b];
        Arrays.fill(poison, Close.POISON);
        try (Scope s = new Scope()) {
            Tensor dc = s.of(device, poison, b), dr = s.of(device, poison, b);
            RewardLoss.Stats st = RewardLoss.compute(s.of(device, rc, b), s.of(device, rr, b),
                    m == null ? null : s.of(device, m, b), center, dc, dr);
            verify(what, rc, rr, m, center, dc.toFloatArray(), dr.toFloatArray(), st);
        }
    }

    static void verify(String what, float[] rc, float[] rr, float[] m, float center, float[] dc, float[] dr,
                       RewardLoss.Stats st) {
        int b = rc.length;
        for (int i = 0; i < b; i++)
            assertTrue(Float.isFinite(dc[i]) && Float.isFinite(dr[i]), what + ": non-finite gradient at " + i);
        double[] ref = RewardLossReference.stats(rc, rr, m, center);
        // Means of terms of both signs cancel: their tolerance scales with the mean magnitude of the terms.
        double absC = 0, absR = 0, absM = 0;
        for (int i = 0; i < b; i++) {
            absC += Math.abs(rc[i]) / b;
            absR += Math.abs(rr[i]) / b;
            absM += Math.abs((double) rc[i] - rr[i]) / b;
        }
        Close.assertClose(what + " loss", ref[0], st.loss(), 1e-5, 1e-4);
        Close.assertClose(what + " accuracy", ref[1], st.accuracy(), 1e-6, 0);
        Close.assertClose(what + " rewardsChosen", ref[2], st.rewardsChosen(), 1e-5 + 1e-5 * absC, 0);
        Close.assertClose(what + " rewardsRejected", ref[3], st.rewardsRejected(), 1e-5 + 1e-5 * absR, 0);
        Close.assertClose(what + " margin", ref[4], st.margin(), 1e-5 + 1e-5 * absM, 0);
        if (b == 0) {
            assertEquals(new RewardLoss.Stats(0f, 0f, 0f, 0f, 0f), st, what + ": B = 0 stats");
            return;
        }
        double[] x = RewardLossReference.toDouble(rc), y = RewardLossReference.toDouble(rr);
        double[] md = m == null ? null : RewardLossReference.toDouble(m);
        double h = 1e-3;
        for (int side = 0; side < 2; side++) {
            double[] v = side == 0 ? x : y;
            float[] got = side == 0 ? dc : dr;
            for (int i = 0; i < b; i++) {
                double v0 = v[i];
                double plus, minus;
                if (b <= 64) {  // the whole mean
                    v[i] = v0 + h;
                    plus = RewardLossReference.loss(x, y, md, center);
                    v[i] = v0 - h;
                    minus = RewardLossReference.loss(x, y, md, center);
                } else {  // pairs are independent: pair i's term alone, over B
                    double[] xi = {x[i]}, yi = {y[i]}, mi = md == null ? null : new double[] {md[i]};
                    double[] vi = side == 0 ? xi : yi;
                    vi[0] = v0 + h;
                    plus = RewardLossReference.loss(xi, yi, mi, center) / b;
                    vi[0] = v0 - h;
                    minus = RewardLossReference.loss(xi, yi, mi, center) / b;
                }
                v[i] = v0;
                Close.assertClose(what + (side == 0 ? " dchosen[" : " drejected[") + i + "] vs finite differences",
                        (plus - minus) / (2 * h), got[i], 1e-5 / b, 1e-3);
            }
        }
    }

    /** Equal rewards: loss log 2, accuracy 0, gradients ∓0.5/B. */
    static void knownValues(Device device) {
        float[] v = {0.5f, -1.25f, 3f};
        try (Scope s = new Scope()) {
            Tensor t = s.of(device, v);
            RewardLoss.Result r = RewardLoss.compute(s, t, t, null, 0f);
            assertEquals((float) Math.log(2), r.stats().loss(), 1e-6f, "ties: loss");
            assertEquals(0f, r.stats().accuracy(), "ties: accuracy counts strict wins only");
            for (float d : r.dchosen().toFloatArray()) assertEquals(-0.5f / 3, d, 1e-7f, "ties: dchosen");
            for (float d : r.drejected().toFloatArray()) assertEquals(0.5f / 3, d, 1e-7f, "ties: drejected");
        }
    }

    static void overloads(Device device, Random rnd, long seed) {
        float[] rc = {1.5f, -0.25f, 2f, 0.75f, -3f}, rr = {0.5f, 0.25f, -1f, 1.75f, -2.5f}, m = {0.5f, 1f, 0.1f, 2f, 0.3f};
        try (Scope s = new Scope()) {
            Tensor a = s.of(device, rc), b = s.of(device, rr), mt = s.of(device, m);
            try (RewardLoss.Result r = RewardLoss.compute(s, a, b, mt, 0.05f)) {
                verify("scope overload", rc, rr, m, 0.05f, r.dchosen().toFloatArray(), r.drejected().toFloatArray(),
                        r.stats());
            }
            assertEquals(3, s.liveCount(), "Result.close frees every output (only the 3 inputs stay)");
        }
        RewardLoss.HostResult h = RewardLoss.compute(rc, rr, null, 0f);
        verify("float[] overload", rc, rr, null, 0f, h.dchosen(), h.drejected(), h.stats());
    }

    static void badInputs(Device device) {
        try (Scope s = new Scope()) {
            Tensor a = s.of(device, new float[] {1f, 2f, 3f});
            Tensor two = s.of(device, new float[] {1f, 2f});
            Tensor nan = s.of(device, new float[] {1f, Float.NaN, 3f});
            Tensor inf = s.of(device, new float[] {1f, 2f, Float.POSITIVE_INFINITY});
            Tensor ints = s.of(device, new int[] {1, 2, 3});
            expect("rChosen", () -> RewardLoss.compute(s, null, a, null, 0f));
            expect("rRejected", () -> RewardLoss.compute(s, a, null, null, 0f));
            expect("rRejected", () -> RewardLoss.compute(s, a, two, null, 0f));
            expect("margin", () -> RewardLoss.compute(s, a, a, two, 0f));
            expect("rChosen", () -> RewardLoss.compute(s, ints, a, null, 0f));
            expect("rChosen[1]", () -> RewardLoss.compute(s, nan, a, null, 0f));
            expect("rRejected[2]", () -> RewardLoss.compute(s, a, inf, null, 0f));
            expect("margin[1]", () -> RewardLoss.compute(s, a, a, nan, 0f));
            expect("centerCoef", () -> RewardLoss.compute(s, a, a, null, -0.1f));
            expect("centerCoef", () -> RewardLoss.compute(s, a, a, null, Float.NaN));
            Tensor o1 = s.of(device, new float[3]), o2 = s.of(device, new float[3]);
            expect("dchosen", () -> RewardLoss.compute(a, a, null, 0f, two, o2));
            expect("drejected", () -> RewardLoss.compute(a, a, null, 0f, o1, null));
            expect("drejected is the same tensor as dchosen", () -> RewardLoss.compute(a, a, null, 0f, o1, o1));
            expect("dchosen is the same tensor as the input rChosen", () -> RewardLoss.compute(a, a, null, 0f, a, o2));
            expect("scope", () -> RewardLoss.compute(null, a, a, null, 0f));
            Tensor closed = s.of(device, new float[] {1f, 2f, 3f});
            closed.close();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> RewardLoss.compute(s, a, a, closed, 0f));
            assertTrue(e.getMessage().contains("margin"), e.getMessage());
        }
        expect("margin", () -> RewardLoss.compute(new float[] {1f}, new float[] {0f}, new float[] {1f, 2f}, 0f));
    }

    static void expect(String name, Executable body) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, body, "expected a failure naming " + name);
        assertTrue(e.getMessage().contains(name), "message should name " + name + ": " + e.getMessage());
    }

    /** One random case for the central fuzz test. */
    public static void fuzzCase(Random rnd, Device device) {
        int b = switch (rnd.nextInt(6)) {
            case 0 -> 0;
            case 1 -> 1;
            default -> 2 + rnd.nextInt(100);
        };
        long seed = rnd.nextLong();
        Random r = new Random(seed);
        runCase(device, r, seed, b, r.nextBoolean(), r.nextBoolean() ? 0f : 0.1f * r.nextFloat(), r.nextInt(4) == 0);
    }

    @Test
    void fuzzSmoke() {
        Random rnd = new Random(System.nanoTime());
        for (int i = 0; i < 50; i++) fuzzCase(rnd, Device.cpu());
    }
}
