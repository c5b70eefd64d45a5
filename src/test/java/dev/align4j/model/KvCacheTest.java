package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.tensor.Device;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.GpuTest;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Incremental decoding with the KV cache equals the full forward at every position. */
class KvCacheTest {
    // odd sizes: head size 5, vocabulary 23
    static final GptConfig TINY = new GptConfig(2, 3, 15, 13, 23);
    static final double ATOL = 1e-5, RTOL = 1e-5;

    @Test
    void cpu() {
        check(Device.cpu());
    }

    @GpuTest
    void cuda() {
        check(Device.cuda(0));
    }

    static void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        try (Gpt m = new Gpt(TINY, device)) {
            GptTest.randomize(m, rnd);
            sameLengths(m, rnd, "seed " + seed);
            poisonDecoderMemory(m, 8, TINY.nCtx());
            differentLengths(m, rnd, "seed " + seed);
            poisonDecoderMemory(m, 8, TINY.nCtx());
            repeatedPrompts(m, rnd, "seed " + seed);
            errors(m);
        }
    }

    /**
     * Closes a decoder of (b, maxT) after filling its caches and logits with NaN. The model lends that memory to its
     * next decoder, which must never read a slot it has not written (the padding slots included).
     */
    static void poisonDecoderMemory(CausalLm m, int b, int maxT) {
        try (KvDecoder d = (KvDecoder) m.decoder(b, maxT)) {
            for (Tensor[] caches : new Tensor[][] {d.kCache, d.vCache})
                for (Tensor c : caches) c.copyFrom(nans(c.numel()));
            d.logits.copyFrom(nans(d.logits.numel()));
        }
    }

    private static float[] nans(long n) {
        float[] a = new float[(int) n];
        Arrays.fill(a, Float.NaN);
        return a;
    }

    /** Prefill p0 tokens of B equal-length prompts, then teacher-force the rest one token at a time. */
    static void sameLengths(Gpt m, Random rnd, String tag) {
        int b = 3, t = TINY.nCtx(), v = TINY.vocabSize();
        int[] tokens = GptTest.randomTokens(rnd, b * t, v);
        m.forward(tokens, null, null, b, t);
        float[] full = m.logits().toFloatArray();
        for (int p0 : new int[] {1, 2, 6, t - 1, t}) {
            try (KvCache cache = new KvCache(m, b, t)) {
                int[][] prompts = new int[b][];
                for (int i = 0; i < b; i++) prompts[i] = Arrays.copyOfRange(tokens, i * t, i * t + p0);
                compare(tag + " p0=" + p0 + " prefill", full, cache.prefill(prompts).toFloatArray(), b, t, v, p0 - 1);
                for (int pos = p0; pos < t; pos++) {
                    int[] next = new int[b];
                    for (int i = 0; i < b; i++) next[i] = tokens[i * t + pos];
                    compare(tag + " p0=" + p0 + " step at " + pos, full, cache.step(next).toFloatArray(), b, t, v, pos);
                }
                assertTrue(cache.length() == t);
            }
        }
    }

    private static void compare(String what, float[] full, float[] got, int b, int t, int v, int pos) {
        for (int i = 0; i < b; i++) {
            double[] ref = new double[v];
            for (int j = 0; j < v; j++) ref[j] = full[(i * t + pos) * v + j];
            Close.assertClose(what + " seq " + i, ref, Arrays.copyOfRange(got, i * v, (i + 1) * v), ATOL, RTOL);
        }
    }

    /**
     * Prompts of different lengths (left-padded inside the cache) match unpadded B = 1 forwards, also after the
     * decoder drops sequences ({@link Decoder#retain}: the last, then a padded one and the unpadded one).
     */
    static void differentLengths(Gpt m, Random rnd, String tag) {
        int[] lengths = {1, 4, 7, 3};
        int b = lengths.length, v = TINY.vocabSize(), steps = TINY.nCtx() - 7;
        int[][] seqs = new int[b][], prompts = new int[b][];
        float[][] ref = new float[b][];
        for (int i = 0; i < b; i++) {
            seqs[i] = GptTest.randomTokens(rnd, lengths[i] + steps, v);
            prompts[i] = Arrays.copyOf(seqs[i], lengths[i]);
            m.forward(seqs[i], null, null, 1, seqs[i].length);
            ref[i] = m.logits().toFloatArray();
        }
        try (KvCache cache = new KvCache(m, b, 7 + steps)) {
            float[] got = cache.prefill(prompts).toFloatArray();
            int[] held = {0, 1, 2, 3};   // the sequence in each decoder row
            for (int s = 0; ; s++) {
                for (int j = 0; j < held.length; j++) {
                    int i = held[j], pos = lengths[i] - 1 + s;
                    double[] r = new double[v];
                    for (int k = 0; k < v; k++) r[k] = ref[i][pos * v + k];
                    Close.assertClose(tag + " padded seq " + i + " (length " + lengths[i] + ") step " + s, r,
                            Arrays.copyOfRange(got, j * v, (j + 1) * v), ATOL, RTOL);
                }
                if (s == steps) break;
                if (s == 1) held = retain(cache, held, 0, 1, 2);
                if (s == 3) held = retain(cache, held, 1, 2);
                int[] next = new int[held.length];
                for (int j = 0; j < held.length; j++) next[j] = seqs[held[j]][lengths[held[j]] + s];
                got = cache.step(next).toFloatArray();
            }
            assertTrue(cache.batch() == 2 && Arrays.equals(new int[] {3, 0}, cache.padding()), Arrays.toString(cache.padding()));
            assertThrows(IllegalStateException.class, () -> cache.step(new int[2]), "cache full");
        }
    }

    /** Keeps decoder rows {@code rows}; returns the sequences the decoder then holds. */
    private static int[] retain(Decoder d, int[] held, int... rows) {
        d.retain(rows);
        int[] now = new int[rows.length];
        for (int j = 0; j < rows.length; j++) now[j] = held[rows[j]];
        return now;
    }

    /**
     * A batch that holds some prompts several times (prefilled once each, then copied: see KvDecoder), each row then
     * continued with tokens of its own, matches unpadded B = 1 forwards at every step.
     */
    static void repeatedPrompts(Gpt m, Random rnd, String tag) {
        int[] lengths = {4, 2, 6};
        int[] promptOf = {0, 1, 0, 2, 1, 0};   // rows 2 and 5 repeat row 0's prompt, row 4 row 1's
        int b = promptOf.length, v = TINY.vocabSize(), steps = TINY.nCtx() - 6;
        int[][] base = new int[lengths.length][];
        for (int k = 0; k < lengths.length; k++) base[k] = GptTest.randomTokens(rnd, lengths[k], v);
        int[][] seqs = new int[b][], prompts = new int[b][];
        float[][] ref = new float[b][];
        for (int i = 0; i < b; i++) {
            prompts[i] = base[promptOf[i]].clone();
            seqs[i] = Arrays.copyOf(prompts[i], prompts[i].length + steps);
            int[] cont = GptTest.randomTokens(rnd, steps, v);
            System.arraycopy(cont, 0, seqs[i], prompts[i].length, steps);
            m.forward(seqs[i], null, null, 1, seqs[i].length);
            ref[i] = m.logits().toFloatArray();
        }
        try (KvCache cache = new KvCache(m, b, 6 + steps)) {
            float[] got = cache.prefill(prompts).toFloatArray();
            for (int s = 0; ; s++) {
                for (int i = 0; i < b; i++) {
                    int pos = prompts[i].length - 1 + s;
                    double[] r = new double[v];
                    for (int j = 0; j < v; j++) r[j] = ref[i][pos * v + j];
                    Close.assertClose(tag + " repeated-prompt row " + i + " step " + s, r,
                            Arrays.copyOfRange(got, i * v, (i + 1) * v), ATOL, RTOL);
                }
                if (s == steps) break;
                int[] next = new int[b];
                for (int i = 0; i < b; i++) next[i] = seqs[i][prompts[i].length + s];
                got = cache.step(next).toFloatArray();
            }
            assertTrue(Arrays.equals(new int[] {2, 4, 2, 0, 4, 2}, cache.padding()), Arrays.toString(cache.padding()));
        }
    }

    static void errors(Gpt m) {
        try (KvCache cache = new KvCache(m, 2, 5)) {
            assertThrows(IllegalStateException.class, () -> cache.step(new int[2]));
            msg(() -> cache.prefill(new int[][] {{1}, {2, 23}}), "prompts[1][1]");
            msg(() -> cache.prefill(new int[][] {{1}, {}}), "prompts[1]");
            msg(() -> cache.prefill(new int[][] {{1}, {1, 2, 3, 4, 5, 6}}), "maxT");
            msg(() -> cache.prefill(new int[][] {{1}}), "prompts");
            cache.prefill(new int[][] {{1}, {2}});
            msg(() -> cache.step(new int[] {0, -1}), "tokens[1]");
            msg(() -> cache.retain(new int[] {1, 0}), "ascending");
            msg(() -> cache.retain(new int[] {0, 2}), "below the batch 2");
            msg(() -> cache.retain(new int[0]), "rows");
            cache.retain(new int[] {1});
            msg(() -> cache.step(new int[] {0, 1}), "tokens must have 1 values");
        }
        msg(() -> new KvCache(m, 0, 5), "batch");
        msg(() -> new KvCache(m, 1, TINY.nCtx() + 1), "maxT");
    }

    static void msg(Runnable r, String part) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' should name " + part);
    }
}
