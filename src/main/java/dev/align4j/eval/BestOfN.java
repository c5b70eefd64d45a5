package dev.align4j.eval;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Responses;
import dev.align4j.model.RewardModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Best-of-n sampling against a reward model, the other way of optimising a proxy in the lecture's section 3 (Gao et
 * al.'s over-optimisation curves use both best-of-n and RL): for each prompt, draw N samples from the policy, and for
 * each n ≤ N report the expected gold score and proxy score of the sample the reward model ranks highest among n
 * drawn at random, together with the analytic KL of the best-of-n policy from the sampling policy,
 * {@code log n − (n − 1)/n} (Stiennon et al. 2020, an upper bound).
 *
 * <p>The expectation over the n-subsets of the N samples is computed exactly, not by resampling: group each
 * prompt's samples by equal score (identical responses score identically); with L samples scoring lower than a
 * group of g, the group holds the maximum of a random n-subset with probability (C(L+g, n) − C(L, n)) / C(N, n),
 * and then — ties broken uniformly — the chosen sample's expected gold is the group's mean gold. n = 1 gives the
 * policy's own sampled gold accuracy; a reward model that ranks well lifts the curve with n, one that over-rates
 * some wrong answers bends it down (proxy up, gold down).
 *
 * <p>A sample's gold score follows {@link dev.align4j.rl.SampledPairs}: 1 when it ended with EOS and
 * {@link Task#check} accepts its text, else 0.
 *
 * @param prompts  prompts sampled
 * @param samples  N samples per prompt
 * @param n        the n reported (powers of two up to N, and N)
 * @param kl       log n − (n − 1)/n per n
 * @param gold     expected gold score of best-of-n per n
 * @param proxy    expected reward-model score of best-of-n per n (the raw score)
 */
public record BestOfN(int prompts, int samples, int[] n, double[] kl, double[] gold, double[] proxy) {

    /**
     * Samples {@code samples} responses per task from {@code policy} (at {@code temperature}, at most
     * {@code maxNewTokens}, seeded), scores them with {@code rm} and the gold checker, and computes the curve.
     */
    public static BestOfN of(CausalLm policy, RewardModel rm, Encoder encoder, List<Task> tasks, int samples, int maxNewTokens,
                             double temperature, long seed) {
        if (policy == null || rm == null || encoder == null) throw new IllegalArgumentException("policy, rm and encoder must not be null");
        if (tasks == null || tasks.isEmpty()) throw new IllegalArgumentException("tasks must not be empty");
        if (samples < 1 || samples > 60) throw new IllegalArgumentException("samples must be in [1, 60], got " + samples);
        List<String> prompts = new ArrayList<>(tasks.size() * samples);
        for (Task t : tasks)
            for (int j = 0; j < samples; j++) prompts.add(t.prompt());
        List<Responses.Response> rs = Responses.generate(policy, encoder, prompts, 64, maxNewTokens, temperature, seed, false);
        List<int[]> ps = new ArrayList<>(rs.size()), ys = new ArrayList<>(rs.size());
        double[] gold = new double[rs.size()];
        int[] prompt = null;
        for (int i = 0; i < rs.size(); i++) {
            Responses.Response r = rs.get(i);
            Task t = tasks.get(i / samples);
            if (i % samples == 0) prompt = encoder.encodePrompt(t.prompt()); // one encoding per task, shared by its samples
            ps.add(prompt);
            ys.add(r.tokens());
            gold[i] = r.endedWithEos() && t.check(r.text()) ? 1 : 0;
        }
        float[] f = rm.score(ps, ys, 64);
        double[] scores = new double[f.length];
        for (int i = 0; i < f.length; i++) scores[i] = f[i];
        return of(scores, gold, tasks.size(), samples);
    }

    /**
     * The curve from given scores: {@code scores[p·N + j]} and {@code gold[p·N + j]} are the proxy and gold score of
     * sample j of prompt p.
     */
    public static BestOfN of(double[] scores, double[] gold, int prompts, int samples) {
        if (prompts < 1 || samples < 1) throw new IllegalArgumentException("prompts and samples must be >= 1");
        if (scores.length != (long) prompts * samples || gold.length != scores.length)
            throw new IllegalArgumentException("scores and gold must hold prompts × samples = " + (long) prompts * samples
                    + " values, got " + scores.length + " and " + gold.length);
        List<Integer> ns = new ArrayList<>();
        for (int m = 1; m < samples; m *= 2) ns.add(m);
        ns.add(samples);
        int[] n = ns.stream().mapToInt(Integer::intValue).toArray();
        double[] kl = new double[n.length], g = new double[n.length], px = new double[n.length];
        for (int q = 0; q < n.length; q++) {
            kl[q] = Math.log(n[q]) - (n[q] - 1.0) / n[q];
            for (int p = 0; p < prompts; p++) {
                double[] e = expectedBest(Arrays.copyOfRange(scores, p * samples, (p + 1) * samples),
                        Arrays.copyOfRange(gold, p * samples, (p + 1) * samples), n[q]);
                g[q] += e[0] / prompts;
                px[q] += e[1] / prompts;
            }
        }
        return new BestOfN(prompts, samples, n, kl, g, px);
    }

    /** {expected gold, expected score} of the top-scored of a uniformly random n-subset (ties broken uniformly). */
    static double[] expectedBest(double[] scores, double[] gold, int n) {
        int total = scores.length;
        Integer[] order = new Integer[total];
        for (int i = 0; i < total; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Double.compare(scores[a], scores[b]));
        double all = choose(total, n), eg = 0, es = 0;
        for (int lo = 0; lo < total; ) {
            int hi = lo;
            double sum = 0;
            while (hi < total && scores[order[hi]] == scores[order[lo]]) sum += gold[order[hi++]];
            double pMax = (choose(hi, n) - choose(lo, n)) / all; // the group [lo, hi) holds the subset's maximum
            eg += pMax * sum / (hi - lo);
            es += pMax * scores[order[lo]];
            lo = hi;
        }
        return new double[] {eg, es};
    }

    private static double choose(int a, int b) {
        if (b < 0 || b > a) return 0;
        double c = 1;
        for (int i = 1; i <= b; i++) c = c * (a - b + i) / i;
        return c;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(String.format("best-of-n on %d prompts × %d samples:", prompts, samples));
        for (int q = 0; q < n.length; q++) sb.append(String.format(" n=%d gold %.3f proxy %.2f (KL %.2f);", n[q], gold[q], proxy[q], kl[q]));
        return sb.substring(0, sb.length() - 1);
    }
}
