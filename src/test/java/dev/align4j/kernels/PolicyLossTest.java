package dev.align4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.kernels.PolicyLoss.Aggregation;
import dev.align4j.kernels.PolicyLoss.Config;
import dev.align4j.reference.PolicyLossReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.Rand;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

public class PolicyLossTest {
    /** One random batch; ratios avoid the clip and cap boundaries by 1e-3 so branches are unambiguous. */
    record Case(int b, int t, float[] logpNew, float[] logpOld, float[] adv, float[] mask, Config config) {
        static Case draw(Random rnd, int b, int t, Config config, double maskP, boolean emptyRows) {
            int n = b * t;
            float[] lnew = new float[n], lold = new float[n], adv = new float[n], mask = new float[n];
            for (int i = 0; i < n; i++) {
                lold[i] = (float) (-0.05 - 3 * Math.abs(rnd.nextGaussian()));
                double rho;
                do {
                    lnew[i] = (float) (lold[i] + 0.3 * rnd.nextGaussian());  // many ratios outside [0.8, 1.2]
                    rho = Math.exp((double) lnew[i] - lold[i]);
                } while (nearBoundary(rho, config));
                adv[i] = (float) rnd.nextGaussian();  // both signs
                mask[i] = rnd.nextDouble() < maskP ? 1f : 0f;
            }
            if (emptyRows)
                for (int r = 0; r < b; r += 3) Arrays.fill(mask, r * t, (r + 1) * t, 0f);  // all-masked rows
            return new Case(b, t, lnew, lold, adv, mask, config);
        }

        static boolean nearBoundary(double rho, Config c) {
            double tol = 1e-3;
            return Math.abs(rho - (1 - (double) c.epsLow())) < tol || Math.abs(rho - (1 + (double) c.epsHigh())) < tol
                    || (c.dualClipEnabled() && Math.abs(rho - c.dualClip()) < tol);
        }

        PolicyLossReference.Out reference() {
            return PolicyLossReference.compute(d(logpNew), d(logpOld), d(adv), d(mask), b, t, config.epsLow(),
                    config.epsHigh(), config.dualClipEnabled() ? config.dualClip() : 0, config.aggregation().ordinal());
        }

        String describe(long seed) {
            return "seed " + seed + ", B=" + b + ", T=" + t + ", " + config;
        }
    }

