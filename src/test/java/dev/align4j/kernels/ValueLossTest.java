package dev.align4j.kernels;

import static dev.align4j.kernels.PolicyLossTest.d;
import static dev.align4j.kernels.PolicyLossTest.throwsNaming;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.kernels.PolicyLoss.Aggregation;
import dev.align4j.kernels.ValueLoss.Config;
import dev.align4j.reference.ValueLossReference;
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

public class ValueLossTest {
    /**
     * One random batch: V − V_old ~ N(0, 0.3) so many values are clipped; points within 1e-3 of the clip
     * edge |V − V_old| = ε or of the tie (V_clip − G)² = (V − G)² are redrawn so branches are unambiguous.
     */
    record Case(int b, int t, float[] values, float[] valuesOld, float[] returns, float[] mask, Config config) {
        static Case draw(Random rnd, int b, int t, Config config, double maskP, boolean emptyRows) {
            int n = b * t;
            float[] v = new float[n], vOld = new float[n], g = new float[n], mask = new float[n];
            double eps = config.epsV();
            for (int i = 0; i < n; i++) {
                do {
                    v[i] = (float) rnd.nextGaussian();
                    vOld[i] = (float) (v[i] + 0.3 * rnd.nextGaussian());
                    g[i] = (float) (v[i] + rnd.nextGaussian());
                } while (nearBoundary(v[i], vOld[i], g[i], eps));
                mask[i] = rnd.nextDouble() < maskP ? 1f : 0f;
            }
            if (emptyRows)
                for (int r = 0; r < b; r += 3) Arrays.fill(mask, r * t, (r + 1) * t, 0f);  // all-masked rows
            return new Case(b, t, v, vOld, g, mask, config);
        }

        static boolean nearBoundary(double v, double vOld, double g, double eps) {
            double tol = 1e-3;
            if (Math.abs(Math.abs(v - vOld) - eps) < tol) return true;
            double vClip = vOld + Math.max(-eps, Math.min(eps, v - vOld));
            return vClip != v && Math.abs((vClip - g) * (vClip - g) - (v - g) * (v - g)) < tol;
        }

        ValueLossReference.Out reference() {
            return ValueLossReference.compute(d(values), d(valuesOld), d(returns), d(mask), b, t, config.epsV(),
                    config.aggregation().ordinal());
        }

        String describe(long seed) {
            return "seed " + seed + ", B=" + b + ", T=" + t + ", " + config;
        }
    }

    static void run(Device device, Case c, String what, int fdSamples, Random rnd) {
        ValueLossReference.Out ref = c.reference();
        float[] grad;
        ValueLoss.Stats st;
        try (Scope s = new Scope()) {
            Tensor dv = s.of(device, Rand.filled(c.b * c.t, Close.POISON), c.b, c.t);
            st = ValueLoss.compute(s.of(device, c.values, c.b, c.t), s.of(device, c.valuesOld, c.b, c.t),
                    s.of(device, c.returns, c.b, c.t), s.of(device, c.mask, c.b, c.t), c.config, dv);
            grad = dv.toFloatArray();
        }
        double gscale = 0;
        for (double g : ref.dvalues()) gscale = Math.max(gscale, Math.abs(g));
        Close.assertClose(what + " loss", ref.loss(), st.loss(), 1e-6, 1e-5);
        Close.assertClose(what + " clipfrac", ref.clipFrac(), st.clipFrac(), 1e-6, 1e-6);
        assertEquals(ref.tokens(), st.tokens(), what + " tokens");
        Close.assertClose(what + " dvalues", ref.dvalues(), grad, 1e-6 * gscale + 1e-12, 1e-5);
        for (int i = 0; i < grad.length; i++)
            if (c.mask[i] == 0) assertEquals(0f, grad[i], what + " dvalues[" + i + "] off the mask");
        int n = c.b * c.t;
        if (n == 0) return;
        double[] v = d(c.values), vOld = d(c.valuesOld), g = d(c.returns), m = d(c.mask);
        int agg = c.config.aggregation().ordinal();
        double h = 1e-5;
        for (int k = 0; k < Math.min(fdSamples, n); k++) {
            int i = fdSamples >= n ? k : rnd.nextInt(n);
            double x = v[i];
            v[i] = x + h;
            double up = ValueLossReference.loss(v, vOld, g, m, c.b, c.t, c.config.epsV(), agg);
            v[i] = x - h;
            double down = ValueLossReference.loss(v, vOld, g, m, c.b, c.t, c.config.epsV(), agg);
            v[i] = x;
            Close.assertClose(what + " finite difference dvalues[" + i + "]", (up - down) / (2 * h), grad[i],
                    1e-6 * gscale + 1e-9, 1e-4);
        }
    }

