package dev.align4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.Generation;
import dev.align4j.model.GenerationConfig;
import dev.align4j.model.Generator;
import dev.align4j.model.Gpt;
import dev.align4j.model.Responses;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Gold evaluation and the sampling measurements on a random and on an overfit tiny model. */
class GoldEvaluatorTest {
    @Test
    void randomModelGivesSaneDeterministicNumbers() {
        long seed = System.nanoTime();
        String tag = "seed " + seed;
        List<Task> tasks = TaskSuite.level(1).generate(30, seed, Split.TEST);
        GoldEvaluator ev = new GoldEvaluator(TinyModels.encoder(), 16, 12);   // 30 = 16 + 14: a partial batch
        try (Gpt m = TinyModels.random(seed)) {
            GoldEvaluator.Report r = ev.evaluate(m, tasks);
            assertEquals(r, ev.evaluate(m, tasks), tag + " deterministic");
            assertEquals(30, r.n());
            assertTrue(r.accuracy() >= 0 && r.accuracy() <= 1, tag + " " + r);
            assertTrue(r.ece() >= 0 && r.ece() <= 1, tag + " " + r);
            assertTrue(r.eosRate() >= 0 && r.eosRate() <= 1, tag + " " + r);
            assertTrue(r.meanConfidence() >= 0 && r.meanConfidence() <= 1, tag + " " + r);
            assertTrue(r.meanResponseTokens() >= 0 && r.meanResponseTokens() <= 12, tag + " " + r);
            assertEquals(30, r.familyCount().values().stream().mapToInt(Integer::intValue).sum());
            assertEquals(TaskSuite.level(1).families().size(), r.familyAccuracy().size());
            assertEquals(8, r.samples().size());
            assertEquals(r.accuracy(), r.metrics("gold/").get("gold/accuracy"));
            GoldEvaluator.Diversity d = ev.sample(m, tasks, 3, seed);
            assertEquals(d, ev.sample(m, tasks, 3, seed), tag + " deterministic sampling");
            assertTrue(d.distinct1() > 0 && d.distinct1() <= 1, tag + " " + d);
            assertTrue(d.uniqueResponses() > 1.0 / 3 - 1e-12 && d.uniqueResponses() <= 1, tag + " " + d);
            // a random model is far from collapsed: entropy near log V, but never above it
            assertTrue(d.meanEntropy() > 1 && d.meanEntropy() <= Math.log(TinyModels.CONFIG.vocabSize()) + 1e-4, tag + " " + d);
        }
    }

    @Test
    void overfitModelIsJudgedCorrectAndCollapsed() {
        List<Task> tasks = TaskSuite.level(1).generate(6, 1, Split.TRAIN);
        try (Gpt m = TinyModels.overfit(tasks, 3, 600)) {
            GoldEvaluator ev = new GoldEvaluator(TinyModels.encoder(), 4, 12);
            GoldEvaluator.Report r = ev.evaluate(m, tasks);
            assertEquals(1.0, r.accuracy(), r.toString());
            assertEquals(1.0, r.eosRate(), r.toString());
            r.familyAccuracy().values().forEach(a -> assertEquals(1.0, a, r.toString()));
            double meanAnswer = tasks.stream().mapToInt(t -> t.answer().length()).average().orElseThrow();
            assertEquals(meanAnswer, r.meanResponseTokens(), 1e-12, r.toString());
            assertTrue(r.meanConfidence() > 0.8, r.toString());
            assertEquals(1 - r.meanConfidence(), r.ece(), 1e-9, "all correct: ECE = 1 − mean confidence " + r);
            r.samples().forEach(s -> assertTrue(s.correct(), s.toString()));
            // the same tasks judged against a deliberately wrong gold: accuracy 0
            List<Task> wrong = tasks.stream().map(t -> new Task(t.family(), t.template(), t.input(), t.prompt(),
                    t.corruptions().get(0), List.of(t.answer()))).toList();
            assertEquals(0.0, ev.evaluate(m, wrong).accuracy());
            // sampling a memorised answer: little entropy, few distinct responses
            GoldEvaluator.Diversity d = ev.sample(m, tasks, 4, 9);
            assertTrue(d.meanEntropy() < 0.5, d.toString());
            assertTrue(d.uniqueResponses() < 0.6, d.toString());
            assertTrue(d.sampleAccuracy() > 0.7, d.toString());
            // per task (a multiple of 1/4) and per family, consistent with the overall share
            assertEquals(tasks.size(), d.taskAccuracy().size());
            double sum = 0;
            java.util.Map<String, double[]> fam = new java.util.TreeMap<>();
            for (int i = 0; i < tasks.size(); i++) {
                double a = d.taskAccuracy().get(i);
                assertEquals(0, a * 4 - Math.rint(a * 4), 1e-12, "task " + i + ": " + a);
                sum += a;
                double[] f = fam.computeIfAbsent(tasks.get(i).family(), k -> new double[2]);
                f[0] += a;
                f[1]++;
            }
            assertEquals(d.sampleAccuracy(), sum / tasks.size(), 1e-12);
            assertEquals(fam.keySet(), d.familyAccuracy().keySet());
            fam.forEach((f, c) -> assertEquals(c[0] / c[1], d.familyAccuracy().get(f), 1e-12, f));
        }
    }

