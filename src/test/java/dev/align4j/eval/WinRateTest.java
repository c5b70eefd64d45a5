package dev.align4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.Gpt;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Win rates by hand, the gold judge, and two policies. */
class WinRateTest {
    @Test
    void byHand() {
        Judge byLength = (p, r) -> r.length();
        WinRate.Result r = WinRate.of(List.of("p", "q", "r"), List.of("aa", "b", "cc"), List.of("a", "bb", "cc"), byLength);
        assertEquals(new WinRate.Result(3, 1, 1, 1), r);
        assertEquals(0.5, r.winRate(), 1e-15);
        WinRate.Result all = WinRate.of(List.of("p", "q"), List.of("aaa", "bb"), List.of("a", "b"), byLength);
        assertEquals(1.0, all.winRate(), 1e-15);
        WinRate.Result tie = WinRate.of(List.of("p", "q", "r", "s"), List.of("a", "b", "c", "dd"), List.of("a", "b", "cc", "d"), byLength);
        assertEquals((1 + 0.5 * 2) / 4, tie.winRate(), 1e-15);
        assertTrue(Double.isNaN(WinRate.of(List.of(), List.of(), List.of(), byLength).winRate()));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> WinRate.of(List.of("p"), List.of("a", "b"), List.of("a"), byLength)).getMessage().contains("same size"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> WinRate.of(List.of("p"), List.of("a"), List.of("a"), (p, x) -> Double.NaN)).getMessage().contains("NaN"));
    }

    @Test
    void ofScores() {
        assertEquals(new WinRate.Result(4, 1, 2, 1), WinRate.ofScores(List.of(1.0, 0.0, 0.5, 0.0), List.of(0.0, 0.0, 0.5, 1.0)));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WinRate.ofScores(List.of(0.0), List.of(0.0, 0.0)))
                .getMessage().contains("same length"));
    }

    @Test
    void goldJudge() {
        List<Task> tasks = TaskSuite.defaultSuite().generate(40, 3, Split.TEST);
        Judge gold = Judge.gold(tasks);
        List<String> prompts = tasks.stream().map(Task::prompt).toList();
        List<String> right = tasks.stream().map(Task::answer).toList();
        List<String> wrong = tasks.stream().map(t -> t.corruptions().get(0)).toList();
        assertEquals(new WinRate.Result(40, 40, 0, 0), WinRate.of(prompts, right, wrong, gold));
        assertEquals(new WinRate.Result(40, 0, 0, 40), WinRate.of(prompts, wrong, right, gold));
        assertEquals(0.5, WinRate.of(prompts, right, right, gold).winRate(), 1e-15);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> gold.score("Q: nope\nA:", " 1")).getMessage().contains("nope"));
    }

    @Test
    void policies() {
        List<Task> tasks = TaskSuite.level(1).generate(4, 11, Split.TRAIN);
        try (Gpt trained = TinyModels.overfit(tasks, 5, 600); Gpt random = TinyModels.random(6)) {
            WinRate.Result r = WinRate.policies(trained, random, TinyModels.encoder(), tasks, 3, 12);
            assertEquals(new WinRate.Result(4, 4, 0, 0), r);
            // the gold evaluation's per-task scores are what the win rate compares
            GoldEvaluator gold = new GoldEvaluator(TinyModels.encoder(), 3, 12);
            assertEquals(r, WinRate.ofScores(gold.evaluate(trained, tasks).scores(), gold.evaluate(random, tasks).scores()));
            assertEquals(0.5, WinRate.policies(random, random, TinyModels.encoder(), tasks, 4, 12).winRate(), 1e-15);
        }
    }
}
