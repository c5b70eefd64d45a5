package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.reference.AdamWReference;
import dev.align4j.reference.EmbeddingReference;
import dev.align4j.reference.GradNormReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AdamWTest {
    /** Sizes: empty, one, around a warp, several host chunks (32768) and GPU chunks (2048), not multiples of 32. */
    static final int[] SIZES = {0, 1, 31, 33, 1000, 2049, 70_001, 100_003};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int n : SIZES)
            for (int mode = 0; mode < 4; mode++) runCase(rnd, device, n, 5, mode, "seed " + seed + " n " + n + " mode " + mode);
        firstStepByHand(device);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int n = rnd.nextInt(rnd.nextBoolean() ? 40 : 3000);
        int mode = rnd.nextInt(4);
        runCase(rnd, device, n, 1 + rnd.nextInt(3), mode, "fuzz n=" + n + " mode " + mode);
    }

    /** Random sorted, disjoint decay ranges over [0, n) (some empty, some adjacent). */
    static List<AdamW.Range> ranges(Random rnd, int n) {
        List<AdamW.Range> r = new ArrayList<>();
        long pos = 0;
        while (pos < n && r.size() < 6) {
            long off = pos + rnd.nextInt((int) Math.min(n - pos, 500) + 1);
            long len = rnd.nextInt((int) Math.min(n - off, 2000) + 1);
            r.add(new AdamW.Range(off, len));
            pos = off + len;
        }
        return r;
    }

    /**
     * {@code steps} steps against the reference run independently in double. mode 0: decay all, no scaling;
     * 1: decay ranges, host scale; 2: decay ranges + GradNorm's device clip factor (clipping active);
     * 3: no decay, clip factor 1 (norm below max), β2 = 0.999.
     */
    static void runCase(Random rnd, Device device, int n, int steps, int mode, String tag) {
        float lr = (float) (1e-3 * Math.exp(rnd.nextGaussian()));
        AdamW.Config cfg = mode == 3 ? new AdamW.Config(lr, 0.9f, 0.999f, 1e-8f, 0.01f)
                : new AdamW.Config(lr, 0.8f + 0.19f * rnd.nextFloat(), 0.95f, (float) Math.pow(10, -8 + 2 * rnd.nextDouble()),
                        0.1f * rnd.nextFloat());
        List<AdamW.Range> decay = mode == 0 ? null : mode == 3 ? List.of() : ranges(rnd, n);
        boolean[] decayMask = new boolean[n];
        for (int i = 0; i < n; i++) decayMask[i] = decay == null;
        if (decay != null) for (AdamW.Range r : decay) for (long i = r.offset(); i < r.offset() + r.length(); i++) decayMask[(int) i] = true;
        float[] p0 = gaussian(rnd, n, 0.5, 0.0);
        double[] p = EmbeddingReference.toDouble(p0), m = new double[n], v = new double[n];
        String cfgTag = tag + " " + cfg;
        try (Scope s = new Scope()) {
            Tensor pt = s.of(device, p0, n);
            Tensor gt = s.empty(device, DType.F32, n);
            Tensor mt = s.zeros(device, DType.F32, n);
            Tensor vt = s.zeros(device, DType.F32, n);
            Tensor clip = s.empty(device, DType.F32, 2);
            double gmax = 0;  // m and v round at the scale of the largest gradient so far, not at their own
            for (int step = 1; step <= steps; step++) {
                float[] g = gaussian(rnd, n, Math.exp(rnd.nextGaussian()), 0.0);
                gt.copyFrom(g);
                double scale = 1;
                if (mode == 0) {
                    AdamW.step(pt, gt, mt, vt, cfg, step);
                } else if (mode == 1) {
                    float hs = 0.25f + rnd.nextFloat();
                    scale = hs;
                    AdamW.step(pt, gt, mt, vt, cfg, step, hs, null, decay);
                } else {
                    double norm = GradNormReference.norm(g);
                    float maxNorm = (float) (mode == 2 ? 0.3 * norm + 1e-3 : 2 * norm + 1);
                    GradNorm.compute(gt, maxNorm, clip);
                    scale = clip.toFloatArray()[1];  // the factor itself is GradNormTest's business
                    AdamW.step(pt, gt, mt, vt, cfg, step, 1.0f, clip, decay);
                }
                AdamWReference.step(p, g, m, v, cfg.lr(), cfg.beta1(), cfg.beta2(), cfg.eps(), cfg.weightDecay(), step,
                        scale, decayMask);
                for (float x : g) gmax = Math.max(gmax, Math.abs(x * scale));
                String st = cfgTag + " step " + step;
                // Adam moves each parameter by about lr per step; float error is ~1e-6 of that move per step.
                Close.assertClose(st + " params", p, pt.toFloatArray(), 1e-5 * lr * step, 1e-6 * step);
                Close.assertClose(st + " m", m, mt.toFloatArray(), 2e-7 * gmax * step, 1e-6 * step);
                Close.assertClose(st + " v", v, vt.toFloatArray(), 2e-7 * gmax * gmax * step, 1e-6 * step);
            }
        }
    }

    /** Step 1 by hand: m̂ = g, v̂ = g², so p ← p(1 − lr·wd) − lr·g/(|g| + eps). */
    static void firstStepByHand(Device device) {
        try (Scope s = new Scope()) {
            Tensor p = s.of(device, new float[] {1f, -2f, 0.5f}, 3);
            Tensor g = s.of(device, new float[] {0.5f, -4f, 1e-3f}, 3);
            Tensor m = s.zeros(device, DType.F32, 3), v = s.zeros(device, DType.F32, 3);
            AdamW.step(p, g, m, v, new AdamW.Config(0.1f, 0.9f, 0.95f, 1e-8f, 0.5f), 1);
            float[] got = p.toFloatArray();
            assertEquals(1 * 0.95 - 0.1 * 0.5 / (0.5 + 1e-8), got[0], 1e-6);
            assertEquals(-2 * 0.95 + 0.1 * 4 / (4 + 1e-8), got[1], 1e-6);
            assertEquals(0.5 * 0.95 - 0.1 * 1e-3 / (1e-3 + 1e-8), got[2], 1e-6);
        }
    }

    @Test
    void configDefaults() {
        AdamW.Config c = AdamW.Config.gpt2(6e-4f);
        assertEquals(0.9f, c.beta1());
        assertEquals(0.95f, c.beta2());
        assertEquals(1e-8f, c.eps());
        assertEquals(0.1f, c.weightDecay());
        assertEquals(3e-4f, c.withLr(3e-4f).lr());
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        AdamW.Config cfg = AdamW.Config.gpt2(1e-3f);
        assertThrowsNaming("beta1", () -> new AdamW.Config(1e-3f, 1.0f, 0.95f, 1e-8f, 0.1f));
        assertThrowsNaming("beta2", () -> new AdamW.Config(1e-3f, 0.9f, Float.NaN, 1e-8f, 0.1f));
        assertThrowsNaming("eps", () -> new AdamW.Config(1e-3f, 0.9f, 0.95f, 0f, 0.1f));
        assertThrowsNaming("lr", () -> new AdamW.Config(-1f, 0.9f, 0.95f, 1e-8f, 0.1f));
        assertThrowsNaming("weightDecay", () -> new AdamW.Config(1e-3f, 0.9f, 0.95f, 1e-8f, -0.1f));
        assertThrowsNaming("offset", () -> new AdamW.Range(-1, 3));
        try (Scope s = new Scope()) {
            Tensor p = s.zeros(cpu, DType.F32, 10), g = s.zeros(cpu, DType.F32, 2, 5);
            Tensor m = s.zeros(cpu, DType.F32, 10), v = s.zeros(cpu, DType.F32, 10);
            AdamW.step(p, g, m, v, cfg, 1);  // any shape with the same element count
            assertThrowsNaming("params", () -> AdamW.step(null, g, m, v, cfg, 1));
            assertThrowsNaming("grads", () -> AdamW.step(p, s.zeros(cpu, DType.F32, 9), m, v, cfg, 1));
            assertThrowsNaming("m", () -> AdamW.step(p, g, s.zeros(cpu, DType.I32, 10), v, cfg, 1));
            assertThrowsNaming("v", () -> AdamW.step(p, g, m, null, cfg, 1));
            assertThrowsNaming("step", () -> AdamW.step(p, g, m, v, cfg, 0));
            assertThrowsNaming("config", () -> AdamW.step(p, g, m, v, null, 1));
            assertThrowsNaming("clip", () -> AdamW.step(p, g, m, v, cfg, 1, 1f, s.zeros(cpu, DType.F32, 1), null));
            assertThrowsNaming("gradScale", () -> AdamW.step(p, g, m, v, cfg, 1, Float.NaN, null, null));
            assertThrowsNaming("decay[1]", () -> AdamW.step(p, g, m, v, cfg, 1, 1f, null,
                    List.of(new AdamW.Range(2, 3), new AdamW.Range(4, 1))));
            assertThrowsNaming("decay[0]", () -> AdamW.step(p, g, m, v, cfg, 1, 1f, null, List.of(new AdamW.Range(8, 3))));
        }
    }
}
