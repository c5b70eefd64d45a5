package dev.align4j.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.tokenizer.ByteTokenizer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** GoldScore: a rollout scores 1 only when it ends with EOS and its text is the task's answer. */
class GoldScoreTest {
    static final ByteTokenizer TOK = new ByteTokenizer();

    @Test
    void aRolloutScoresOneOnlyWhenItEndsWithEosAndIsTheAnswer() {
        long seed = System.nanoTime();
        List<Task> tasks = TaskSuite.level(1).generate(20, seed, Split.TEST);
        PpoTrainer.GoldJudge judge = GoldScore.judge(tasks, TOK);
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            int[] answer = TOK.encode(t.answer().strip());
            int[] ended = Arrays.copyOf(answer, answer.length + 1);
            ended[answer.length] = TOK.eosId();
            String at = "seed " + seed + ", task " + t.origin();
            assertEquals(1.0, judge.score(i, ended), at);
            assertEquals(0.0, judge.score(i, answer), "no EOS: cut off, " + at);
            assertEquals(0.0, judge.score(i, new int[0]), "empty, " + at);
            assertEquals(0.0, judge.score(i, new int[] {TOK.eosId()}), "only EOS, " + at);
            int[] wrong = TOK.encode(t.answer().strip() + "#");
            int[] wrongEnded = Arrays.copyOf(wrong, wrong.length + 1);
            wrongEnded[wrong.length] = TOK.eosId();
            assertEquals(0.0, judge.score(i, wrongEnded), "wrong answer, " + at);
        }
    }
}
