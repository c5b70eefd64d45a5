package dev.align4j.model;

import static dev.align4j.testing.Close.poisoned;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.reference.GptReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Map;
import java.util.Random;

class ScalarHeadTest {
    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        standalone(device, rnd, 3, 7, 13, "seed " + seed);
        standalone(device, rnd, 1, 1, 1, "seed " + seed + " 1x1x1");
        onTheModel(device, rnd, "seed " + seed);
        badInputs(device);
    }

    /** Forward and backward (accumulating) against the double formulas. */
    static void standalone(Device device, Random rnd, int b, int t, int c, String tag) {
        int n = b * t;
        float[] h = gaussian(rnd, n * c), p = gaussian(rnd, c + 1), dv = gaussian(rnd, n), g0 = gaussian(rnd, c + 1);
        try (ScalarHead head = new ScalarHead(c, device); Scope s = new Scope()) {
            head.params().copyFrom(p);
            head.grads().copyFrom(g0);
            Tensor hidden = s.of(device, h, b, t, c);
            Tensor values = poisoned(s, device, b, t);
            head.forward(hidden, values);
            double[] ref = new double[n], dh = new double[n * c], g = new double[c + 1];
            for (int i = 0; i <= c; i++) g[i] = g0[i];
            for (int r = 0; r < n; r++) {
                double z = p[c];
                for (int k = 0; k < c; k++) {
                    z += (double) h[r * c + k] * p[k];
                    dh[r * c + k] = (double) dv[r] * p[k];
                    g[k] += (double) dv[r] * h[r * c + k];
                }
                g[c] += dv[r];
                ref[r] = z;
            }
            Close.assertClose(tag + " values", ref, values.toFloatArray(), 1e-5, 1e-5);
            Tensor dhidden = poisoned(s, device, b, t, c);
            head.backward(s.of(device, dv, b, t), hidden, dhidden);
            Close.assertClose(tag + " dhidden", dh, dhidden.toFloatArray(), 1e-6, 1e-5);
            Close.assertClose(tag + " grads (accumulated)", g, head.grads().toFloatArray(), 1e-5, 1e-5);
        }
    }

    /** L = Σ u·head(gpt.hidden()): the trunk's and the head's gradients against finite differences of the reference. */
    static void onTheModel(Device device, Random rnd, String tag) {
        GptConfig cfg = GptTest.TINY;
        int b = GptTest.B, t = GptTest.T, c = cfg.nEmbd();
        int[] tokens = GptTest.randomTokens(rnd, b * t);
        float[] u = gaussian(rnd, b * t);
        try (Gpt m = new Gpt(cfg, device); ScalarHead head = new ScalarHead(c, device); Scope s = new Scope()) {
            GptTest.randomize(m, rnd);
            head.initialize(rnd.nextLong());
            m.forward(tokens, null, null, b, t);
            Tensor values = s.empty(device, DType.F32, b, t);
            head.forward(m.hidden(), values);
            Tensor dhidden = s.empty(device, DType.F32, b, t, c);
            head.backward(s.of(device, u, b, t), m.hidden(), dhidden);
            m.backward(null, dhidden);
            float[] hgrads = head.grads().toFloatArray();
            float[] hp = head.params().toFloatArray();
            GptTest.assertParamGradients(m, tag + " head on model dL/d", rnd, 1, -1, p -> objective(cfg, p, tokens, hp, u),
                    5e-5, 2e-3);
            Map<String, double[]> p = GptReference.params(m);
            double[] hid = GptReference.forward(cfg.nLayer(), cfg.nHead(), c, cfg.vocabSize(), cfg.layerNormEps(), p, tokens,
                    null, null, b, t).hidden();
            for (int k = 0; k <= c; k++) { // linear in the head's parameters: the gradient is exact
                double gk = 0;
                for (int r = 0; r < b * t; r++) gk += u[r] * (k < c ? hid[r * c + k] : 1.0);
                Close.assertClose(tag + " dL/dhead[" + k + "]", gk, hgrads[k], 1e-5, 1e-4);
            }
        }
    }

    static double objective(GptConfig cfg, Map<String, double[]> p, int[] tokens, float[] hp, float[] u) {
        int c = cfg.nEmbd();
        double[] hid = GptReference.forward(cfg.nLayer(), cfg.nHead(), c, cfg.vocabSize(), cfg.layerNormEps(), p, tokens,
                null, null, GptTest.B, GptTest.T).hidden();
        double sum = 0;
        for (int r = 0; r < u.length; r++) {
            double v = hp[c];
            for (int k = 0; k < c; k++) v += hid[r * c + k] * hp[k];
            sum += u[r] * v;
        }
        return sum;
    }

    static void badInputs(Device device) {
        try (ScalarHead head = new ScalarHead(4, device); Scope s = new Scope()) {
            Tensor hidden = s.zeros(device, DType.F32, 2, 3, 4);
            expect("hidden", () -> head.forward(s.zeros(device, DType.F32, 2, 3, 5), s.zeros(device, DType.F32, 2, 3)));
            expect("values", () -> head.forward(hidden, s.zeros(device, DType.F32, 3, 2)));
            expect("dvalues", () -> head.backward(s.zeros(device, DType.F32, 2), hidden, s.zeros(device, DType.F32, 2, 3, 4)));
            expect("dhidden", () -> head.backward(s.zeros(device, DType.F32, 2, 3), hidden, s.zeros(device, DType.F32, 2, 3)));
            expect("nEmbd", () -> new ScalarHead(0, device));
        }
    }

    static void expect(String name, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(name), e.getMessage());
    }

    static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
