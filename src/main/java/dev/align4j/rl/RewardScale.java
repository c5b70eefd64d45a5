package dev.align4j.rl;

import dev.align4j.data.Encoder;
import dev.align4j.data.SequenceBatch;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Responses;
import dev.align4j.model.RewardModel;
import dev.align4j.model.ScalarHead;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A reward model's score standardised, (r − mean)/std, as InstructGPT normalises its reward model: Bradley–Terry
 * fixes only score differences, so a raw reward model's scale is arbitrary (σ ≈ 8.6 on SFT samples in our runs) and
 * a KL coefficient β means nothing against it; on the standardised scale β = 0.5 trades one σ of reward for a KL of
 * 2 nats per response.
 */
public record RewardScale(RewardModel rm, double mean, double std) implements PpoTrainer.RewardFunction {
    /** Prompts whose samples fix the mean and standard deviation (the first ones of the PPO prompts). */
    static final int PROMPTS = 256;

    /** Rows per generation and scoring batch. */
    private static final int BATCH = 64;

    /**
     * The scale of {@code rm}'s scores on {@code policy}'s own samples: μ, σ are the mean and standard deviation of
     * the scores of one sampled response (at {@code cfg}'s rollout length and temperature, from {@code seed}) to each
     * of the first {@value #PROMPTS} of {@code tasks}; fixed before PPO starts. Logs the figures to {@code log}.
     */
    public static RewardScale fit(RewardModel rm, CausalLm policy, Encoder enc, List<Task> tasks, PpoConfig cfg, long seed,
                                  Consumer<String> log) {
        int n = Math.min(PROMPTS, tasks.size());
        List<String> prompts = new ArrayList<>(n);
        for (int i = 0; i < n; i++) prompts.add(tasks.get(i).prompt());
        List<Responses.Response> rs = Responses.generate(policy, enc, prompts, BATCH, cfg.rollout().maxNewTokens(),
                cfg.rollout().temperature(), seed, false);
        double[] scores = new double[n];
        for (int from = 0; from < n; from += BATCH) {
            int to = Math.min(n, from + BATCH);
            List<int[]> p = new ArrayList<>(), r = new ArrayList<>();
            for (int i = from; i < to; i++) {
                p.add(enc.encodePrompt(prompts.get(i)));
                r.add(rs.get(i).tokens());
            }
            float[] sc = rm.score(SequenceBatch.ofResponses(p, r, enc.tokenizer().padId()));
            for (int i = from; i < to; i++) scores[i] = sc[i - from];
        }
        double mu = 0, var = 0;
        for (double x : scores) mu += x / n;
        for (double x : scores) var += (x - mu) * (x - mu) / Math.max(1, n - 1);
        double sd = Math.max(Math.sqrt(var), 1e-6);
        log.accept(String.format("reward normalisation on %d SFT samples: mean %.3f, std %.3f", n, mu, sd));
        return new RewardScale(rm, mu, sd);
    }

    @Override
    public float[] score(SequenceBatch batch) {
        float[] s = rm.score(batch);
        for (int i = 0; i < s.length; i++) s[i] = (float) ((s[i] - mean) / std);
        return s;
    }

    /**
     * A copy of the reward model's head that outputs the standardised score (w/σ, (b − μ)/σ): the PPO critic
     * starts from it, so its first value estimates are on the scale of the returns. (Starting from the raw head,
     * whose outputs are ~σ times too large, the critic's error swamped the advantages for the first steps:
     * explained variance −35 at step 1.)
     */
    public ScalarHead criticHead() {
        ScalarHead h = rm.head().copy();
        float[] p = h.params().toFloatArray();
        int c = h.nEmbd();
        for (int i = 0; i < c; i++) p[i] = (float) (p[i] / std);
        p[c] = (float) ((p[c] - mean) / std);
        h.params().copyFrom(p);
        return h;
    }
}
