package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static dev.align4j.kernels.SeqReduceTest.mask;
import static dev.align4j.testing.Close.poisoned;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.reference.WhitenReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WhitenTest {
    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        SeqReduceTest.sweep(seed, (b, t, kind, tag) -> {
            for (boolean shift : new boolean[] {true, false})
                runCase(rnd, device, b, t, kind, shift, rnd.nextInt(4) == 0, tag + " shiftMean " + shift);
        });
        // One masked element: std = 0 and the output is 0 (not NaN).
        runCase(rnd, device, 1, 1, 2, true, false, "seed " + seed + " single element");
        runCase(rnd, device, 3, 5, 3, false, true, "seed " + seed + " nothing masked");
    }

    public static void fuzzCase(Random rnd, Device device) {
        int b = rnd.nextInt(7);
        int t = 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 300);
        int kind = rnd.nextInt(SeqReduceTest.MASK_KINDS);
        boolean shift = rnd.nextBoolean();
        runCase(rnd, device, b, t, kind, shift, rnd.nextBoolean(),
                "fuzz B=" + b + " T=" + t + " mask kind " + kind + " shiftMean " + shift);
    }

    static void runCase(Random rnd, Device device, int b, int t, int kind, boolean shift, boolean inPlace, String tag) {
        double offset = 5 * rnd.nextGaussian();
        double scale = 0.1 + 5 * rnd.nextDouble();
        float[] x = gaussian(rnd, b * t, scale, offset);
        float[] m = mask(rnd, b, t, kind);
        WhitenReference.Out want = WhitenReference.apply(x, m, shift);
        try (Scope s = new Scope()) {
            Tensor xt = s.of(device, x, b, t);
            Tensor out = inPlace ? xt : poisoned(s, device, b, t);
            Whiten.Stats st = Whiten.apply(xt, s.of(device, m, b, t), shift, out);
            double mean = want.mean(), std = want.std();
            Close.assertClose(tag + " mean", mean, st.mean(), 1e-7, 1e-6);
            Close.assertClose(tag + " std", std, st.std(), 1e-7, 1e-5);
            // float mean/std: x − mean loses ~eps·|mean|, amplified by 1/std
            double atol = std > 0 ? 1e-5 * (1 + Math.abs(mean)) * (1 + Math.abs(mean) / std) : 1e-6;
            Close.assertClose(tag + (inPlace ? " out (in place)" : " out"), want.out(), out.toFloatArray(), atol, 1e-5);
        }
    }

    @Test
    void convenienceAndDefaults() {
        Whiten.Whitened w = Whiten.apply(new float[] {1, 9, 3, 5}, new float[] {1, 0, 1, 1}, 2, true);
        assertEquals(3.0f, w.mean());
        assertEquals(2.0f, w.std());
        Close.assertClose("out", new double[] {-1, 0, 0, 1}, w.out(), 1e-6, 0);
        Whiten.Whitened k = Whiten.apply(new float[] {1, 9, 3, 5}, new float[] {1, 0, 1, 1}, 2, false);
        Close.assertClose("out + mean", new double[] {2, 0, 3, 4}, k.out(), 1e-6, 0);
        try (Scope s = new Scope()) {
            Device cpu = Device.cpu();
            Whiten.Result r = Whiten.apply(s, s.of(cpu, new float[] {1, 9, 3, 5}, 2, 2), s.of(cpu, new float[] {1, 0, 1, 1}, 2, 2));
            Close.assertClose("default shiftMean", new double[] {-1, 0, 0, 1}, r.out().toFloatArray(), 1e-6, 0);
        }
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(cpu, gaussian(new Random(9), 6, 1, 0), 2, 3);
            Tensor m = s.of(cpu, new float[] {1, 1, 0, 0, 1, 1}, 2, 3);
            assertThrowsNaming("x", () -> Whiten.apply(s, null, m));
            assertThrowsNaming("x", () -> Whiten.apply(s, s.of(cpu, new float[6]), m));
            assertThrowsNaming("x[3]", () -> Whiten.apply(s, s.of(cpu, new float[] {1, 1, 1, Float.NaN, 1, 1}, 2, 3), m));
            assertThrowsNaming("x", () -> Whiten.apply(s, s.zeros(cpu, DType.F64, 2, 3), m));
            assertThrowsNaming("mask", () -> Whiten.apply(s, x, null));
            assertThrowsNaming("mask", () -> Whiten.apply(s, x, s.of(cpu, new float[3], 3, 1)));
            assertThrowsNaming("mask[0]", () -> Whiten.apply(s, x, s.of(cpu, new float[] {0.5f, 1, 0, 0, 1, 1}, 2, 3)));
            assertThrowsNaming("out", () -> Whiten.apply(x, m, true, s.empty(cpu, DType.F32, 6)));
            assertThrowsNaming("out", () -> Whiten.apply(x, m, true, null));
            assertThrowsNaming("out", () -> Whiten.apply(x, m, true, m));
            assertThrowsNaming("mask", () -> Whiten.apply(new float[6], new float[4], 2, true));
            assertThrowsNaming("batch", () -> Whiten.apply(new float[6], new float[6], 4, true));
        }
    }
}