    @Test
    void responsesAlignWithAFreshForward() {
        long seed = System.nanoTime();
        String tag = "seed " + seed;
        List<Task> tasks = TaskSuite.defaultSuite().generate(5, seed, Split.TRAIN);
        List<String> prompts = tasks.stream().map(Task::prompt).toList();
        try (Gpt m = TinyModels.random(seed)) {
            List<Responses.Response> rs = Responses.generate(m, TinyModels.encoder(), prompts, 2, 6, 1.0, seed, true);
            assertEquals(5, rs.size());
            // batch 2 of 5: the third batch holds one prompt; check its first response token's entropy by hand
            for (int i : new int[] {0, 4}) {
                Responses.Response r = rs.get(i);
                int[] prompt = TinyModels.encoder().encodePrompt(prompts.get(i));
                assertEquals(r.tokens().length, r.logProbs().length, tag);
                assertEquals(r.tokens().length, r.entropies().length, tag);
                int[] seq = new int[prompt.length + r.tokens().length];
                System.arraycopy(prompt, 0, seq, 0, prompt.length);
                System.arraycopy(r.tokens(), 0, seq, prompt.length, r.tokens().length);
                for (int j = 0; j < r.tokens().length; j++) {
                    int ctx = prompt.length + j;
                    m.forward(java.util.Arrays.copyOf(seq, ctx), null, null, 1, ctx);
                    float[] logits = m.logits().toFloatArray();
                    int v = TinyModels.CONFIG.vocabSize();
                    double max = Double.NEGATIVE_INFINITY;
                    for (int k = 0; k < v; k++) max = Math.max(max, logits[(ctx - 1) * v + k]);
                    double z = 0;
                    for (int k = 0; k < v; k++) z += Math.exp(logits[(ctx - 1) * v + k] - max);
                    double lse = max + Math.log(z), h = 0;
                    for (int k = 0; k < v; k++) {
                        double lp = logits[(ctx - 1) * v + k] - lse;
                        h -= Math.exp(lp) * lp;
                    }
                    assertEquals(h, r.entropies()[j], 1e-4, tag + " entropy " + i + "," + j);
                    assertEquals(logits[(ctx - 1) * v + r.tokens()[j]] - lse, r.logProbs()[j], 1e-4, tag + " logp " + i + "," + j);
                }
            }
            // the chunked LM head is switched off for the entropy forward and restored
            int[][] ids = {TinyModels.encoder().encodePrompt(prompts.get(0)), TinyModels.encoder().encodePrompt(prompts.get(1))};
            Generation g = Generator.generate(m, ids, GenerationConfig.sampling(5, 256, 258, seed));
            float[] plain = Responses.entropies(m, g);
            m.setLogitsChunkRows(7);
            assertArrayEquals(plain, Responses.entropies(m, g), 1e-5f, tag);
            assertEquals(7, m.logitsChunkRows());
        }
    }

    @Test
    void badArguments() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GoldEvaluator(null, 1, 1)).getMessage().contains("encoder"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GoldEvaluator(TinyModels.encoder(), 0, 1)).getMessage().contains("batchSize"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GoldEvaluator(TinyModels.encoder(), 1, 0)).getMessage().contains("maxNewTokens"));
        try (Gpt m = TinyModels.random(1)) {
            GoldEvaluator ev = new GoldEvaluator(TinyModels.encoder(), 1, 4);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ev.evaluate(m, List.of())).getMessage().contains("tasks"));
            List<Task> one = TaskSuite.defaultSuite().generate(1, 0, Split.TEST);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> ev.sample(m, one, 0, 0)).getMessage().contains("m "));
            // a generation limit past the context is the Generator's error, naming maxNewTokens
            GoldEvaluator tooLong = new GoldEvaluator(TinyModels.encoder(), 1, 64);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> tooLong.evaluate(m, one)).getMessage().contains("maxNewTokens"));
        }
    }
}