    static double[] d(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i];
        return y;
    }

    /** Runs the kernel on {@code device} into a poisoned gradient and checks it against the reference. */
    static void run(Device device, Case c, String what, int fdSamples, Random rnd) {
        PolicyLossReference.Out ref = c.reference();
        float[] grad;
        PolicyLoss.Stats st;
        try (Scope s = new Scope()) {
            Tensor dlogp = s.of(device, Rand.filled(c.b * c.t, Close.POISON), c.b, c.t);
            st = PolicyLoss.compute(s.of(device, c.logpNew, c.b, c.t), s.of(device, c.logpOld, c.b, c.t),
                    s.of(device, c.adv, c.b, c.t), s.of(device, c.mask, c.b, c.t), c.config, dlogp);
            grad = dlogp.toFloatArray();
        }
        double gscale = 0;
        for (double g : ref.dlogpNew()) gscale = Math.max(gscale, Math.abs(g));
        Close.assertClose(what + " loss", ref.loss(), st.loss(), 1e-6, 1e-5);
        Close.assertClose(what + " clipfrac", ref.clipFrac(), st.clipFrac(), 1e-6, 1e-6);
        Close.assertClose(what + " approxkl k1", ref.approxKlK1(), st.approxKlK1(), 1e-6, 1e-5);
        Close.assertClose(what + " approxkl k3", ref.approxKlK3(), st.approxKlK3(), 1e-6, 1e-4);
        Close.assertClose(what + " dualclipfrac", ref.dualClipFrac(), st.dualClipFrac(), 1e-6, 1e-6);
        assertEquals(ref.tokens(), st.tokens(), what + " tokens");
        Close.assertClose(what + " dlogpNew", ref.dlogpNew(), grad, 1e-6 * gscale + 1e-12, 1e-5);
        for (int i = 0; i < grad.length; i++)
            if (c.mask[i] == 0) assertEquals(0f, grad[i], what + " dlogpNew[" + i + "] off the mask");
        checkFiniteDifferences(c, grad, gscale, what, fdSamples, rnd);
    }

    /** Central differences of the reference loss at sampled tokens (masked ones included), against the kernel. */
    static void checkFiniteDifferences(Case c, float[] grad, double gscale, String what, int samples, Random rnd) {
        int n = c.b * c.t;
        if (n == 0) return;
        double[] lnew = d(c.logpNew), lold = d(c.logpOld), adv = d(c.adv), mask = d(c.mask);
        double dual = c.config.dualClipEnabled() ? c.config.dualClip() : 0;
        int agg = c.config.aggregation().ordinal();
        double h = 1e-5;
        for (int k = 0; k < Math.min(samples, n); k++) {
            int i = samples >= n ? k : rnd.nextInt(n);
            double x = lnew[i];
            lnew[i] = x + h;
            double up = PolicyLossReference.loss(lnew, lold, adv, mask, c.b, c.t, c.config.epsLow(), c.config.epsHigh(), dual, agg);
            lnew[i] = x - h;
            double down = PolicyLossReference.loss(lnew, lold, adv, mask, c.b, c.t, c.config.epsLow(), c.config.epsHigh(), dual, agg);
            lnew[i] = x;
            Close.assertClose(what + " finite difference dlogpNew[" + i + "]", (up - down) / (2 * h), grad[i],
                    1e-6 * gscale + 1e-9, 1e-4);
        }
    }

    static Config randomConfig(Random rnd) {
        Config c = Config.DEFAULT.withEps(0.1f + 0.2f * rnd.nextFloat(), 0.1f + 0.3f * rnd.nextFloat());
        if (rnd.nextBoolean()) c = c.withDualClip(1.5f + 2 * rnd.nextFloat());
        return c.withAggregation(rnd.nextBoolean() ? Aggregation.TOKEN_MEAN : Aggregation.SEQUENCE_MEAN);
    }

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int[][] shapes = {{0, 5}, {1, 1}, {1, 7}, {3, 1}, {5, 37}, {7, 33}, {2, 257}, {4, 1024}};
        for (int[] bt : shapes)
            for (Aggregation agg : Aggregation.values())
                for (float dual : new float[] {0f, 2.5f}) {
                    Config config = Config.DEFAULT.withEps(0.2f, 0.28f).withDualClip(dual).withAggregation(agg);
                    for (boolean emptyRows : new boolean[] {false, true}) {
                        Case c = Case.draw(rnd, bt[0], bt[1], config, 0.8, emptyRows);
                        run(device, c, c.describe(seed) + (emptyRows ? ", empty rows" : ""), 24, rnd);
                    }
                }
        // Nothing masked anywhere: loss, metrics and gradient are all 0.
        for (Aggregation agg : Aggregation.values()) {
            Case none = Case.draw(rnd, 3, 9, Config.DEFAULT.withAggregation(agg), 0.0, false);
            run(device, none, none.describe(seed) + ", no tokens", 5, rnd);
        }
        // A PPO-sized batch (B=256, T=1024): batch sums over 262k tokens.
        Case big = Case.draw(rnd, 256, 1024, randomConfig(rnd), 0.7, true);
        run(device, big, big.describe(seed) + ", large", 16, rnd);
    }

    @Test
    void handComputedCases() {
        // A = 1, ρ = e^{0.5} > 1.2: clipped, loss −1.2, gradient 0. A = −1, ρ = e^{1.5} ≈ 4.48 > c = 3: capped at 3.
        float[] lold = {-1f, -2f};
        float[] lnew = {-0.5f, -0.5f};
        float[] adv = {1f, -1f};
        float[] mask = {1f, 1f};
        PolicyLoss.HostResult r = PolicyLoss.compute(lnew, lold, adv, mask, 2, 1, Config.DEFAULT.withDualClip(3f));
        Close.assertClose("loss", (-1.2 + 3.0) / 2, r.stats().loss(), 1e-6, 1e-6);
        Close.assertClose("clipfrac", 0.5, r.stats().clipFrac(), 0, 0);  // only the A > 0 token takes clip(ρ)
        Close.assertClose("dualclipfrac", 0.5, r.stats().dualClipFrac(), 0, 0);
        Close.assertClose("dlogpNew", new double[] {0, 0}, r.dlogpNew(), 0, 0);
        // Inside the range: gradient −A·ρ / N.
        PolicyLoss.HostResult in = PolicyLoss.compute(new float[] {-1f}, new float[] {-1f}, new float[] {2f},
                new float[] {1f}, 1, 1, Config.DEFAULT);
        Close.assertClose("loss in range", -2, in.stats().loss(), 1e-7, 0);
        Close.assertClose("dlogpNew in range", -2, in.dlogpNew()[0], 1e-7, 0);
        assertEquals(1, in.stats().tokens());
    }

    @Test
    void sequenceMeanWeighsSequencesEqually() {
        // Row 0: one token with loss −1; row 1: three tokens with loss −3 each (ρ = 1). Sequence-mean: −2.
        float[] z = new float[8];
        float[] adv = {1, 0, 0, 0, 3, 3, 3, 0};
        float[] mask = {1, 0, 0, 0, 1, 1, 1, 0};
        PolicyLoss.HostResult seq = PolicyLoss.compute(z, z, adv, mask, 2, 4, Config.DEFAULT.withAggregation(Aggregation.SEQUENCE_MEAN));
        PolicyLoss.HostResult tok = PolicyLoss.compute(z, z, adv, mask, 2, 4, Config.DEFAULT);
        Close.assertClose("sequence-mean loss", -2, seq.stats().loss(), 1e-6, 0);
        Close.assertClose("token-mean loss", -2.5, tok.stats().loss(), 1e-6, 0);
        Close.assertClose("sequence-mean grad", new double[] {-0.5, 0, 0, 0, -0.5, -0.5, -0.5, 0}, seq.dlogpNew(), 1e-7, 0);
    }

    @Test
    void resultIsOwnedByTheCallersScope() {
        Random rnd = new Random(System.nanoTime());
        Case c = Case.draw(rnd, 2, 5, Config.DEFAULT, 1.0, false);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor a = s.of(cpu, c.logpNew, 2, 5), b = s.of(cpu, c.logpOld, 2, 5), v = s.of(cpu, c.adv, 2, 5),
                    m = s.of(cpu, c.mask, 2, 5);
            int before = s.liveCount();
            try (PolicyLoss.Result r = PolicyLoss.compute(s, a, b, v, m, Config.DEFAULT)) {
                assertEquals(before + 1, s.liveCount(), "only dlogpNew is added to the caller's scope");
                Close.assertClose("loss", c.reference().loss(), r.stats().loss(), 1e-6, 1e-5);
            }
            assertEquals(before, s.liveCount());
        }
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(cpu, Rand.filled(6, -1f), 2, 3);
            Tensor adv = s.of(cpu, Rand.filled(6, 0.5f), 2, 3);
            Tensor m = s.of(cpu, Rand.filled(6, 1f), 2, 3);
            Tensor out = s.empty(cpu, DType.F32, 2, 3);
            Config cfg = Config.DEFAULT;
            throwsNaming(IllegalArgumentException.class, "logpOld",
                    () -> PolicyLoss.compute(x, s.of(cpu, Rand.filled(8, -1f), 2, 4), adv, m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "advantages",
                    () -> PolicyLoss.compute(x, x, s.of(cpu, Rand.filled(6, 1f), 3, 2), m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "logpNew",
                    () -> PolicyLoss.compute(s.of(cpu, Rand.filled(6, -1f)), x, adv, m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "dlogpNew",
                    () -> PolicyLoss.compute(x, x, adv, m, cfg, s.empty(cpu, DType.F32, 3, 2)));
            throwsNaming(IllegalArgumentException.class, "mask",
                    () -> PolicyLoss.compute(x, x, adv, s.empty(cpu, DType.I32, 2, 3).zero(), cfg, out));
            throwsNaming(IllegalArgumentException.class, "mask[4]",
                    () -> PolicyLoss.compute(x, x, adv, s.of(cpu, new float[] {1, 0, 1, 1, Float.NaN, 1}, 2, 3), cfg, out));
            throwsNaming(IllegalArgumentException.class, "mask[1]",
                    () -> PolicyLoss.compute(x, x, adv, s.of(cpu, new float[] {1, 0.5f, 1, 1, 1, 1}, 2, 3), cfg, out));
            throwsNaming(IllegalArgumentException.class, "advantages[2]",
                    () -> PolicyLoss.compute(x, x, s.of(cpu, new float[] {1, 1, Float.NaN, 1, 1, 1}, 2, 3), m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "logpOld[0]",
                    () -> PolicyLoss.compute(x, s.of(cpu, new float[] {Float.NEGATIVE_INFINITY, 1, 1, 1, 1, 1}, 2, 3), adv, m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "config", () -> PolicyLoss.compute(x, x, adv, m, null, out));
            throwsNaming(IllegalArgumentException.class, "mask", () -> PolicyLoss.compute(x, x, adv, null, cfg, out));
            Tensor closed = s.of(cpu, Rand.filled(6, -1f), 2, 3);
            closed.close();
            throwsNaming(IllegalStateException.class, "logpOld", () -> PolicyLoss.compute(x, closed, adv, m, cfg, out));
            throwsNaming(IllegalStateException.class, "logpNew", () -> PolicyLoss.compute(s, closed, x, adv, m, cfg));
        }
        throwsNaming(IllegalArgumentException.class, "epsLow", () -> Config.DEFAULT.withEps(-0.1f, 0.2f));
        throwsNaming(IllegalArgumentException.class, "epsHigh", () -> Config.DEFAULT.withEps(0.2f, -0.1f));
        throwsNaming(IllegalArgumentException.class, "epsHigh", () -> Config.DEFAULT.withEps(0.2f, Float.NaN));
        throwsNaming(IllegalArgumentException.class, "dualClip", () -> Config.DEFAULT.withDualClip(1f));
        throwsNaming(IllegalArgumentException.class, "dualClip", () -> Config.DEFAULT.withDualClip(0.5f));
        throwsNaming(IllegalArgumentException.class, "dualClip", () -> Config.DEFAULT.withDualClip(Float.NaN));
        throwsNaming(IllegalArgumentException.class, "aggregation", () -> Config.DEFAULT.withAggregation(null));
        throwsNaming(IllegalArgumentException.class, "advantages",
                () -> PolicyLoss.compute(new float[4], new float[4], new float[3], new float[4], 2, 2, Config.DEFAULT));
        // Off is any value <= 0.
        assertTrue(!Config.DEFAULT.withDualClip(-1f).dualClipEnabled());
    }

    static void throwsNaming(Class<? extends Throwable> type, String name, Executable e) {
        Throwable t = assertThrows(type, e);
        assertTrue(t.getMessage() != null && t.getMessage().contains(name),
                "message should name " + name + ": " + t.getMessage());
    }

    /** One random case for the central FuzzTest: random shape and options, kernel vs reference. */
    public static void fuzzCase(Random rnd, Device device) {
        long seed = rnd.nextLong();
        Random r = new Random(seed);
        Case c = Case.draw(r, r.nextInt(7), 1 + r.nextInt(70), randomConfig(r), 0.2 + 0.8 * r.nextDouble(), r.nextBoolean());
        run(device, c, "fuzz " + c.describe(seed), 4, r);
    }
}
