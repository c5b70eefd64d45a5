package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static dev.align4j.testing.Close.poisoned;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.align4j.reference.EmbeddingReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class EmbeddingTest {
    /** {B, T, C, V, maxT}: empty batch, single token, V = 1, odd C, T = maxT, long rows, parallel-sized. */
    static final int[][] SHAPES = {{0, 3, 5, 7, 4}, {1, 1, 1, 1, 1}, {2, 5, 33, 1, 7}, {3, 7, 31, 11, 9},
            {1, 1, 769, 3, 2}, {4, 64, 129, 50, 64}, {2, 300, 17, 5, 301}, {3, 40, 300, 1000, 50},
            {4, 512, 520, 300, 512}};
    /** Token distributions: 0 uniform, 1 all one id (the scatter-add hot case), 2 a few ids, 3 ids ≡ mod 256. */
    static final int TOKEN_KINDS = 4;

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int[] s : SHAPES)
            for (int kind = 0; kind < TOKEN_KINDS; kind++)
                runCase(rnd, device, s[0], s[1], s[2], s[3], s[4], kind,
                        "seed " + seed + " shape " + Arrays.toString(s) + " tokens kind " + kind);
        backwardMatchesFiniteDifferences(rnd, device, "seed " + seed);
        deterministic(rnd, device, "seed " + seed);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int b = rnd.nextInt(4), t = 1 + rnd.nextInt(20), c = 1 + rnd.nextInt(70), v = 1 + rnd.nextInt(40);
        int maxT = t + rnd.nextInt(3);
        int kind = rnd.nextInt(TOKEN_KINDS);
        runCase(rnd, device, b, t, c, v, maxT, kind,
                "fuzz B=" + b + " T=" + t + " C=" + c + " V=" + v + " maxT=" + maxT + " kind " + kind);
    }

    static int[] tokens(Random rnd, int n, int v, int kind) {
        int[] tok = new int[n];
        int hot = rnd.nextInt(v);
        for (int i = 0; i < n; i++) {
            switch (kind) {
                case 1 -> tok[i] = hot;
                case 2 -> tok[i] = Math.min(v - 1, rnd.nextInt(3));
                case 3 -> tok[i] = (rnd.nextInt(Math.max(1, v / 256 + 1)) * 256) % v;
                default -> tok[i] = rnd.nextInt(v);
            }
        }
        return tok;
    }

    static void runCase(Random rnd, Device device, int b, int t, int c, int v, int maxT, int kind, String tag) {
        int[] tok = tokens(rnd, b * t, v, kind);
        float[] wte = gaussian(rnd, v * c, 1.0, 0.0);
        float[] wpe = gaussian(rnd, maxT * c, 0.1, 0.0);
        float[] dout = gaussian(rnd, b * t * c, 1.0, 0.0);
        float[] dwte0 = gaussian(rnd, v * c, 1.0, 0.0);
        float[] dwpe0 = gaussian(rnd, maxT * c, 1.0, 0.0);
        double[] ref = EmbeddingReference.forward(tok, EmbeddingReference.toDouble(wte), EmbeddingReference.toDouble(wpe), b, t, c);
        double[] refWte = EmbeddingReference.toDouble(dwte0), refWpe = EmbeddingReference.toDouble(dwpe0);
        EmbeddingReference.backward(dout, tok, b, t, c, refWte, refWpe);
        double[] l1Wte = abs(dwte0), l1Wpe = abs(dwpe0);
        EmbeddingReference.backwardL1(dout, tok, b, t, c, l1Wte, l1Wpe);
        try (Scope s = new Scope()) {
            Tensor tokT = s.of(device, tok, b, t);
            Tensor out = poisoned(s, device, b, t, c);
            Embedding.forward(tokT, s.of(device, wte, v, c), s.of(device, wpe, maxT, c), out);
            // a + b in float is the correctly rounded double sum
            Close.assertClose(tag + " out", ref, out.toFloatArray(), 0, 6e-8);
            Tensor dwte = s.of(device, dwte0, v, c);
            Tensor dwpe = s.of(device, dwpe0, maxT, c);
            Embedding.backward(s.of(device, dout, b, t, c), tokT, dwte, dwpe);
            assertWithin(tag + " dwte", refWte, l1Wte, dwte.toFloatArray());
            assertWithin(tag + " dwpe", refWpe, l1Wpe, dwpe.toFloatArray());
            // null gradients: the other one is still accumulated
            Tensor dwpe2 = s.of(device, dwpe0, maxT, c);
            Embedding.backward(s.of(device, dout, b, t, c), tokT, null, dwpe2);
            assertWithin(tag + " dwpe (dwte null)", refWpe, l1Wpe, dwpe2.toFloatArray());
        }
    }

    /** Float sums of k terms: error well under 1e-6·Σ|terms| for these sizes. */
    static void assertWithin(String what, double[] ref, double[] l1, float[] got) {
        for (int i = 0; i < ref.length; i++) Close.assertClose(what + "[" + i + "]", ref[i], got[i], 1e-6 * l1[i], 0);
    }

    static double[] abs(float[] x) {
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; i++) r[i] = Math.abs(x[i]);
        return r;
    }

    /** dwte, dwpe (from zero) against central differences of the reference loss Σ w·out (repeated tokens). */
    static void backwardMatchesFiniteDifferences(Random rnd, Device device, String tag) {
        int b = 2, t = 3, c = 5, v = 4, maxT = 4;
        int[] tok = {2, 0, 2, 2, 3, 2};
        double[] wte = new double[v * c], wpe = new double[maxT * c];
        for (int i = 0; i < wte.length; i++) wte[i] = rnd.nextGaussian();
        for (int i = 0; i < wpe.length; i++) wpe[i] = rnd.nextGaussian();
        float[] w = gaussian(rnd, b * t * c, 1.0, 0.0);
        double[] wd = EmbeddingReference.toDouble(w);
        double[] fdWte = FiniteDifference.all(wte, 1e-3, () -> EmbeddingReference.weightedLoss(tok, wte, wpe, wd, b, t, c));
        double[] fdWpe = FiniteDifference.all(wpe, 1e-3, () -> EmbeddingReference.weightedLoss(tok, wte, wpe, wd, b, t, c));
        try (Scope s = new Scope()) {
            Tensor dwte = s.zeros(device, DType.F32, v, c);
            Tensor dwpe = s.zeros(device, DType.F32, maxT, c);
            Embedding.backward(s.of(device, w, b, t, c), s.of(device, tok, b, t), dwte, dwpe);
            Close.assertClose(tag + " dwte vs finite differences", fdWte, dwte.toFloatArray(), 1e-6, 1e-6);
            Close.assertClose(tag + " dwpe vs finite differences", fdWpe, dwpe.toFloatArray(), 1e-6, 1e-6);
        }
    }

    /** The backward is bitwise reproducible (no atomics): same inputs, same bits, hot tokens included. */
    static void deterministic(Random rnd, Device device, String tag) {
        int b = 4, t = 300, c = 900, v = 50;
        int[] tok = tokens(rnd, b * t, v, 2);
        float[] dout = gaussian(rnd, b * t * c, 1.0, 0.0);
        float[] first = null, firstPe = null;
        for (int run = 0; run < 2; run++) {
            try (Scope s = new Scope()) {
                Tensor dwte = s.zeros(device, DType.F32, v, c);
                Tensor dwpe = s.zeros(device, DType.F32, t, c);
                Embedding.backward(s.of(device, dout, b, t, c), s.of(device, tok, b, t), dwte, dwpe);
                if (run == 0) {
                    first = dwte.toFloatArray();
                    firstPe = dwpe.toFloatArray();
                } else {
                    assertArrayEquals(first, dwte.toFloatArray(), tag + " dwte differs between runs");
                    assertArrayEquals(firstPe, dwpe.toFloatArray(), tag + " dwpe differs between runs");
                }
            }
        }
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor tok = s.of(cpu, new int[] {0, 1, 2, 1}, 2, 2);
            Tensor wte = s.zeros(cpu, DType.F32, 3, 4);
            Tensor wpe = s.zeros(cpu, DType.F32, 2, 4);
            Tensor out = s.empty(cpu, DType.F32, 2, 2, 4);
            Embedding.forward(tok, wte, wpe, out);
            assertThrowsNaming("tokens", () -> Embedding.forward((Tensor) null, wte, wpe, out));
            assertThrowsNaming("tokens", () -> Embedding.forward(s.zeros(cpu, DType.F32, 2, 2), wte, wpe, out));
            assertThrowsNaming("tokens[2]", () -> Embedding.forward(s.of(cpu, new int[] {0, 1, 3, 1}, 2, 2), wte, wpe, out));
            assertThrowsNaming("tokens[1]", () -> Embedding.forward(s.of(cpu, new int[] {0, -1, 0, 1}, 2, 2), wte, wpe, out));
            assertThrowsNaming("wte", () -> Embedding.forward(tok, s.zeros(cpu, DType.F32, 12), wpe, out));
            assertThrowsNaming("wpe", () -> Embedding.forward(tok, wte, s.zeros(cpu, DType.F32, 2, 5), out));
            assertThrowsNaming("wpe", () -> Embedding.forward(tok, wte, s.zeros(cpu, DType.F32, 1, 4), out));
            assertThrowsNaming("out", () -> Embedding.forward(tok, wte, wpe, s.empty(cpu, DType.F32, 2, 2, 3)));
            Tensor dout = s.zeros(cpu, DType.F32, 2, 2, 4);
            assertThrowsNaming("dout", () -> Embedding.backward(null, tok, wte, wpe));
            assertThrowsNaming("dout", () -> Embedding.backward(s.zeros(cpu, DType.F32, 2, 3, 4), tok, wte, wpe));
            assertThrowsNaming("dwte", () -> Embedding.backward(dout, tok, s.zeros(cpu, DType.F32, 3, 5), wpe));
            assertThrowsNaming("dwpe", () -> Embedding.backward(dout, tok, wte, s.zeros(cpu, DType.F32, 1, 4)));
            assertThrowsNaming("tokens[0]", () -> Embedding.backward(dout, s.of(cpu, new int[] {7, 1, 2, 1}, 2, 2), wte, wpe));
            Tensor closed = s.zeros(cpu, DType.F32, 3, 4);
            closed.close();
            assertThrowsNaming("wte", () -> Embedding.forward(tok, closed, wpe, out));
        }
    }
}
