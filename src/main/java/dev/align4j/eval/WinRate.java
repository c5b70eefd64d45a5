package dev.align4j.eval;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Responses;
import java.util.ArrayList;
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
        List<String> prompts = new ArrayList<>(tasks.size());
        for (Task t : tasks) prompts.add(t.prompt());
        List<Responses.Response> ra = Responses.generate(a, encoder, prompts, batchSize, maxNewTokens, 0, 0, false);
        List<Responses.Response> rb = Responses.generate(b, encoder, prompts, batchSize, maxNewTokens, 0, 0, false);
        int wins = 0, ties = 0, losses = 0;
        for (int i = 0; i < tasks.size(); i++) {
            double sa = ra.get(i).endedWithEos() ? tasks.get(i).score(ra.get(i).text()) : 0;
            double sb = rb.get(i).endedWithEos() ? tasks.get(i).score(rb.get(i).text()) : 0;
            if (sa > sb) wins++;
            else if (sa == sb) ties++;
            else losses++;
        }
        return new Result(tasks.size(), wins, ties, losses);
    }
}
