package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.reference.GradNormReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GradNormTest {
    /** Sizes around the 65536-element chunk, odd, and several chunks. */
    static final int[] SIZES = {0, 1, 31, 33, 1000, 65_535, 65_536, 65_537, 300_007};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int n : SIZES) {
            float[] g = gaussian(rnd, n, Math.exp(3 * rnd.nextGaussian()), 0.0);
            double norm = GradNormReference.norm(g);
            String tag = "seed " + seed + " n " + n;
            runCase(device, g, (float) (0.5 * norm + 1e-3), tag + " clipping");   // norm > max
            runCase(device, g, (float) (2 * norm + 1e-3), tag + " not clipping"); // norm < max
            runCase(device, g, Float.POSITIVE_INFINITY, tag + " max +inf");
        }
        // Hard values: squares that overflow float (the double sum keeps them), a NaN, an inf.
        float[] big = gaussian(rnd, 1000, 1e20, 0.0);
        runCase(device, big, 1.0f, "seed " + seed + " |g| ~ 1e20");
        float[] nan = gaussian(rnd, 100, 1.0, 0.0);
        nan[37] = Float.NaN;
        runCase(device, nan, 1.0f, "NaN gradient");
        float[] inf = gaussian(rnd, 100, 1.0, 0.0);
        inf[5] = Float.NEGATIVE_INFINITY;
        runCase(device, inf, 1.0f, "inf gradient");
        deterministic(rnd, device, "seed " + seed);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int n = rnd.nextInt(rnd.nextBoolean() ? 100 : 5000);
        float[] g = gaussian(rnd, n, Math.exp(2 * rnd.nextGaussian()), 0.0);
        double norm = GradNormReference.norm(g);
        float max = (float) (norm * Math.exp(rnd.nextGaussian()) + 1e-3);
        runCase(device, g, max, "fuzz n=" + n + " max " + max);
    }

    static void runCase(Device device, float[] g, float maxNorm, String tag) {
        double norm = GradNormReference.norm(g);
        double scale = GradNormReference.scale((float) norm, maxNorm);
        try (Scope s = new Scope()) {
            Tensor gt = s.of(device, g, g.length);
            GradNorm.Result r = GradNorm.compute(gt, maxNorm);
            Close.assertClose(tag + " norm", norm, r.norm(), 0, 2e-7);
            Close.assertClose(tag + " scale", scale, r.scale(), 0, 5e-7);
            Tensor out = s.empty(device, DType.F32, 2);
            GradNorm.compute(gt, maxNorm, s.empty(device, DType.F64, GradNorm.workSize(g.length)), out);
            float[] o = out.toFloatArray();
            assertEquals(r.norm(), o[0], tag + " device-resident norm");
            assertEquals(r.scale(), o[1], tag + " device-resident scale");
        }
    }

    static void deterministic(Random rnd, Device device, String tag) {
        float[] g = gaussian(rnd, 500_000, 1.0, 0.0);
        GradNorm.Result a, b;
        try (Scope s = new Scope()) {
            Tensor gt = s.of(device, g, g.length);
            a = GradNorm.compute(gt, 1.0f);
            b = GradNorm.compute(gt, 1.0f);
        }
        assertEquals(a, b, tag + " norm differs between runs");
    }

    @Test
    void convenienceAndByHand() {
        GradNorm.Result r = GradNorm.compute(new float[] {3, 4}, 1.0f);
        assertEquals(5.0f, r.norm());
        assertEquals((float) (1.0 / (5 + 1e-6)), r.scale(), 1e-7);
        assertEquals(1.0f, GradNorm.compute(new float[] {3, 4}, 10.0f).scale());
        GradNorm.Result empty = GradNorm.compute(new float[0], 1.0f);
        assertEquals(0.0f, empty.norm());
        assertEquals(1.0f, empty.scale());
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor g = s.zeros(cpu, DType.F32, 10);
            Tensor out = s.empty(cpu, DType.F32, 2);
            assertThrowsNaming("grads", () -> GradNorm.compute((Tensor) null, 1.0f));
            assertThrowsNaming("grads", () -> GradNorm.compute(s.zeros(cpu, DType.I32, 3), 1.0f));
            assertThrowsNaming("maxNorm", () -> GradNorm.compute(g, 0.0f));
            assertThrowsNaming("maxNorm", () -> GradNorm.compute(g, Float.NaN));
            assertThrowsNaming("out", () -> GradNorm.compute(g, 1.0f, s.empty(cpu, DType.F32, 3)));
            assertThrowsNaming("work", () -> GradNorm.compute(g, 1.0f, s.empty(cpu, DType.F32, 1), out));
            assertThrowsNaming("work", () -> GradNorm.compute(g, 1.0f, s.empty(cpu, DType.F64, 0), out));
            assertThrowsNaming("grads", () -> GradNorm.compute((float[]) null, 1.0f));
        }
    }
}
