package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Random;

/**
 * The chunked LM head ({@link Gpt#setLogitsChunkRows}) gives the loss, log-probs and every gradient of the
 * unchunked one, whatever the chunk boundaries, and never allocates the [B, T, V] logits.
 */
class GptChunkedHeadTest {
    /** V large against C and T, so that the [B, T, V] logits are the largest activation when materialised. */
    static final GptConfig CFG = new GptConfig(2, 2, 16, 8, 97);
    static final int B = 2, T = 7, N = B * T;

    /** Everything a step reads out of the model, for one chunk setting. */
    record Step(float loss, float[] logp, float[] lmGrads, float[] upstreamGrads, float[] hiddenGrads, float[] hidden,
                float[] entropy, float[] entropyGrads) {}

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        try (Gpt m = new Gpt(CFG, device)) {
            randomize(m, rnd);
            int[] tokens = GptTest.randomTokens(rnd, N, CFG.vocabSize()), targets = GptTest.randomTokens(rnd, N, CFG.vocabSize());
            float[] mask = new float[N];
            for (int i = 0; i < N; i++) mask[i] = rnd.nextDouble() < 0.7 ? 1f : 0f;
            mask[0] = 1f;
            for (int i = 3; i < 6; i++) mask[i] = 0f;   // an all-masked chunk when R = 3
            float[] w = new float[N], u = new float[N * CFG.nEmbd()];
            for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < u.length; i++) u[i] = (float) rnd.nextGaussian();
            for (float[] msk : new float[][] {mask, null}) {
                m.setLogitsChunkRows(0);
                Step ref = step(m, tokens, targets, msk, w, u);
                for (int rows : new int[] {1, 3, 5, N, N + 9}) {
                    m.setLogitsChunkRows(rows);
                    assertEquals(rows, m.logitsChunkRows());
                    Step got = step(m, tokens, targets, msk, w, u);
                    String tag = "seed " + seed + " R=" + rows + (msk == null ? " unmasked" : " masked");
                    Close.assertClose(tag + " loss", ref.loss(), got.loss(), 1e-7, 1e-6);
                    same(tag + " logp", ref.logp(), got.logp());
                    same(tag + " hidden", ref.hidden(), got.hidden());
                    same(tag + " LM-loss grads", ref.lmGrads(), got.lmGrads());
                    same(tag + " backward(dlogp) grads", ref.upstreamGrads(), got.upstreamGrads());
                    same(tag + " backward(dlogp, dhidden) grads", ref.hiddenGrads(), got.hiddenGrads());
                    same(tag + " entropy", ref.entropy(), got.entropy());
                    same(tag + " backward(dlogp, dentropy) grads", ref.entropyGrads(), got.entropyGrads());
                }
            }
        }
    }

    /** Loss and log-probs, then the gradients of the LM loss, of Σ w·logp, and of Σ w·logp + Σ u·hidden. */
    static Step step(Gpt m, int[] tokens, int[] targets, float[] mask, float[] w, float[] u) {
        m.zeroGrad();
        float loss = m.forward(tokens, targets, mask, B, T);
        float[] logp = m.logProbs().toFloatArray();
        float[] hidden = m.hidden().toFloatArray();
        m.backward();
        float[] lm = m.grads().toFloatArray();
        float[] up, hid, ent, entG;
        try (Scope s = new Scope()) {
            m.zeroGrad();
            m.forward(tokens, targets, mask, B, T);
            m.backward(s.of(m.device(), w, B, T));
            up = m.grads().toFloatArray();
            m.zeroGrad();
            m.forward(tokens, targets, mask, B, T);
            m.backward(s.of(m.device(), w, B, T), s.of(m.device(), u, B, T, CFG.nEmbd()));
            hid = m.grads().toFloatArray();
            m.setComputeEntropy(true);
            m.zeroGrad();
            m.forward(tokens, targets, mask, B, T);
            ent = m.entropy().toFloatArray();
            float[] v = new float[N];
            for (int i = 0; i < N; i++) v[i] = 0.5f * w[(i + 1) % N];
            m.backward(s.of(m.device(), w, B, T), s.of(m.device(), v, B, T), null);
            entG = m.grads().toFloatArray();
        } finally {
            m.setComputeEntropy(false);
        }
        return new Step(loss, logp, lm, up, hid, hidden, ent, entG);
    }

    /** Equal up to summation order: 1e-6 of the tensor's largest magnitude, 1e-5 relative. */
    static void same(String what, float[] ref, float[] got) {
        double max = 0;
        for (float x : ref) max = Math.max(max, Math.abs(x));
        double[] r = new double[ref.length];
        for (int i = 0; i < ref.length; i++) r[i] = ref[i];
        Close.assertClose(what, r, got, 1e-6 * max, 1e-5);
    }

    @DeviceTest
    void memoryAndBadInputs(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int v = CFG.vocabSize();
        int[] tokens = GptTest.randomTokens(rnd, N, v), targets = GptTest.randomTokens(rnd, N, v);
        try (Gpt m = new Gpt(CFG, device)) {
            randomize(m, rnd);
            assertEquals(0, m.activationBytes());
            m.forward(tokens, targets, null, B, T);
            long full = m.activationBytes();
            assertEquals((long) N * v, m.largestActivationNumel(), "unchunked: the logits are the largest activation");
            m.setLogitsChunkRows(3);
            m.forward(tokens, targets, null, B, T);
            assertTrue(m.largestActivationNumel() < (long) N * v,
                    "chunked: largest activation " + m.largestActivationNumel() + " elements, B·T·V = " + (long) N * v);
            assertEquals(full - (long) (N - 3) * v * 4, m.activationBytes(), "only the logits shrink, to [3, V]");

            IllegalStateException s = assertThrows(IllegalStateException.class, m::logits);
            assertTrue(s.getMessage().contains("chunks of 3") && s.getMessage().contains("setLogitsChunkRows"), s.getMessage());
            // without targets: hidden states only, and a head's gradient still flows back
            m.forward(tokens, null, null, B, T);
            assertEquals(N * CFG.nEmbd(), m.hidden().numel());
            assertThrows(IllegalStateException.class, m::logits);
            try (Scope sc = new Scope()) {
                m.backward(null, sc.zeros(device, DType.F32, B, T, CFG.nEmbd()));
                m.forward(tokens, targets, null, B, T);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> m.backward(sc.zeros(device, DType.F32, N)));
                assertTrue(e.getMessage().contains("dlogp"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class,
                        () -> m.forward(sc.of(device, tokens, B, T), sc.of(device, targets, B, T), sc.zeros(device, DType.F32, N)));
                assertTrue(e.getMessage().contains("lossMask"), e.getMessage());
                int[] bad = targets.clone();
                bad[N - 1] = v;   // in the last chunk
                RuntimeException r = assertThrows(RuntimeException.class, () -> m.forward(tokens, bad, null, B, T));
                assertTrue(r.getMessage().contains("labels"), r.getMessage());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.setLogitsChunkRows(-1));
            assertTrue(e.getMessage().contains("logitsChunkRows"), e.getMessage());
            // back to the default: logits readable again
            m.setLogitsChunkRows(0);
            m.forward(tokens, null, null, B, T);
            assertEquals((long) N * v, m.logits().numel());
        }
    }

    static void randomize(Gpt m, Random rnd) {
        GptTest.randomize(m, rnd);
    }
}
