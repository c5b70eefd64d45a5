package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static dev.align4j.kernels.SeqReduceTest.mask;
import static dev.align4j.testing.Close.poisoned;

import dev.align4j.reference.GaeReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GaeTest {
    /** (γ, λ) pairs: TRL's defaults, discounted, no bootstrap decay, one-step TD, Monte Carlo. */
    static final float[][] GAMMA_LAMBDA = {{1.0f, 0.95f}, {0.99f, 0.95f}, {1.0f, 1.0f}, {0.0f, 0.5f}, {0.9f, 0.0f},
            {0.7f, 0.3f}};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        SeqReduceTest.sweep(seed, (b, t, kind, tag) -> {
            float[] gl = GAMMA_LAMBDA[rnd.nextInt(GAMMA_LAMBDA.length)];
            runCase(rnd, device, b, t, kind, gl[0], gl[1], tag + " γ=" + gl[0] + " λ=" + gl[1]);
        });
        // Every (γ, λ) on a warp-straddling shape with non-contiguous masks, and long rows both ways.
        for (float[] gl : GAMMA_LAMBDA) runCase(rnd, device, 5, 97, 1, gl[0], gl[1], "seed " + seed + " γ=" + gl[0] + " λ=" + gl[1]);
        runCase(rnd, device, 2, 100_000, 0, 1.0f, 1.0f, "seed " + seed + " long contiguous γ=λ=1");
        runCase(rnd, device, 2, 100_000, 1, 1.0f, 0.95f, "seed " + seed + " long non-contiguous");
        handWorkedExample(device);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int b = rnd.nextInt(7);
        int t = 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 300);
        int kind = rnd.nextInt(SeqReduceTest.MASK_KINDS);
        float gamma = rnd.nextInt(4) == 0 ? 1.0f : rnd.nextFloat();
        float lambda = rnd.nextInt(4) == 0 ? 1.0f : rnd.nextFloat();
        runCase(rnd, device, b, t, kind, gamma, lambda,
                "fuzz B=" + b + " T=" + t + " mask kind " + kind + " γ=" + gamma + " λ=" + lambda);
    }

    static void runCase(Random rnd, Device device, int b, int t, int kind, float gamma, float lambda, String tag) {
        float[] r = gaussian(rnd, b * t, 0.5, 0.1);
        float[] v = gaussian(rnd, b * t, 1.0, 0.3);
        float[] m = mask(rnd, b, t, kind);
        double[][] ref = GaeReference.compute(r, v, m, b, t, gamma, lambda);
        double[] scale = magnitude(r, v, m, b, t, gamma, lambda);
        try (Scope s = new Scope()) {
            Tensor adv = poisoned(s, device, b, t);
            Tensor ret = poisoned(s, device, b, t);
            Gae.compute(s.of(device, r, b, t), s.of(device, v, b, t), s.of(device, m, b, t), gamma, lambda, adv, ret);
            float[] a = adv.toFloatArray();
            float[] g = ret.toFloatArray();
            for (int i = 0; i < b * t; i++) {
                // float scans lose ~eps per step relative to the l1 size of what they add up
                double atol = 1e-6 + 2e-6 * scale[i];
                double atolG = atol + 1e-6 * Math.abs(v[i]);
                // the message is built only on failure: long rows have 200k elements
                if (!(Math.abs(ref[0][i] - a[i]) <= atol + 1e-5 * Math.abs(ref[0][i])))
                    Close.assertClose(tag + " advantages[" + i + "]", ref[0][i], a[i], atol, 1e-5);
                if (!(Math.abs(ref[1][i] - g[i]) <= atolG + 1e-5 * Math.abs(ref[1][i])))
                    Close.assertClose(tag + " returns[" + i + "]", ref[1][i], g[i], atolG, 1e-5);
            }
        }
    }

    /** The recursion on absolute values: a bound on the size of every term that reaches A_t. */
    private static double[] magnitude(float[] r, float[] v, float[] m, int b, int t, double gamma, double lambda) {
        float[] ra = new float[r.length];
        float[] va = new float[v.length];
        for (int i = 0; i < r.length; i++) {
            ra[i] = Math.abs(r[i]) + 2 * Math.abs(v[i]);
            va[i] = 0;
        }
        return GaeReference.compute(ra, va, m, b, t, gamma, lambda)[0];
    }

    /** δ by hand: r = [0, 0, 1], V = 0.5 everywhere, γ = λ = 1, one masked-out hole that the scan skips. */
    static void handWorkedExample(Device device) {
        try (Scope s = new Scope()) {
            Gae.Result res = Gae.compute(s, s.of(device, new float[] {0, 9, 0, 1}, 1, 4),
                    s.of(device, new float[] {0.5f, 9, 0.5f, 0.5f}, 1, 4), s.of(device, new float[] {1, 0, 1, 1}, 1, 4),
                    1.0f, 1.0f);
            Close.assertClose("hand advantages", new double[] {0.5, 0, 0.5, 0.5}, res.advantages().toFloatArray(), 1e-7, 0);
            Close.assertClose("hand returns", new double[] {1, 0, 1, 1}, res.returns().toFloatArray(), 1e-7, 0);
        }
    }

    @Test
    void convenienceAndDefaults() {
        float[][] r = Gae.compute(new float[] {0, 0, 1}, new float[] {0.5f, 0.5f, 0.5f}, new float[] {1, 1, 1}, 1, 1, 1);
        Close.assertClose("advantages", new double[] {0.5, 0.5, 0.5}, r[0], 1e-7, 0);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Random rnd = new Random(7);
            float[] rw = gaussian(rnd, 20, 1, 0), v = gaussian(rnd, 20, 1, 0), m = mask(rnd, 2, 10, 1);
            Gae.Result res = Gae.compute(s, s.of(cpu, rw, 2, 10), s.of(cpu, v, 2, 10), s.of(cpu, m, 2, 10));
            Close.assertClose("defaults", GaeReference.compute(rw, v, m, 2, 10, 1.0, 0.95)[0],
                    res.advantages().toFloatArray(), 1e-6, 1e-5);
        }
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Random rnd = new Random(3);
            Tensor r = s.of(cpu, gaussian(rnd, 6, 1, 0), 2, 3);
            Tensor v = s.of(cpu, gaussian(rnd, 6, 1, 0), 2, 3);
            Tensor m = s.of(cpu, new float[] {1, 1, 0, 0, 1, 1}, 2, 3);
            Tensor a = s.empty(cpu, DType.F32, 2, 3);
            Tensor g = s.empty(cpu, DType.F32, 2, 3);
            assertThrowsNaming("gamma", () -> Gae.compute(s, r, v, m, 1.5f, 0.95f));
            assertThrowsNaming("gamma", () -> Gae.compute(s, r, v, m, -0.1f, 0.95f));
            assertThrowsNaming("lambda", () -> Gae.compute(s, r, v, m, 1.0f, Float.NaN));
            assertThrowsNaming("lambda", () -> Gae.compute(s, r, v, m, 1.0f, 1.01f));
            assertThrowsNaming("rewards", () -> Gae.compute(s, null, v, m));
            assertThrowsNaming("rewards", () -> Gae.compute(s, s.of(cpu, new float[6]), v, m));
            assertThrowsNaming("values", () -> Gae.compute(s, r, s.of(cpu, new float[9], 3, 3), m));
            assertThrowsNaming("values", () -> Gae.compute(s, r, null, m));
            assertThrowsNaming("mask", () -> Gae.compute(s, r, v, s.of(cpu, new float[3], 1, 3)));
            assertThrowsNaming("mask[2]", () -> Gae.compute(s, r, v, s.of(cpu, new float[] {1, 1, 2, 0, 0, 0}, 2, 3)));
            assertThrowsNaming("rewards[4]", () -> Gae.compute(s, s.of(cpu, new float[] {1, 1, 1, 1, Float.NaN, 1}, 2, 3), v, m));
            assertThrowsNaming("values[0]", () -> Gae.compute(s, r, s.of(cpu, new float[] {Float.POSITIVE_INFINITY, 1, 1, 1, 1, 1}, 2, 3), m));
            assertThrowsNaming("advantages", () -> Gae.compute(r, v, m, 1, 1, s.empty(cpu, DType.F32, 2, 2), g));
            assertThrowsNaming("returns", () -> Gae.compute(r, v, m, 1, 1, a, s.empty(cpu, DType.F64, 2, 3)));
            assertThrowsNaming("returns", () -> Gae.compute(r, v, m, 1, 1, a, a));
            assertThrowsNaming("alias", () -> Gae.compute(r, v, m, 1, 1, r, g));
            assertThrowsNaming("batch", () -> Gae.compute(new float[6], new float[6], new float[6], 0, 1, 1));
            assertThrowsNaming("values", () -> Gae.compute(new float[6], new float[5], new float[6], 2, 1, 1));
        }
    }
}
