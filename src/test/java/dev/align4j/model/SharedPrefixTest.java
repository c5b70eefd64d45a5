package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.SharedPrefixBatch;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A {@link SharedPrefixBatch} forward and backward against the full rows' on the same model (GPT-2, and the Llama
 * family with grouped heads, q/k norms and biases, and without): per-token log-probs,
 * entropies, loss, and every parameter gradient of Σ w·logp + Σ u·entropy (the upstream weights placed on the same
 * tokens in either layout). Groups of several rows, prompts of different lengths, a one-token prompt (an empty
 * prefix), two prompts sharing a prefix and differing in the last token, rows not trained on, completions of
 * different lengths: fresh random inputs each run.
 */
class SharedPrefixTest {
    static final GptConfig CFG = new GptConfig(3, 2, 16, 24, 41);
    /** Llama-family shapes: grouped heads with Qwen3's q/k norms and q/k/v biases and an untied head; and Llama's plain. */
    static final LlamaConfig QWEN = new LlamaConfig("qwen3", 41, 16, 24, 3, 4, 2, 6, 1e-5, 10000.0, null, false, true, true, 24);
    static final LlamaConfig LLAMA = new LlamaConfig("llama", 41, 16, 24, 2, 2, 2, 8, 1e-5, 500.0, null, true, false, false, 24);

    /** Each family's model of these shapes. */
    static List<java.util.function.Function<Device, CausalLm>> models() {
        return List.of(d -> new Gpt(CFG, d), d -> new Llama(QWEN, d), d -> new Llama(LLAMA, d));
    }

    /** Random weights: norms' and LayerNorms' weights near 1, the rest N(0, 0.3) (matrices) or N(0, 0.1). */
    static void randomize(CausalLm m, Random rnd) {
        for (ParamLayout.Entry e : m.layout().entries()) {
            float[] w = new float[(int) e.numel()];
            boolean norm = (e.name().contains("ln_") || e.name().contains("norm")) && e.name().endsWith(".weight");
            double std = e.shape().length == 2 ? 0.3 : 0.1;
            for (int i = 0; i < w.length; i++) w[i] = (float) ((norm ? 1 : 0) + std * rnd.nextGaussian());
            m.setParam(e.name(), w);
        }
    }

    record Rows(List<int[]> prompts, List<int[]> completions, boolean[] trained) {}

    static Rows randomRows(Random rnd, boolean oneTokenPrompts) {
        List<int[]> prompts = new ArrayList<>(), completions = new ArrayList<>();
        int groups = 2 + rnd.nextInt(4);
        List<int[]> distinct = new ArrayList<>();
        for (int g = 0; g < groups; g++) distinct.add(tokens(rnd, oneTokenPrompts ? 1 : 1 + rnd.nextInt(12)));
        if (!oneTokenPrompts) { // the same prefix, another last token
            int[] p = distinct.get(0).clone();
            p[p.length - 1] = (p[p.length - 1] + 1) % CFG.vocabSize();
            distinct.add(p);
        }
        for (int[] p : distinct)
            for (int r = 1 + rnd.nextInt(4); r > 0; r--) {
                prompts.add(p);
                completions.add(tokens(rnd, 1 + rnd.nextInt(8)));
            }
        boolean[] trained = new boolean[prompts.size()];
        for (int q = 0; q < trained.length; q++) trained[q] = q == 0 || rnd.nextDouble() < 0.8;
        return new Rows(prompts, completions, trained);
    }

