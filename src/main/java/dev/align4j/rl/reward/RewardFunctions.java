package dev.align4j.rl.reward;

import dev.align4j.model.RewardModel;
import java.util.regex.Pattern;

/**
 * The built-in reward functions: {@link #gold}, {@link #format}, {@link #length} and the learned reward model
 * {@link #rm}. {@link RewardSpec} builds them from {@code --reward gold,format:0.2,length=8:-0.01,rm=DIR}.
 */
public final class RewardFunctions {
    private RewardFunctions() {}

    /**
     * The answer format of the built-in task suite: ONE space, then a non-empty single line — no control characters
     * (so no line break or tab) — whose first and last characters are not whitespace. Every gold answer of every
     * family has it ({@code " 42"}, {@code " kemot"}).
     */
    public static final Pattern ANSWER_FORMAT = Pattern.compile(" \\S(?:[^\\p{Cntrl}]*\\S)?");

    /**
     * {@code gold}: the task's exact checker, 1 or 0 ({@link dev.align4j.data.tasks.Task#score}) — 1 when the
     * completion ended with EOS and its text, surrounding whitespace stripped, is the answer (as
     * {@code GoldEvaluator} judges; a truncated completion is wrong). A sample without a task is an error.
     */
    public static PerSampleReward gold() {
        return RewardFunction.perSample("gold", s -> {
            if (s.task() == null) throw new IllegalArgumentException("the sample has no task: gold needs the task's checker");
            return s.endedWithEos() ? s.task().score(s.completion()) : 0.0;
        });
    }

    /**
     * {@code format}: 1 when the completion is a well-formatted answer then EOS — it ended with EOS and its text
     * (the tokens before EOS, decoded) matches {@link #ANSWER_FORMAT} as a whole: one leading space, one line, no
     * surrounding whitespace besides that space; else 0. It says nothing of correctness: {@code " 15"} is
     * well-formatted for {@code 7+7}; {@code "15"}, {@code " 14\n"}, {@code " 14 "}, {@code " 14\nQ: 3+3"} and a
     * truncated {@code " 14141414"} are not.
     */
    public static PerSampleReward format() {
        return format(ANSWER_FORMAT);
    }

    /** As {@link #format()}, with the completion's text matched against {@code answer} as a whole. */
    public static PerSampleReward format(Pattern answer) {
        if (answer == null) throw new IllegalArgumentException("answer must not be null");
        return RewardFunction.perSample("format", s -> s.endedWithEos() && answer.matcher(s.completion()).matches() ? 1.0 : 0.0);
    }

    /** {@code length} with target 0 and scale 1: the completion's tokens before EOS. */
    public static PerSampleReward length() {
        return length(0, 1);
    }

    /**
     * {@code length}: {@code max(0, n − target) / scale}, where n is the completion's tokens before its EOS (all of
     * them when truncated). It counts, so its WEIGHT makes it a penalty: {@code length=8:-0.01} costs 0.01 per token
     * beyond 8. (The soft overlong punishment of DAPO, which depends on the trainer's maximum length, is the
     * trainer's.)
     *
     * @param target tokens that cost nothing (≥ 0)
     * @param scale  tokens per unit (> 0, finite)
     */
    public static PerSampleReward length(int target, double scale) {
        if (target < 0) throw new IllegalArgumentException("target must be >= 0, got " + target);
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("scale must be > 0 and finite, got " + scale);
        return RewardFunction.perSample("length", s -> Math.max(0, s.answerTokens() - target) / scale);
    }

    /**
     * {@code rm}: the reward model's score of prompt ++ completion (EOS included), the whole batch in one forward as
     * PPO scores its rollouts; not thread-safe (it runs on the calling thread). The model stays the caller's.
     */
    public static ModelReward rm(RewardModel rm) {
        return ModelReward.of(rm);
    }
}