    static Config randomConfig(Random rnd) {
        return new Config(0.05f + 0.4f * rnd.nextFloat(), rnd.nextBoolean() ? Aggregation.TOKEN_MEAN : Aggregation.SEQUENCE_MEAN);
    }

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int[][] shapes = {{0, 5}, {1, 1}, {1, 7}, {3, 1}, {5, 37}, {7, 33}, {2, 257}, {4, 1024}};
        for (int[] bt : shapes)
            for (Aggregation agg : Aggregation.values())
                for (boolean emptyRows : new boolean[] {false, true}) {
                    Case c = Case.draw(rnd, bt[0], bt[1], Config.DEFAULT.withAggregation(agg), 0.8, emptyRows);
                    run(device, c, c.describe(seed) + (emptyRows ? ", empty rows" : ""), 24, rnd);
                }
        for (Aggregation agg : Aggregation.values()) {
            Case none = Case.draw(rnd, 3, 9, Config.DEFAULT.withAggregation(agg), 0.0, false);
            run(device, none, none.describe(seed) + ", no tokens", 5, rnd);
        }
        Case big = Case.draw(rnd, 256, 1024, randomConfig(rnd), 0.7, true);
        run(device, big, big.describe(seed) + ", large", 16, rnd);
    }

    @Test
    void handComputedCases() {
        // Token 0: V = 1, V_old = 0, G = 0 → V_clip = 0.2; max(1, 0.04)/2 = 0.5, unclipped, grad V − G = 1.
        // Token 1: V = 1, V_old = 0, G = 2 → V_clip = 0.2; (V_clip − G)² = 3.24 > 1: clipped, loss 1.62, grad 0.
        ValueLoss.HostResult r = ValueLoss.compute(new float[] {1, 1}, new float[] {0, 0}, new float[] {0, 2},
                new float[] {1, 1}, 1, 2, Config.DEFAULT);
        Close.assertClose("loss", (0.5 + 1.62) / 2, r.stats().loss(), 1e-6, 1e-6);
        Close.assertClose("clipfrac", 0.5, r.stats().clipFrac(), 0, 0);
        Close.assertClose("dvalues", new double[] {0.5, 0}, r.dvalues(), 1e-7, 0);
        assertEquals(2, r.stats().tokens());
        // Within the clip range V_clip = V: a tie, so the unclipped gradient even when float rounding of
        // V_old + (V − V_old) would differ from V.
        // Here float(0.15 + float(3e-8 − 0.15)) = 0 ≠ 3e-8, and (0 − 0.5)² > (3e-8 − 0.5)² in float.
        ValueLoss.HostResult tie = ValueLoss.compute(new float[] {3e-8f}, new float[] {0.15f}, new float[] {0.5f},
                new float[] {1}, 1, 1, Config.DEFAULT);
        Close.assertClose("tie dvalues", 3e-8 - 0.5, tie.dvalues()[0], 1e-7, 0);
        Close.assertClose("tie clipfrac", 0, tie.stats().clipFrac(), 0, 0);
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(cpu, Rand.filled(6, 0.5f), 2, 3);
            Tensor m = s.of(cpu, Rand.filled(6, 1f), 2, 3);
            Tensor out = s.empty(cpu, DType.F32, 2, 3);
            Config cfg = Config.DEFAULT;
            throwsNaming(IllegalArgumentException.class, "valuesOld",
                    () -> ValueLoss.compute(x, s.of(cpu, Rand.filled(8, 0f), 2, 4), x, m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "returns",
                    () -> ValueLoss.compute(x, x, s.of(cpu, Rand.filled(6, 0f), 3, 2), m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "values",
                    () -> ValueLoss.compute(s.of(cpu, Rand.filled(6, 0f), 6), x, x, m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "dvalues",
                    () -> ValueLoss.compute(x, x, x, m, cfg, s.empty(cpu, DType.F32, 2, 2)));
            throwsNaming(IllegalArgumentException.class, "mask[3]",
                    () -> ValueLoss.compute(x, x, x, s.of(cpu, new float[] {1, 0, 1, Float.NaN, 1, 1}, 2, 3), cfg, out));
            throwsNaming(IllegalArgumentException.class, "mask[0]",
                    () -> ValueLoss.compute(x, x, x, s.of(cpu, new float[] {2, 0, 1, 1, 1, 1}, 2, 3), cfg, out));
            throwsNaming(IllegalArgumentException.class, "returns[5]",
                    () -> ValueLoss.compute(x, x, s.of(cpu, new float[] {1, 1, 1, 1, 1, Float.POSITIVE_INFINITY}, 2, 3), m, cfg, out));
            throwsNaming(IllegalArgumentException.class, "config", () -> ValueLoss.compute(x, x, x, m, null, out));
            Tensor closed = s.of(cpu, Rand.filled(6, 0f), 2, 3);
            closed.close();
            throwsNaming(IllegalStateException.class, "returns", () -> ValueLoss.compute(x, x, closed, m, cfg, out));
            throwsNaming(IllegalStateException.class, "values", () -> ValueLoss.compute(s, closed, x, x, m, cfg));
        }
        throwsNaming(IllegalArgumentException.class, "epsV", () -> Config.DEFAULT.withEpsV(-0.1f));
        throwsNaming(IllegalArgumentException.class, "epsV", () -> Config.DEFAULT.withEpsV(Float.POSITIVE_INFINITY));
        throwsNaming(IllegalArgumentException.class, "aggregation", () -> Config.DEFAULT.withAggregation(null));
        throwsNaming(IllegalArgumentException.class, "valuesOld",
                () -> ValueLoss.compute(new float[4], new float[5], new float[4], new float[4], 2, 2, Config.DEFAULT));
    }

    /** One random case for the central FuzzTest: random shape and options, kernel vs reference. */
    public static void fuzzCase(Random rnd, Device device) {
        long seed = rnd.nextLong();
        Random r = new Random(seed);
        Case c = Case.draw(r, r.nextInt(7), 1 + r.nextInt(70), randomConfig(r), 0.2 + 0.8 * r.nextDouble(), r.nextBoolean());
        run(device, c, "fuzz " + c.describe(seed), 4, r);
    }
}
