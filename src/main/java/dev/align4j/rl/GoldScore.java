package dev.align4j.rl;

import dev.align4j.data.tasks.Task;
import dev.align4j.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;

/** The gold checker's score of a PPO rollout on a built-in task, logged beside the proxy reward (objective/gold). */
public final class GoldScore {
    private GoldScore() {}

    /** 1 when the response ended with EOS and its text is the task's answer (as {@code GoldEvaluator} judges). */
    public static double of(Task task, int[] response, Tokenizer tok) {
        if (response.length == 0 || response[response.length - 1] != tok.eosId()) return 0;
        return task.score(tok.decode(Arrays.copyOf(response, response.length - 1), true));
    }

    /** The judge of rollouts to prompt i = {@code tasks.get(i)}'s prompt. */
    public static PpoTrainer.GoldJudge judge(List<Task> tasks, Tokenizer tok) {
        return (i, response) -> of(tasks.get(i), response, tok);
    }
}
