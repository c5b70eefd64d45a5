package dev.align4j.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.PreferencePair;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.TinyModels;
import dev.align4j.model.Gpt;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Sampled preference pairs: the judging and pairing rules and the counts, on a random and a half-trained model. */
class SampledPairsTest {
    @Test
    void countsAddUpAndPairsAreJudgedRight() {
        List<Task> all = TaskSuite.level(1).generate(12, 4, Split.TRAIN);
        // overfit on the first 6 tasks, so those are mostly right and the others mostly wrong
        try (Gpt m = TinyModels.overfit(all.subList(0, 6), 2, 600)) {
            SampledPairs.Options o = new SampledPairs.Options(4, 1.0, 12, 10, false, false);
            SampledPairs.Result r = SampledPairs.build(m, TinyModels.encoder(), all, o, 7);
            assertEquals(r, SampledPairs.build(m, TinyModels.encoder(), all, o, 7), "deterministic");
            check(all, r, 1);
            assertEquals(0, r.fallbackPairs());
            assertTrue(r.allCorrect() + r.mixed() >= 3, r.toString());
            assertTrue(r.allWrong() >= 3, r.toString());

            SampledPairs.Result f = SampledPairs.build(m, TinyModels.encoder(), all, o.withFallbacks(true, true), 7);
            check(all, f, 1);
            assertEquals(f.mixed() + f.fallbackPairs(), f.pairs().size());
            assertTrue(f.fallbackPairs() >= 3, f.toString());
            assertTrue(f.pairs().size() >= r.pairs().size(), f.toString());

            // up to m pairs per mixed prompt, each with a distinct rejected text; deterministic; never fewer than m = 1
            SampledPairs.Options many = new SampledPairs.Options(8, 1.0, 12, 16, false, false).withPairsPerPrompt(3);
            SampledPairs.Result one = SampledPairs.build(m, TinyModels.encoder(), all, many.withPairsPerPrompt(1), 7);
            SampledPairs.Result mp = SampledPairs.build(m, TinyModels.encoder(), all, many, 7);
            assertEquals(mp, SampledPairs.build(m, TinyModels.encoder(), all, many, 7), "deterministic");
            check(all, mp, 3);
            assertEquals(one.mixed(), mp.mixed(), "the same samples are drawn whatever pairsPerPrompt is");
            assertTrue(mp.pairs().size() > one.pairs().size(), mp + " vs " + one);
            Map<String, java.util.Set<String>> rejectedByPrompt = new HashMap<>();
            for (PreferencePair p : mp.pairs()) {
                java.util.Set<String> seen = rejectedByPrompt.computeIfAbsent(p.prompt(), x -> new java.util.HashSet<>());
                assertTrue(seen.add(p.rejected()), "rejected text repeated for one prompt: " + p);
                assertTrue(seen.size() <= 3, "more than pairsPerPrompt pairs for " + p.prompt());
            }
            assertEquals(mp.mixed(), rejectedByPrompt.size());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SampledPairs.Options.defaults().withPairsPerPrompt(0))
                .getMessage().contains("pairsPerPrompt"));
    }

    static void check(List<Task> tasks, SampledPairs.Result r, int pairsPerPrompt) {
        assertEquals(tasks.size(), r.prompts());
        assertEquals(r.prompts(), r.mixed() + r.allCorrect() + r.allWrong() + r.noUsableRejected(), r.toString());
        assertTrue(r.pairs().size() >= r.mixed() + r.fallbackPairs(), r.toString());
        assertTrue(r.pairs().size() <= r.mixed() * pairsPerPrompt + r.fallbackPairs(), r.toString());
        assertTrue(r.sampleAccuracy() >= 0 && r.sampleAccuracy() <= 1, r.toString());
        Map<String, Task> byPrompt = new HashMap<>();
        tasks.forEach(t -> byPrompt.put(t.prompt(), t));
        for (PreferencePair p : r.pairs()) {
            Task t = byPrompt.get(p.prompt());
            assertTrue(t.check(p.chosen()), p.toString());
            assertFalse(t.check(p.rejected()), p.toString());
            assertTrue(p.origin().startsWith(t.origin()), p.toString());
        }
    }

    @Test
    void randomModelIsAllWrong() {
        List<Task> tasks = TaskSuite.defaultSuite().generate(5, 1, Split.TEST);
        try (Gpt m = TinyModels.random(1)) {
            SampledPairs.Result r = SampledPairs.build(m, TinyModels.encoder(), tasks, SampledPairs.Options.defaults(), 3);
            assertEquals(5, r.allWrong(), r.toString());
            assertEquals(0, r.pairs().size());
            SampledPairs.Result g = SampledPairs.build(m, TinyModels.encoder(), tasks,
                    SampledPairs.Options.defaults().withFallbacks(true, false), 3);
            check(tasks, g, 1);
            for (PreferencePair p : g.pairs()) assertTrue(p.origin().endsWith(":gold-vs-sample"));
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SampledPairs.Options(1, 1, 8, 8, false, false))
                .getMessage().contains("samplesPerPrompt"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SampledPairs.Options(2, 0, 8, 8, false, false))
                .getMessage().contains("temperature"));
    }
}
