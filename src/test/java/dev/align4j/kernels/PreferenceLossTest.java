package dev.align4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.kernels.PreferenceLoss.Config;
import dev.align4j.kernels.PreferenceLoss.Type;
import dev.align4j.reference.PreferenceLossReference;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class PreferenceLossTest {
    private static final int[] SIZES = {0, 1, 7, 64, 1000};

    @Test
    void cudaDeviceMismatch() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Device.cudaAvailable(), "no CUDA device");
        try (Scope s = new Scope()) {
            Tensor c = s.of(Device.cpu(), new float[] {-1f});
            Tensor r = s.of(Device.cuda(0), new float[] {-2f});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> PreferenceLoss.compute(s, c, r, c, c, null, null, Config.dpo()));
            assertTrue(e.getMessage().contains("rejected"), e.getMessage());
        }
    }

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (Type type : Type.values())
            for (int b : SIZES) {
                runCase(device, rnd, seed, config(rnd, type), b, false);
                runCase(device, rnd, seed, config(rnd, type), b, true);  // |Δ| ~ 1e3
            }
        ties(device);
        hingeKink(device);
        scopeOverload(device, rnd, seed);
        badInputs(device);
    }

    /** A random valid configuration of {@code type}. */
    static Config config(Random rnd, Type type) {
        float beta = new float[] {0.1f, 0.5f, 1f, 2f}[rnd.nextInt(4)];
        float eps = switch (type) {
            case HINGE, IPO -> 0f;
            case ROBUST -> 0.05f + 0.4f * rnd.nextFloat();
            case SIGMOID -> rnd.nextBoolean() ? 0f : 0.3f * rnd.nextFloat();
            default -> 0.3f * rnd.nextFloat();
        };
        float gamma = type == Type.SIMPO ? 0.25f + 2f * rnd.nextFloat() : 0f;
        return new Config(type, beta, eps, gamma);
    }

    /** Random inputs: sequence log-probs ~ −|y|·(0.1..3), references near the policy; large: Δ ≈ ±1e3. */
    record Inputs(float[] c, float[] r, float[] rc, float[] rr, float[] lc, float[] lr) {}

    static Inputs inputs(Random rnd, Type type, int b, boolean large) {
        float[] c = new float[b], r = new float[b], rc = new float[b], rr = new float[b], lc = new float[b],
                lr = new float[b];
        for (int i = 0; i < b; i++) {
            if (large) {
                lc[i] = 1 + rnd.nextInt(2);
                lr[i] = 1 + rnd.nextInt(2);
                double sign = rnd.nextBoolean() ? 1 : -1;
                c[i] = (float) (-1 - 50 * rnd.nextDouble());
                r[i] = (float) (c[i] - sign * 1000);
                rc[i] = (float) (-1 - 50 * rnd.nextDouble());
                rr[i] = (float) (-1 - 50 * rnd.nextDouble());
            } else {
                lc[i] = 1 + rnd.nextInt(300);
                lr[i] = 1 + rnd.nextInt(300);
                c[i] = (float) (-lc[i] * (0.1 + 2.9 * rnd.nextDouble()));
                r[i] = (float) (-lr[i] * (0.1 + 2.9 * rnd.nextDouble()));
                rc[i] = (float) (c[i] + rnd.nextGaussian() * (2 + 0.3 * lc[i]));
                rr[i] = (float) (r[i] + rnd.nextGaussian() * (2 + 0.3 * lr[i]));
            }
        }
        boolean lengths = type.needsLengths() || rnd.nextBoolean();  // unused lengths may be passed too
        boolean refs = type.needsReference();
        return new Inputs(c, r, refs ? rc : null, refs ? rr : null, lengths ? lc : null, lengths ? lr : null);
    }

    static void runCase(Device device, Random rnd, long seed, Config cfg, int b, boolean large) {
        Inputs in = inputs(rnd, cfg.type(), b, large);
        String what = cfg + " B=" + b + (large ? " large" : "") + " on " + device + " (seed " + seed + ")";
        float[] poison = new float[b];
        Arrays.fill(poison, Close.POISON);
        try (Scope s = new Scope()) {
            Tensor[] out = new Tensor[5];
            for (int k = 0; k < 5; k++) out[k] = s.of(device, poison, b);
            PreferenceLoss.Stats st = PreferenceLoss.compute(s.of(device, in.c), s.of(device, in.r),
                    opt(s, device, in.rc), opt(s, device, in.rr), opt(s, device, in.lc), opt(s, device, in.lr), cfg,
                    out[0], out[1], out[2], out[3], out[4]);
            float[] dc = out[0].toFloatArray(), dr = out[1].toFloatArray(), losses = out[2].toFloatArray();
            float[] rwc = out[3].toFloatArray(), rwr = out[4].toFloatArray();
            verify(what, cfg, in, dc, dr, losses, rwc, rwr, st);
        }
    }

    static Tensor opt(Scope s, Device device, float[] a) {
        return a == null ? null : s.of(device, a, a.length);
    }

    static void verify(String what, Config cfg, Inputs in, float[] dc, float[] dr, float[] losses, float[] rwc,
                       float[] rwr, PreferenceLoss.Stats st) {
        int b = in.c.length;
        Type type = cfg.type();
        PreferenceLossReference.Result ref = PreferenceLossReference.compute(type, cfg.beta(), cfg.labelSmoothing(),
                cfg.gamma(), in.c, in.r, in.rc, in.rr, type.needsLengths() ? in.lc : null,
                type.needsLengths() ? in.lr : null);
        for (float[] a : new float[][] {dc, dr, losses, rwc, rwr})
            for (int i = 0; i < b; i++) assertTrue(Float.isFinite(a[i]), what + ": non-finite output at " + i);
        Close.assertClose(what + " losses", ref.losses(), losses, 1e-5, 1e-4);
        Close.assertClose(what + " rewardsChosen", ref.rewardsChosen(), rwc, 1e-5, 1e-5);
        Close.assertClose(what + " rewardsRejected", ref.rewardsRejected(), rwr, 1e-5, 1e-5);
        double[] rs = ref.stats();
        // Means of terms of both signs cancel: their tolerance scales with the mean magnitude of the terms.
        double[] margins = new double[b];
        for (int i = 0; i < b; i++) margins[i] = ref.rewardsChosen()[i] - ref.rewardsRejected()[i];
        Close.assertClose(what + " stats.loss", rs[0], st.loss(), 1e-5 + 1e-4 * meanAbs(ref.losses()), 0);
        Close.assertClose(what + " stats.rewardsChosen", rs[1], st.rewardsChosen(),
                1e-5 + 1e-5 * meanAbs(ref.rewardsChosen()), 0);
        Close.assertClose(what + " stats.rewardsRejected", rs[2], st.rewardsRejected(),
                1e-5 + 1e-5 * meanAbs(ref.rewardsRejected()), 0);
        Close.assertClose(what + " stats.margin", rs[4], st.margin(), 1e-5 + 1e-5 * meanAbs(margins), 0);
        // The kernel's accuracy counts its own float rewards; near-ties may round either way against the reference.
        int near = 0, ownCount = 0;
        for (int i = 0; i < b; i++) {
            double gap = ref.rewardsChosen()[i] - ref.rewardsRejected()[i];
            if (Math.abs(gap) < 1e-5 * (1 + Math.abs(ref.rewardsChosen()[i]))) near++;
            if (rwc[i] > rwr[i]) ownCount++;
        }
        Close.assertClose(what + " stats.accuracy", rs[3], st.accuracy(), 1e-6 + (double) near / Math.max(b, 1), 0);
        assertEquals(b == 0 ? 0f : (float) ownCount / b, st.accuracy(), 1e-6f, what + " accuracy vs own rewards");
        if (b == 0) {
            assertEquals(new PreferenceLoss.Stats(0f, 0f, 0f, 0f, 0f), st, what + ": B = 0 stats");
            return;
        }
        double[][] fd = finiteDifferences(cfg, in);
        double atol = 1e-5 / b;
        for (int i = 0; i < b; i++) {
            if (type == Type.HINGE && nearKink(cfg, in, i)) continue;  // not differentiable there
            Close.assertClose(what + " dchosen[" + i + "] vs finite differences", fd[0][i], dc[i], atol, 1e-3);
            Close.assertClose(what + " drejected[" + i + "] vs finite differences", fd[1][i], dr[i], atol, 1e-3);
        }
    }

    static double meanAbs(double[] a) {
        double s = 0;
        for (double v : a) s += Math.abs(v);
        return a.length == 0 ? 0 : s / a.length;
    }

    /** The finite differences' step in each log-prob. */
    static final double FD_STEP = 1e-3;

    /** Pair i's hinge argument z is within the finite differences' reach of the kink z = 1 (a step moves z by β·h). */
    private static boolean nearKink(Config cfg, Inputs in, int i) {
        double z = cfg.beta() * (((double) in.c[i] - in.r[i]) - ((double) in.rc[i] - in.rr[i]));
        return Math.abs(1 - z) < 2 * cfg.beta() * FD_STEP;
    }

    /**
     * Central differences of the reference mean loss w.r.t. chosen[i] and rejected[i]. Up to B = 64 the whole
     * mean is re-evaluated; beyond, only pair i's term (the pairs are independent, so that is the same derivative).
     */
    static double[][] finiteDifferences(Config cfg, Inputs in) {
        int b = in.c.length;
        Type type = cfg.type();
        double beta = cfg.beta(), eps = cfg.labelSmoothing(), gamma = cfg.gamma();
        double[] c = dbl(in.c), r = dbl(in.r), rc = dbl(in.rc), rr = dbl(in.rr);
        double[] lc = type.needsLengths() ? dbl(in.lc) : null, lr = type.needsLengths() ? dbl(in.lr) : null;
        double[][] g = new double[2][b];
        double h = FD_STEP;
        for (int side = 0; side < 2; side++) {
            double[] x = side == 0 ? c : r;
            for (int i = 0; i < b; i++) {
                double x0 = x[i];
                double plus, minus;
                if (b <= 64) {
                    x[i] = x0 + h;
                    plus = PreferenceLossReference.meanLoss(type, beta, eps, gamma, c, r, rc, rr, lc, lr);
                    x[i] = x0 - h;
                    minus = PreferenceLossReference.meanLoss(type, beta, eps, gamma, c, r, rc, rr, lc, lr);
                } else {
                    x[i] = x0 + h;
                    plus = pair(type, beta, eps, gamma, c, r, rc, rr, lc, lr, i) / b;
                    x[i] = x0 - h;
                    minus = pair(type, beta, eps, gamma, c, r, rc, rr, lc, lr, i) / b;
                }
                x[i] = x0;
                g[side][i] = (plus - minus) / (2 * h);
            }
        }
        return g;
    }

    private static double pair(Type type, double beta, double eps, double gamma, double[] c, double[] r, double[] rc,
                               double[] rr, double[] lc, double[] lr, int i) {
        return PreferenceLossReference.pairLoss(type, beta, eps, gamma, c[i], r[i], rc == null ? 0 : rc[i],
                rr == null ? 0 : rr[i], lc == null ? 1 : lc[i], lr == null ? 1 : lr[i]);
    }

    private static double[] dbl(float[] a) {
        if (a == null) return null;
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** Identical policy and reference: Δ = 0, loss log 2 for DPO, no pair counted as correct. */
    static void ties(Device device) {
        float[] v = {-3f, -7.5f, -12f, -1f, -40f};
        try (Scope s = new Scope()) {
            Tensor t = s.of(device, v);
            PreferenceLoss.Result r = PreferenceLoss.compute(s, t, t, t, t, null, null, Config.dpo());
            assertEquals((float) Math.log(2), r.stats().loss(), 1e-6f, "ties: loss");
            assertEquals(0f, r.stats().accuracy(), "ties: accuracy counts strict wins only");
            assertEquals(0f, r.stats().margin(), "ties: margin");
            for (float d : r.dchosen().toFloatArray()) assertEquals(-0.1f * 0.5f / v.length, d, 1e-7f, "ties: dchosen");
        }
    }

    /** Hinge with β = 0.5: Δ = 2 sits exactly on the kink (gradient 0 by convention), Δ = 1 and 3 either side. */
    static void hingeKink(Device device) {
        Config cfg = new Config(Type.HINGE, 0.5f, 0f, 0f);
        float[] c = {-10f, -10f, -10f}, r = {-12f, -11f, -13f}, ref = {-20f, -20f, -20f};
        try (Scope s = new Scope()) {
            Tensor tr = s.of(device, ref);
            PreferenceLoss.Result res = PreferenceLoss.compute(s, s.of(device, c), s.of(device, r), tr, tr, null, null, cfg);
            float[] losses = res.losses().toFloatArray(), dc = res.dchosen().toFloatArray(), dr = res.drejected().toFloatArray();
            float[] wantLoss = {0f, 0.5f, 0f}, wantDc = {0f, -0.5f / 3, 0f};
            for (int i = 0; i < 3; i++) {
                assertEquals(wantLoss[i], losses[i], 0f, "hinge losses[" + i + "]");
                assertEquals(wantDc[i], dc[i], 1e-7f, "hinge dchosen[" + i + "] (0 at the kink)");
                assertEquals(-wantDc[i], dr[i], 1e-7f, "hinge drejected[" + i + "] (0 at the kink)");
            }
        }
    }

    /** The scope-allocating and float[] overloads give the same numbers as the explicit-output one. */
    static void scopeOverload(Device device, Random rnd, long seed) {
        Config cfg = Config.simpo();
        Inputs in = inputs(rnd, Type.SIMPO, 13, false);
        try (Scope s = new Scope()) {
            Tensor c = s.of(device, in.c), r0 = s.of(device, in.r), lc = s.of(device, in.lc), lr = s.of(device, in.lr);
            try (PreferenceLoss.Result r = PreferenceLoss.compute(s, c, r0, null, null, lc, lr, cfg)) {
                verify("scope overload (seed " + seed + ")", cfg, in, r.dchosen().toFloatArray(),
                        r.drejected().toFloatArray(), r.losses().toFloatArray(), r.rewardsChosen().toFloatArray(),
                        r.rewardsRejected().toFloatArray(), r.stats());
            }
            assertEquals(4, s.liveCount(), "Result.close frees every output (only the 4 inputs stay)");
        }
        PreferenceLoss.HostResult h = PreferenceLoss.compute(in.c, in.r, null, null, in.lc, in.lr, cfg);
        verify("float[] overload (seed " + seed + ")", cfg, in, h.dchosen(), h.drejected(), h.losses(),
                h.rewardsChosen(), h.rewardsRejected(), h.stats());
    }

    @Test
    void configDefaults() {
        assertEquals(new Config(Type.SIGMOID, 0.1f, 0f, 0f), Config.dpo());
        assertEquals(new Config(Type.SIMPO, 2.0f, 0f, 1.0f), Config.simpo());
        assertEquals(Config.simpo(), Config.of(Type.SIMPO));
        assertEquals(0.1f, Config.of(Type.IPO).beta());
        assertEquals(new Config(Type.CDPO, 0.1f, 0.2f, 0f), Config.cdpo(0.2f));
    }

    @Test
    void badConfig() {
        expect("type", () -> new Config(null, 0.1f, 0f, 0f));
        expect("beta", () -> new Config(Type.SIGMOID, 0f, 0f, 0f));
        expect("beta", () -> new Config(Type.SIGMOID, -1f, 0f, 0f));
        expect("beta", () -> new Config(Type.SIGMOID, Float.NaN, 0f, 0f));
        expect("labelSmoothing", () -> new Config(Type.ROBUST, 0.1f, 0.5f, 0f));
        expect("labelSmoothing", () -> new Config(Type.CDPO, 0.1f, 1f, 0f));
        expect("labelSmoothing", () -> new Config(Type.CDPO, 0.1f, -0.1f, 0f));
        expect("labelSmoothing", () -> new Config(Type.HINGE, 0.1f, 0.1f, 0f));
        expect("labelSmoothing", () -> new Config(Type.IPO, 0.1f, 0.1f, 0f));
        expect("labelSmoothing", () -> Config.dpo().withLabelSmoothing(Float.NaN));
        expect("gamma", () -> new Config(Type.SIGMOID, 0.1f, 0f, 1f));
        expect("gamma", () -> Config.simpo().withGamma(Float.POSITIVE_INFINITY));
    }

    static void badInputs(Device device) {
        try (Scope s = new Scope()) {
            Tensor c = s.of(device, new float[] {-1f, -2f, -3f});
            Tensor r = s.of(device, new float[] {-2f, -2f, -4f});
            Tensor len = s.of(device, new float[] {3f, 4f, 5f});
            Tensor two = s.of(device, new float[] {-1f, -2f});
            Tensor nan = s.of(device, new float[] {-1f, Float.NaN, -3f});
            Tensor inf = s.of(device, new float[] {-1f, -2f, Float.NEGATIVE_INFINITY});
            Tensor zeroLen = s.of(device, new float[] {3f, 0f, 5f});
            Tensor negLen = s.of(device, new float[] {3f, 4f, -5f});
            Tensor nanLen = s.of(device, new float[] {3f, Float.NaN, 5f});
            Tensor ints = s.of(device, new int[] {1, 2, 3});
            Tensor matrix = s.of(device, new float[] {-1f, -2f, -3f, -4f}, 2, 2);
            Config dpo = Config.dpo(), ipo = Config.of(Type.IPO), ln = Config.of(Type.LN_DPO), simpo = Config.simpo();
            expect("config", () -> PreferenceLoss.compute(s, c, r, c, r, null, null, null));
            expect("chosen", () -> PreferenceLoss.compute(s, null, r, c, r, null, null, dpo));
            expect("rejected", () -> PreferenceLoss.compute(s, c, null, c, r, null, null, dpo));
            expect("refChosen", () -> PreferenceLoss.compute(s, c, r, null, r, null, null, dpo));
            expect("refRejected", () -> PreferenceLoss.compute(s, c, r, c, null, null, null, dpo));
            expect("rejected", () -> PreferenceLoss.compute(s, c, two, c, r, null, null, dpo));
            expect("refRejected", () -> PreferenceLoss.compute(s, c, r, c, two, null, null, dpo));
            expect("chosen", () -> PreferenceLoss.compute(s, ints, r, c, r, null, null, dpo));
            expect("chosen", () -> PreferenceLoss.compute(s, matrix, r, c, r, null, null, dpo));
            expect("chosen[1]", () -> PreferenceLoss.compute(s, nan, r, c, r, null, null, dpo));
            expect("refRejected[2]", () -> PreferenceLoss.compute(s, c, r, c, inf, null, null, dpo));
            expect("rejected[1]", () -> PreferenceLoss.compute(s, c, nan, c, r, null, null, dpo));
            expect("refChosen[1]", () -> PreferenceLoss.compute(s, c, r, nan, r, null, null, dpo));
            expect("chosenLen", () -> PreferenceLoss.compute(s, c, r, c, r, null, len, ipo));
            expect("rejectedLen", () -> PreferenceLoss.compute(s, c, r, c, r, len, null, ln));
            expect("chosenLen[1]", () -> PreferenceLoss.compute(s, c, r, c, r, zeroLen, len, ipo));
            expect("rejectedLen[2]", () -> PreferenceLoss.compute(s, c, r, c, r, len, negLen, ln));
            expect("rejectedLen[1]", () -> PreferenceLoss.compute(s, c, r, null, null, len, nanLen, simpo));
            expect("chosenLen[1]", () -> PreferenceLoss.compute(s, c, r, c, r, zeroLen, len, dpo));  // given = checked
            expect("chosenLen", () -> PreferenceLoss.compute(s, c, r, c, r, two, len, dpo));
            expect("refChosen", () -> PreferenceLoss.compute(s, c, r, c, r, len, len, simpo));
            expect("refRejected", () -> PreferenceLoss.compute(s, c, r, null, r, len, len, simpo));
            expect("scope", () -> PreferenceLoss.compute(null, c, r, c, r, null, null, dpo));
            Tensor out = s.of(device, new float[] {0f, 0f, 0f});
            Tensor o1 = s.of(device, new float[3]), o2 = s.of(device, new float[3]), o3 = s.of(device, new float[3]),
                    o4 = s.of(device, new float[3]);
            expect("losses", () -> PreferenceLoss.compute(c, r, c, r, null, null, dpo, out, o1, two, o2, o3));
            expect("drejected is the same tensor as dchosen",
                    () -> PreferenceLoss.compute(c, r, c, r, null, null, dpo, out, out, o1, o2, o3));
            expect("rewardsRejected is the same tensor as the input rejected",
                    () -> PreferenceLoss.compute(c, r, c, r, null, null, dpo, out, o1, o2, o3, r));
            expect("dchosen is the same tensor as the input chosen",
                    () -> PreferenceLoss.compute(c, r, c, r, null, null, dpo, c, o1, o2, o3, o4));
            expect("rewardsRejected", () -> PreferenceLoss.compute(c, r, c, r, null, null, dpo, out, o1, o2, o3, null));
            Tensor closed = s.of(device, new float[] {-1f, -2f, -3f});
            closed.close();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> PreferenceLoss.compute(s, c, closed, c, r, null, null, dpo));
            assertTrue(e.getMessage().contains("rejected"), e.getMessage());
        }
        expect("rejected", () -> PreferenceLoss.compute(new float[] {-1f}, new float[] {-1f, -2f}, new float[] {-1f},
                new float[] {-1f}, null, null, Config.dpo()));
    }

    static void expect(String name, Executable body) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, body, "expected a failure naming " + name);
        assertTrue(e.getMessage().contains(name), "message should name " + name + ": " + e.getMessage());
    }

    /** One random case for the central fuzz test: random type, options, size (incl. 0 and 1) and scale. */
    public static void fuzzCase(Random rnd, Device device) {
        Type type = Type.values()[rnd.nextInt(Type.values().length)];
        int b = switch (rnd.nextInt(6)) {
            case 0 -> 0;
            case 1 -> 1;
            default -> 2 + rnd.nextInt(100);
        };
        long seed = rnd.nextLong();
        runCase(device, new Random(seed), seed, config(new Random(seed ^ 1), type), b, rnd.nextInt(4) == 0);
    }

    @Test
    void fuzzSmoke() {
        Random rnd = new Random(System.nanoTime());
        for (int i = 0; i < 50; i++) fuzzCase(rnd, Device.cpu());
    }
}
