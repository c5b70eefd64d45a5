package dev.align4j.cli;

import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options of the RL commands ({@code ppo}, {@code grpo}) that pick the built-in tasks they roll out on and the
 * held-out tasks of eval/gold_accuracy, and the tokenizer of the policy (each command keeps its own {@code --tasks}).
 */
final class TaskPromptOptions {
    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "default: inferred from the vocabulary")
    String tokenizer;

    @Option(names = "--level", paramLabel = "L", description = "task difficulty 1, 2 (default) or 3")
    int level = 2;

    @Option(names = "--families", paramLabel = "NAME", split = ",", description = "only these task families")
    List<String> families;

    @Option(names = "--eval-tasks", paramLabel = "N", description = "held-out tasks for eval/gold_accuracy (default 64; 0: none)")
    int evalTasks = 64;

    /** The suite at --level, restricted to --families when given. */
    TaskSuite suite() {
        TaskSuite suite = TaskSuite.level(level);
        return families == null || families.isEmpty() ? suite : suite.only(families.toArray(new String[0]));
    }

    /** The --eval-tasks held-out tasks (test split) of {@code suite}. */
    List<Task> probe(TaskSuite suite, long seed) {
        return evalTasks > 0 ? suite.generate(evalTasks, seed, Split.TEST) : List.of();
    }
}
