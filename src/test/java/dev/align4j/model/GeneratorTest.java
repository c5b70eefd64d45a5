package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Arrays;
import java.util.Random;

/** Batched generation against greedy decoding by full forwards, and its log-probs against a fresh forward. */
class GeneratorTest {
    static final GptConfig TINY = KvCacheTest.TINY;
    static final int PAD = 0;

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        String tag = "seed " + seed;
        int v = TINY.vocabSize();
        try (Gpt m = new Gpt(TINY, device)) {
            GptTest.randomize(m, rnd);
            int[][] prompts = {GptTest.randomTokens(rnd, 3, v), GptTest.randomTokens(rnd, 1, v),
                    GptTest.randomTokens(rnd, 5, v), GptTest.randomTokens(rnd, 2, v)};
            int maxNew = TINY.nCtx() - 5;
            // greedy equals argmax decoding by full forwards; so do temperature → 0, top-k = 1, tiny top-p
            Generation greedy = Generator.generate(m, prompts, GenerationConfig.greedy(maxNew, -1, PAD));
            for (int i = 0; i < prompts.length; i++)
                assertArrayEquals(greedyReference(m, prompts[i], maxNew, -1), greedy.sequence(i), tag + " greedy seq " + i);
            GenerationConfig sampling = GenerationConfig.sampling(maxNew, -1, PAD, seed);
            for (GenerationConfig c : new GenerationConfig[] {sampling.withTemperature(1e-7), sampling.withTopK(1),
                    sampling.withTopP(1e-9)})
                assertArrayEquals(greedy.tokens(), Generator.generate(m, prompts, c).tokens(), tag + " " + c);
            checkLogProbs(m, greedy, tag + " greedy");
            // a share of the batch (a data-parallel rank's rows) samples what those rows sample in the whole batch
            Generation whole = Generator.generate(m, prompts, sampling, new int[0]);
            Generation share = Generator.generate(m, new int[][] {prompts[1], prompts[3]}, sampling, new int[0], new int[] {1, 3});
            assertArrayEquals(whole.response(1), share.response(0), tag + " row 1 of the batch");
            assertArrayEquals(whole.response(3), share.response(1), tag + " row 3 of the batch");
            // B = 1, one new token, a prompt filling the context but one slot
            int[] longPrompt = GptTest.randomTokens(rnd, TINY.nCtx() - 1, v);
            Generation one = Generator.generate(m, new int[][] {longPrompt}, GenerationConfig.greedy(1, -1, PAD));
            assertArrayEquals(greedyReference(m, longPrompt, 1, -1), one.sequence(0), tag + " B=1 maxNew=1");
            checkLogProbs(m, one, tag + " B=1");

            // sampling: reproducible with a seed; log-probs equal a fresh forward's under the response mask
            GenerationConfig c = sampling.withTemperature(0.9).withTopK(9).withTopP(0.95);
            Generation a = Generator.generate(m, prompts, c), b = Generator.generate(m, prompts, c);
            assertArrayEquals(a.tokens(), b.tokens(), tag + " reproducible tokens");
            assertArrayEquals(a.logProbs(), b.logProbs(), tag + " reproducible log-probs");
            checkLogProbs(m, a, tag + " sampled");
            checkLogProbs(m, Generator.generate(m, prompts, sampling.withSeed(seed + 1)), tag + " sampled T=1");

            // EOS: each sequence stops at its first EOS (included, masked 1); what follows is padding, masked 0. Row 0
            // stops after 3 tokens, a quarter of the batch: the generator drops it from the decoder (Decoder.retain)
            int eos = greedy.response(0)[2];
            Generation e = Generator.generate(m, prompts, GenerationConfig.greedy(maxNew, eos, PAD));
            for (int i = 0; i < prompts.length; i++) {
                int[] ref = greedyReference(m, prompts[i], maxNew, eos);
                assertArrayEquals(ref, e.sequence(i), tag + " eos seq " + i);
                int stop = ref.length;
                for (int j = 0; j < e.width(); j++) {
                    boolean resp = j >= prompts[i].length && j < stop;
                    assertEquals(resp ? 1f : 0f, e.responseMask()[i * e.width() + j], tag + " eos mask " + i + "," + j);
                    if (j >= stop) assertEquals(PAD, e.tokens()[i * e.width() + j], tag + " eos padding " + i + "," + j);
                }
            }
            assertEquals(eos, e.response(0)[e.responseLengths()[0] - 1], tag + " seq 0 ends with EOS");
            checkLogProbs(m, e, tag + " eos");
            badArguments(m);
        }
    }

    /** Greedy decoding by repeated full forwards on the unpadded sequence (ties: the lowest index). */
    static int[] greedyReference(Gpt m, int[] prompt, int maxNew, int eos) {
        int v = TINY.vocabSize();
        int[] seq = prompt.clone();
        for (int s = 0; s < maxNew; s++) {
            m.forward(seq, null, null, 1, seq.length);
            float[] lg = m.logits().toFloatArray();
            int best = 0, off = (seq.length - 1) * v;
            for (int j = 1; j < v; j++) if (lg[off + j] > lg[off + best]) best = j;
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
            if (best == eos) break;
        }
        return seq;
    }

    /** The returned log-probs equal LogProbs of a fresh batched forward on the (right-padded) rows. */
    static void checkLogProbs(Gpt m, Generation g, String tag) {
        int b = g.batch(), w = g.width(), t = w - 1;
        int[] in = new int[b * t], tgt = new int[b * t];
        float[] mask = new float[b * t];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++) {
                in[i * t + j] = g.tokens()[i * w + j];
                tgt[i * t + j] = g.tokens()[i * w + j + 1];
                mask[i * t + j] = g.responseMask()[i * w + j + 1];
            }
        m.forward(in, tgt, mask, b, t);
        float[] ref = m.logProbs().toFloatArray();
        for (int i = 0; i < b; i++)
            for (int j = 0; j < w; j++) {
                float got = g.logProbs()[i * w + j];
                if (g.responseMask()[i * w + j] == 0) assertEquals(0f, got, tag + " log-prob outside the mask " + i + "," + j);
                else Close.assertClose(tag + " log-prob " + i + "," + j, ref[i * t + j - 1], got, 1e-5, 1e-5);
            }
    }

    static void badArguments(Gpt m) {
        int[][] ok = {{1, 2}, {3}};
        GenerationConfig c = GenerationConfig.sampling(3, -1, PAD, 1);
        KvCacheTest.msg(() -> c.withTemperature(-1), "temperature");
        KvCacheTest.msg(() -> c.withTopK(-1), "topK");
        KvCacheTest.msg(() -> c.withTopP(0), "topP");
        KvCacheTest.msg(() -> c.withTopP(1.5), "topP");
        KvCacheTest.msg(() -> new GenerationConfig(0, 1, 0, 1, -1, 0, 1), "maxNewTokens");
        KvCacheTest.msg(() -> new GenerationConfig(1, 1, 0, 1, -2, 0, 1), "eosId");
        KvCacheTest.msg(() -> new GenerationConfig(1, 1, 0, 1, -1, -1, 1), "padId");
        KvCacheTest.msg(() -> Generator.generate(m, new int[][] {{1, 2}, {3, TINY.vocabSize()}}, c), "prompts[1][1]");
        KvCacheTest.msg(() -> Generator.generate(m, new int[][] {{1, -1}}, c), "prompts[0][1]");
        KvCacheTest.msg(() -> Generator.generate(m, new int[][] {{1}, {}}, c), "prompts[1]");
        KvCacheTest.msg(() -> Generator.generate(m, new int[][] {new int[TINY.nCtx() + 1]}, c), "nCtx");
        KvCacheTest.msg(() -> Generator.generate(m, new int[][] {new int[TINY.nCtx() - 2]}, c), "maxNewTokens");
        KvCacheTest.msg(() -> Generator.generate(m, ok, c.withEos(TINY.vocabSize())), "eosId");
        KvCacheTest.msg(() -> Generator.generate(m, ok, new GenerationConfig(1, 1, 0, 1, -1, TINY.vocabSize(), 1)), "padId");
        KvCacheTest.msg(() -> Generator.generate(m, new int[0][], c), "prompts");
        KvCacheTest.msg(() -> Generator.generate(null, ok, c), "model");
    }
}