    static int[] tokens(Random rnd, int n) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = rnd.nextInt(CFG.vocabSize());
        return x;
    }

    /** What one layout gives, in the shared layout's (row, completion token) order. */
    record Out(float loss, double[] logp, double[] entropy, float[] grads, float[] hidden) {}

    @DeviceTest
    void sharedPrefixesGiveTheFullRowsOutputsAndGradients(Device device) {
        for (var family : models())
        for (boolean oneToken : new boolean[] {false, true}) {
            long seed = System.nanoTime();
            Random rnd = new Random(seed);
            Rows r = randomRows(rnd, oneToken);
            try (CausalLm m = family.apply(device)) {
                randomize(m, rnd);
                SharedPrefixBatch sp = SharedPrefixBatch.ofResponses(r.prompts(), r.completions(), r.trained(), 0);
                assertEquals(oneToken ? 0 : 1, Math.min(1, sp.maxPrefix()));
                assertTrue(sp.prefixes().length < r.prompts().size(), "rows share prefixes");
                SequenceBatch full = fullRows(r);
                // upstream weights per (row, completion token), the same in either layout
                int n = r.prompts().size();
                double[][] w = new double[n][], u = new double[n][];
                for (int q = 0; q < n; q++) {
                    w[q] = rnd.doubles(r.completions().get(q).length, -1, 1).toArray();
                    u[q] = rnd.doubles(r.completions().get(q).length, -1, 1).toArray();
                }
                String at = m.config() + " seed " + seed + (oneToken ? ", one-token prompts" : "");
                Out want = run(m, full, r, w, u, q -> r.prompts().get(q).length - 1, null);
                Out got = run(m, sp.rows(), r, w, u, q -> 0, sp);
                Close.assertClose(at + " loss", want.loss(), got.loss(), 1e-6, 1e-5);
                Close.assertClose(at + " logp", want.logp(), toFloat(got.logp()), 1e-5, 1e-5);
                Close.assertClose(at + " entropy", want.entropy(), toFloat(got.entropy()), 1e-5, 1e-5);
                double[] wg = new double[want.grads().length];
                for (int i = 0; i < wg.length; i++) wg[i] = want.grads()[i];
                double scaleG = Arrays.stream(wg).map(Math::abs).max().orElse(1);
                Close.assertClose(at + " gradients", wg, got.grads(), 1e-5 * scaleG, 1e-4);
                // a plain forward after a shared one is plain again
                float again = m.forward(full.inputs(), full.targets(), full.mask(), full.b(), full.t());
                assertEquals(want.loss(), again, 0f, at);
            }
        }
    }

    /** Loss, log-probs and entropies at each row's completion tokens, and the gradients of Σ w·logp + Σ u·entropy. */
    private static Out run(CausalLm m, SequenceBatch sb, Rows r, double[][] w, double[][] u, java.util.function.IntUnaryOperator first,
                           SharedPrefixBatch sp) {
        int n = sb.b(), t = sb.t();
        float[] dw = new float[n * t], du = new float[n * t];
        for (int q = 0; q < n; q++)
            for (int j = 0; j < w[q].length; j++) {
                dw[q * t + first.applyAsInt(q) + j] = (float) w[q][j];
                du[q * t + first.applyAsInt(q) + j] = (float) u[q][j];
            }
        m.zeroGrad();
        m.setComputeEntropy(true);
        try (Scope s = new Scope()) {
            float loss = sp == null ? m.forward(sb.inputs(), sb.targets(), sb.mask(), n, t) : m.forward(sp);
            float[] lp = m.logProbs().toFloatArray(), en = m.entropy().toFloatArray();
            List<Double> logp = new ArrayList<>(), ent = new ArrayList<>();
            for (int q = 0; q < n; q++)
                for (int j = 0; j < w[q].length; j++) {
                    if (!r.trained()[q]) continue;
                    logp.add((double) lp[q * t + first.applyAsInt(q) + j]);
                    ent.add((double) en[q * t + first.applyAsInt(q) + j]);
                }
            m.backward(s.of(m.device(), dw, n, t), s.of(m.device(), du, n, t), null);
            return new Out(loss, logp.stream().mapToDouble(Double::doubleValue).toArray(),
                    ent.stream().mapToDouble(Double::doubleValue).toArray(), m.grads().toFloatArray(), null);
        } finally {
            m.setComputeEntropy(false);
        }
    }

    static SequenceBatch fullRows(Rows r) {
        List<int[]> seqs = new ArrayList<>();
        List<float[]> trained = new ArrayList<>();
        for (int q = 0; q < r.prompts().size(); q++) {
            int[] p = r.prompts().get(q), c = r.completions().get(q), x = Arrays.copyOf(p, p.length + c.length);
            System.arraycopy(c, 0, x, p.length, c.length);
            float[] mk = new float[x.length];
            if (r.trained()[q]) Arrays.fill(mk, p.length, x.length, 1f);
            seqs.add(x);
            trained.add(mk);
        }
        return SequenceBatch.ofRows(seqs, trained, 0);
    }

    private static float[] toFloat(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (float) x[i];
        return f;
    }

    @Test
    void theAdaptersOffViewSharesAndTheTrainingAdaptersDoNot() {
        for (var family : models()) {
        Random rnd = new Random(5);
        Rows r = randomRows(rnd, false);
        SharedPrefixBatch sp = SharedPrefixBatch.ofResponses(r.prompts(), r.completions(), null, 0);
        try (CausalLm m = family.apply(Device.cpu())) {
            randomize(m, rnd);
            assertTrue(m.sharesPrefixes());
            float base = m.forward(sp);
            float[] baseLogp = m.logProbs().toFloatArray();
            m.attachLora(LoraConfig.defaults(4), 3);
            m.lora().params().copyFrom(tokensAsFloats(rnd, (int) m.lora().params().numel()));
            assertFalse(m.sharesPrefixes(), "the adapters' saved state holds one pass");
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> m.forward(sp));
            assertTrue(e.getMessage().contains("LoRA"), e.getMessage());
            CausalLm off = m.adaptersOff();
            assertTrue(off.sharesPrefixes());
            assertEquals(base, off.forward(sp), 0f);
            assertTrue(Arrays.equals(baseLogp, off.logProbs().toFloatArray()), "adapters off = the base, bit for bit");
        }
        }
    }

    private static float[] tokensAsFloats(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (0.1 * rnd.nextGaussian());
        return x;
    }

    @Test
    void badInputIsNamed() {
        try (Gpt m = new Gpt(new GptConfig(1, 2, 8, 6, 11), Device.cpu());
             Llama l = new Llama(new LlamaConfig("llama", 11, 8, 16, 1, 2, 1, 6, 1e-5, 10000.0, null, true, false, false, 6), Device.cpu())) {
            SharedPrefixBatch tooLong = SharedPrefixBatch.ofResponses(List.of(new int[] {1, 2, 3, 4}), List.of(new int[] {5, 6, 7}), null, 0);
            for (CausalLm x : List.<CausalLm>of(m, l)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.forward(tooLong));
                assertTrue(e.getMessage().contains("row 0") && e.getMessage().contains("nCtx = 6"), e.getMessage());
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> SharedPrefixBatch.ofResponses(List.of(new int[0]), List.of(new int[] {1}), null, 0));
    }
}
