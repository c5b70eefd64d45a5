package dev.align4j.rl.reward;

import dev.align4j.data.tasks.Task;
import dev.align4j.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One sampled completion to be scored by a {@link RewardFunction}. The arrays are copied on construction and must
 * not be modified by reward functions (they may run on several threads at once).
 *
 * @param index         the sample's index in the trainer's batch (named in errors; need not equal its list position)
 * @param promptIds     the prompt's token ids, as the model read them
 * @param prompt        the prompt's text: {@code promptIds} decoded with special markers kept
 * @param completionIds the sampled ids after the prompt, the stop token (EOS) included when one was sampled
 * @param completion    the completion's text: the ids before the stop token, decoded with special ids skipped (what
 *                      the gold checker reads, as {@code GoldEvaluator} and {@code GoldScore} decode it)
 * @param endedWithEos  true when the completion ended with a stop token; false when generation was cut at the
 *                      maximum length ({@link #truncated})
 * @param task          the built-in task behind the prompt, or null for prompts of other data
 */
public record RewardSample(int index, int[] promptIds, String prompt, int[] completionIds, String completion,
                           boolean endedWithEos, Task task) {
    /** Characters of a text shown in messages ({@link #describe}). */
    static final int SHOWN_CHARS = 200;

    public RewardSample {
        if (promptIds == null) throw new IllegalArgumentException("promptIds must not be null (sample " + index + ")");
        if (prompt == null) throw new IllegalArgumentException("prompt must not be null (sample " + index + ")");
        if (completionIds == null) throw new IllegalArgumentException("completionIds must not be null (sample " + index + ")");
        if (completion == null) throw new IllegalArgumentException("completion must not be null (sample " + index + ")");
        promptIds = promptIds.clone();
        completionIds = completionIds.clone();
    }

    /** True when generation stopped at the maximum length, without a stop token. */
    public boolean truncated() {
        return !endedWithEos;
    }

    /** Tokens of the completion before its stop token (all of them when truncated). */
    public int answerTokens() {
        return completionIds.length - (endedWithEos ? 1 : 0);
    }

    /**
     * The sample of {@code completionIds} (generated after {@code promptIds}), decoded with {@code tok}: it ended
     * with EOS when its last id is one of {@link Tokenizer#stopIds}.
     */
    public static RewardSample of(int index, int[] promptIds, int[] completionIds, Tokenizer tok, Task task) {
        if (tok == null) throw new IllegalArgumentException("tok must not be null");
        if (promptIds == null || completionIds == null)
            throw new IllegalArgumentException("promptIds and completionIds must not be null (sample " + index + ")");
        int n = completionIds.length;
        boolean eos = false;
        if (n > 0) for (int s : tok.stopIds()) eos |= completionIds[n - 1] == s;
        String text = tok.decode(eos ? Arrays.copyOf(completionIds, n - 1) : completionIds, true);
        return new RewardSample(index, promptIds, tok.decode(promptIds, false), completionIds, text, eos, task);
    }

    /**
     * Samples {@code 0..n-1} of {@code prompts.get(i)} and {@code completions.get(i)} with {@code tasks.get(i)}
     * ({@code tasks} may be null: no task metadata).
     */
    public static List<RewardSample> of(List<int[]> prompts, List<int[]> completions, List<Task> tasks, Tokenizer tok) {
        if (prompts == null || completions == null) throw new IllegalArgumentException("prompts and completions must not be null");
        if (prompts.size() != completions.size() || (tasks != null && tasks.size() != prompts.size()))
            throw new IllegalArgumentException("prompts (" + prompts.size() + "), completions (" + completions.size()
                    + ") and tasks (" + (tasks == null ? "none" : tasks.size()) + ") differ in number");
        List<RewardSample> out = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++)
            out.add(of(i, prompts.get(i), completions.get(i), tok, tasks == null ? null : tasks.get(i)));
        return out;
    }

    /** {@code sample <index> (prompt "...", completion "...")}, each text escaped and cut to ~200 characters. */
    public String describe() {
        return "sample " + index + " (prompt " + quote(prompt) + ", completion " + quote(completion)
                + (endedWithEos ? "" : " [truncated]") + ")";
    }

    @Override
    public String toString() {
        return "RewardSample[" + describe() + (task == null ? "" : ", task " + task.origin()) + "]";
    }

    static String quote(String s) {
        String cut = s.length() > SHOWN_CHARS ? s.substring(0, SHOWN_CHARS) : s;
        String esc = cut.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t").replace("\"", "\\\"");
        return "\"" + esc + "\"" + (cut.length() < s.length() ? "... (" + s.length() + " chars)" : "");
    }
}
