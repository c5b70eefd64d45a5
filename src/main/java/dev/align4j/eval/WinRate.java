package dev.align4j.eval;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import java.util.List;

/**
 * Win rate of responses A over responses B to the same prompts under a {@link Judge}: per prompt, A wins when
 * its score is higher, ties when equal, loses otherwise; {@code winRate = (wins + ties/2) / n}. With the 0/1
 * gold score most prompts tie (both right or both wrong), so also read {@link Result#wins} and
 * {@link Result#losses}.
 */
public final class WinRate {
    private WinRate() {}

    public record Result(int n, int wins, int ties, int losses) {
        /** (wins + ties/2) / n; NaN when n = 0. */
        public double winRate() {
            return n == 0 ? Double.NaN : (wins + 0.5 * ties) / n;
        }

        @Override
        public String toString() {
            return String.format("win rate %.3f (%d wins, %d ties, %d losses of %d)", winRate(), wins, ties, losses, n);
        }
    }

    /** Compares {@code a.get(i)} with {@code b.get(i)} as responses to {@code prompts.get(i)}. */
    public static Result of(List<String> prompts, List<String> a, List<String> b, Judge judge) {
        if (prompts == null || a == null || b == null) throw new IllegalArgumentException("prompts, a and b must not be null");
        if (judge == null) throw new IllegalArgumentException("judge must not be null");
        if (a.size() != prompts.size() || b.size() != prompts.size())
            throw new IllegalArgumentException("prompts, a and b must have the same size, got " + prompts.size() + ", "
                    + a.size() + ", " + b.size());
        int wins = 0, ties = 0, losses = 0;
        for (int i = 0; i < prompts.size(); i++) {
            double sa = judge.score(prompts.get(i), a.get(i)), sb = judge.score(prompts.get(i), b.get(i));
            if (Double.isNaN(sa) || Double.isNaN(sb))
                throw new IllegalArgumentException("the judge scored prompt " + i + " NaN");
            if (sa > sb) wins++;
            else if (sa == sb) ties++;
            else losses++;
        }
        return new Result(prompts.size(), wins, ties, losses);
    }

    /**
     * Policy A against policy B on {@code tasks}, both greedy, judged by the gold score; a response that did not
     * end with EOS within {@code maxNewTokens} scores 0 (as in {@link GoldEvaluator}).
     */
    public static Result policies(CausalLm a, CausalLm b, Encoder encoder, List<Task> tasks, int batchSize, int maxNewTokens) {
        if (tasks == null) throw new IllegalArgumentException("tasks must not be null");
        GoldEvaluator gold = new GoldEvaluator(encoder, batchSize, maxNewTokens);
        return ofScores(gold.evaluate(a, tasks).scores(), gold.evaluate(b, tasks).scores());
    }

    /** Wins, ties and losses of per-task scores {@code a} against {@code b} (same tasks, same order). */
    public static Result ofScores(List<Double> a, List<Double> b) {
        if (a == null || b == null) throw new IllegalArgumentException("a and b must not be null");
        if (a.size() != b.size()) throw new IllegalArgumentException("a and b must have the same length, got " + a.size() + " and " + b.size());
        int wins = 0, ties = 0, losses = 0;
        for (int i = 0; i < a.size(); i++) {
            double x = a.get(i), y = b.get(i);
            if (x > y) wins++;
            else if (x == y) ties++;
            else losses++;
        }
        return new Result(a.size(), wins, ties, losses);
    }
}
