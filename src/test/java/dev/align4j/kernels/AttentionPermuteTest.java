package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static dev.align4j.testing.Close.poisoned;

import dev.align4j.reference.AttentionPermuteReference;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Random;

class AttentionPermuteTest {
    /** {B, T, NH, HS}: empty, one, odd, not multiples of 4 or 32, a row wider than a block. */
    static final int[][] SHAPES = {{0, 3, 2, 4}, {2, 0, 2, 4}, {1, 1, 1, 1}, {2, 5, 2, 8}, {3, 7, 3, 5}, {1, 33, 5, 7},
            {2, 17, 6, 64}};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int[] s : SHAPES) runCase(rnd, device, s[0], s[1], s[2], s[3], "seed " + seed + " " + java.util.Arrays.toString(s));
        badInputs(device);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int b = rnd.nextInt(4), t = rnd.nextInt(12), nh = 1 + rnd.nextInt(4), hs = 1 + rnd.nextInt(20);
        runCase(rnd, device, b, t, nh, hs, "fuzz B=" + b + " T=" + t + " NH=" + nh + " HS=" + hs);
    }

    static void runCase(Random rnd, Device device, int b, int t, int nh, int hs, String tag) {
        int c = nh * hs;
        float[] qkv = gaussian(rnd, b * t * 3 * c, 1.0, 0.0);
        float[] y = gaussian(rnd, b * nh * t * hs, 1.0, 0.0);
        try (Scope s = new Scope()) {
            Tensor q = poisoned(s, device, b, nh, t, hs), k = poisoned(s, device, b, nh, t, hs),
                    v = poisoned(s, device, b, nh, t, hs);
            Tensor qkvT = s.of(device, qkv, b, t, 3 * c);
            AttentionPermute.split(qkvT, nh, q, k, v);
            double[][] ref = AttentionPermuteReference.split(qkv, b, t, nh, hs);
            Close.assertClose(tag + " q", ref[0], q.toFloatArray(), 0, 0);
            Close.assertClose(tag + " k", ref[1], k.toFloatArray(), 0, 0);
            Close.assertClose(tag + " v", ref[2], v.toFloatArray(), 0, 0);
            Tensor back = poisoned(s, device, b, t, 3 * c);
            AttentionPermute.splitBackward(q, k, v, nh, back);
            Close.assertClose(tag + " split inverse", toDouble(qkv), back.toFloatArray(), 0, 0);

            Tensor yT = s.of(device, y, b, nh, t, hs);
            Tensor out = poisoned(s, device, b, t, c);
            AttentionPermute.merge(yT, out);
            Close.assertClose(tag + " merge", AttentionPermuteReference.merge(y, b, nh, t, hs), out.toFloatArray(), 0, 0);
            Tensor dy = poisoned(s, device, b, nh, t, hs);
            AttentionPermute.mergeBackward(out, dy);
            Close.assertClose(tag + " merge inverse", toDouble(y), dy.toFloatArray(), 0, 0);
        }
    }

    static void badInputs(Device device) {
        try (Scope s = new Scope()) {
            Tensor qkv = s.zeros(device, dev.align4j.tensor.DType.F32, 2, 3, 12);
            Tensor q = s.zeros(device, dev.align4j.tensor.DType.F32, 2, 2, 3, 2);
            Tensor wrong = s.zeros(device, dev.align4j.tensor.DType.F32, 2, 2, 3, 3);
            assertThrowsNaming("nHead", () -> AttentionPermute.split(qkv, 0, q, q, q));
            assertThrowsNaming("qkv", () -> AttentionPermute.split(qkv, 3, q, q, q));
            assertThrowsNaming("v", () -> AttentionPermute.split(qkv, 2, q, q, wrong));
            assertThrowsNaming("dqkv", () -> AttentionPermute.splitBackward(q, q, q, 2, s.zeros(device, dev.align4j.tensor.DType.F32, 2, 3)));
            assertThrowsNaming("out", () -> AttentionPermute.merge(q, s.zeros(device, dev.align4j.tensor.DType.F32, 2, 3, 5)));
            assertThrowsNaming("dout", () -> AttentionPermute.mergeBackward(s.zeros(device, dev.align4j.tensor.DType.F32, 2, 3, 5), q));
        }
    }

    private static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
