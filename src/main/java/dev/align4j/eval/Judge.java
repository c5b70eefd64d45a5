package dev.align4j.eval;

import dev.align4j.data.tasks.Task;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Scores a response to a prompt (higher is better): the gold task score, or a reward model. Responses are text
 * decoded up to EOS.
 */
@FunctionalInterface
public interface Judge {
    double score(String prompt, String response);

    /**
     * The gold judge of the built-in tasks: {@link Task#score} of the task whose prompt this is. A prompt
     * determines its task's answer, so duplicates are harmless; an unknown prompt throws.
     */
    static Judge gold(List<Task> tasks) {
        if (tasks == null) throw new IllegalArgumentException("tasks must not be null");
        Map<String, Task> byPrompt = new HashMap<>();
        for (Task t : tasks) byPrompt.putIfAbsent(t.prompt(), t);
        return (prompt, response) -> {
            Task t = byPrompt.get(prompt);
            if (t == null) throw new IllegalArgumentException("the gold judge has no task with prompt '" + prompt + "'");
            return t.score(response);
        };
    }
}
