package dev.align4j.data.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.PreferencePair;
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
            check(all, r);
            assertEquals(0, r.fallbackPairs());
            assertTrue(r.allCorrect() + r.mixed() >= 3, r.toString());
            assertTrue(r.allWrong() >= 3, r.toString());

            SampledPairs.Result f = SampledPairs.build(m, TinyModels.encoder(), all, o.withFallbacks(true, true), 7);
            check(all, f);
            assertEquals(f.mixed() + f.fallbackPairs(), f.pairs().size());
            assertTrue(f.fallbackPairs() >= 3, f.toString());
            assertTrue(f.pairs().size() >= r.pairs().size(), f.toString());
        }
    }

    static void check(List<Task> tasks, SampledPairs.Result r) {
        assertEquals(tasks.size(), r.prompts());
        assertEquals(r.prompts(), r.mixed() + r.allCorrect() + r.allWrong() + r.noUsableRejected(), r.toString());
        assertEquals(r.mixed() + r.fallbackPairs(), r.pairs().size(), r.toString());
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
            check(tasks, g);
            for (PreferencePair p : g.pairs()) assertTrue(p.origin().endsWith(":gold-vs-sample"));
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SampledPairs.Options(1, 1, 8, 8, false, false))
                .getMessage().contains("samplesPerPrompt"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SampledPairs.Options(2, 0, 8, 8, false, false))
                .getMessage().contains("temperature"));
    }
}
