package dev.align4j.rl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.Gpt;
import dev.align4j.model.LoraConfig;
import dev.align4j.model.GptConfig;
import dev.align4j.rl.reward.CombinedReward;
import dev.align4j.rl.reward.RewardException;
import dev.align4j.rl.reward.RewardFunction;
import dev.align4j.tensor.Device;
import dev.align4j.testing.TaskBase;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import dev.align4j.train.OptimConfig;
import dev.align4j.train.RunDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GrpoTrainerTest {
    static final Tokenizer TOK = Tokenizers.byName("byte");
    static final GptConfig CFG = new GptConfig(2, 2, 32, 32, TOK.vocabSize());

    /** The share of the completion's bytes (EOS excluded) that are lowercase letters: what the policy can learn. */
    static final RewardFunction LOWER = RewardFunction.perSample("lower", s -> {
        int n = 0, a = 0;
        for (int id : s.completionIds()) {
            if (id == TOK.eosId()) continue;
            n++;
            if (id >= 'a' && id <= 'z') a++;
        }
        return n == 0 ? 0 : (double) a / n;
    });

    static List<GrpoTrainer.Prompt> prompts(int n) {
        List<GrpoTrainer.Prompt> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String text = "p" + (char) ('a' + i % 26) + ":";
            out.add(new GrpoTrainer.Prompt(TOK.encode(text), null));
        }
        return out;
    }

    static GrpoConfig config(long steps) {
        return GrpoConfig.defaults().withSteps(steps).withBatches(4, 4, 16, 1).withDecoding(8, 1.0, 0, 1.0).withSchedule(0, 0)
                .withOptim(OptimConfig.constant(1e-3, 0)).withSeed(5);
    }

    static GrpoTrainer trainer(Gpt policy, RewardFunction f, GrpoConfig cfg, Path dir) throws Exception {
        return GrpoTrainer.create(policy, null, CombinedReward.of(f), prompts(40), TOK, cfg, dir);
    }

    @Test
    void raisesTheRewardAndResumesExactly(@TempDir Path dir) throws Exception {
        GrpoConfig cfg = config(30).withBatches(8, 4, 8, 1);
        List<Map<String, Object>> lines;
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 1); GrpoTrainer t = trainer(policy, LOWER, cfg, dir)) {
            lines = t.train();
        }
        double first = 0, last = 0;
        for (int i = 0; i < 5; i++) {
            first += ((Number) lines.get(i).get("reward")).doubleValue() / 5;
            last += ((Number) lines.get(lines.size() - 1 - i).get("reward")).doubleValue() / 5;
        }
        assertTrue(last > first + 0.1, "reward " + first + " -> " + last);
        for (String k : new String[] {"reward_std", "frac_reward_zero_std", "rewards/lower/mean", "completions/mean_length",
                "completions/clipped_ratio", "clip_ratio/low_mean", "clip_ratio/high_mean", "entropy", "loss", "grad_norm"})
            assertTrue(lines.get(0).containsKey(k), k);
        // one optimizer step per generation batch: on-policy, so the ratio is 1 and nothing is clipped
        assertEquals(0.0, ((Number) lines.get(3).get("clip_ratio/region_mean")).doubleValue(), 0.0);
    }

    /**
     * LoRA (all linear modules) on the task suite's prompts: the adapters alone raise the reward, the base's weights stay
     * bit for bit, and with β &gt; 0 the reference is the policy with its adapters off (no second model): its KL
     * starts at 0 (B = 0) and grows.
     */
    @Test
    void loraRaisesTheRewardOnTaskPromptsWithTheAdaptersOffAsReference(@TempDir Path dir) throws Exception {
        List<GrpoTrainer.Prompt> prompts = new ArrayList<>();
        for (Task t : TaskSuite.level(1).generate(40, 3, Split.TRAIN)) prompts.add(new GrpoTrainer.Prompt(TOK.encode(t.prompt()), t));
        GrpoConfig base = config(30).withBatches(8, 4, 8, 1);
        GrpoConfig cfg = base.withLoss(withBeta(base.loss(), 0.02f)).withOptim(OptimConfig.constant(5e-3, 0));
        List<Map<String, Object>> lines;
        try (Gpt policy = Gpt.load(TaskBase.sft(dir, new GptConfig(2, 2, 32, 64, TOK.vocabSize()), 1, 150), Device.cpu())) {
            float[] start = policy.params().toFloatArray();
            policy.attachLora(LoraConfig.defaults(8).withAlpha(16).withTargets(List.of(LoraConfig.ALL_LINEAR)), 4);
            try (GrpoTrainer t = GrpoTrainer.create(policy, null, CombinedReward.of(LOWER), prompts, TOK, cfg, dir.resolve("run"))) {
                lines = t.train();
            }
            assertArrayEquals(start, policy.params().toFloatArray(), "the frozen base");
        }
        double first = 0, last = 0;
        for (int i = 0; i < 5; i++) {
            first += ((Number) lines.get(i).get("reward")).doubleValue() / 5;
            last += ((Number) lines.get(lines.size() - 1 - i).get("reward")).doubleValue() / 5;
        }
        assertTrue(last > first + 0.1, "reward " + first + " -> " + last);
        // objective/kl: Σ_t ℓ_old − ℓ_ref of the step's samples before its updates
        assertEquals(0.0, ((Number) lines.get(0).get("objective/kl")).doubleValue(), 0.0, "a fresh adapter is the reference");
        assertTrue(((Number) lines.get(lines.size() - 1).get("objective/kl")).doubleValue() > 0, "the KL to the adapters-off policy grows");
    }

    static GrpoConfig.Loss withBeta(GrpoConfig.Loss l, float beta) {
        return new GrpoConfig.Loss(l.lossType(), l.importanceSamplingLevel(), l.epsilon(), l.epsilonHigh(), l.sequenceEpsilon(),
                l.sequenceEpsilonHigh(), beta, l.scaleRewards(), l.maskTruncatedCompletions(), l.overlongBuffer(), l.overlongPenalty());
    }

    @Test
    void firstUpdateRatioIsExactlyOne(@TempDir Path dir) throws Exception {
        // two iterations and two minibatches: ℓ_old comes from a forward before the first update, and only the first
        // micro-batch of the first update still sees the sampling weights, so its ratio must be exactly 1 everywhere
        GrpoConfig cfg = config(2).withBatches(4, 4, 8, 2);
        cfg = cfg.withGeneration(new GrpoConfig.Generation(4, 4, 8, 4, 2, 8, 1.0, 0, 1.0));
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 2); GrpoTrainer t = trainer(policy, LOWER, cfg, dir)) {
            for (int s = 0; s < 2; s++) {
                t.step();
                assertEquals(0.0, t.firstMicroBatchApproxKl(), 0.0, "k3(ℓ_old, ℓ_new) of the first micro-batch, step " + (s + 1));
                assertTrue(t.lastMicroBatchApproxKl() > 0, "later micro-batches see updated weights");
            }
        }
    }

    @Test
    void microBatchesSortedByLengthGiveTheMinibatchsUpdate(@TempDir Path dir) throws Exception {
        // DAPO's token mean over the minibatch: one forward of 16 rows and four of 4 rows (cut after sorting the rows
        // by length, so padded differently) give the same loss and accumulated gradient, to float summation order.
        // (The weights are not compared: AdamW's first step is ±lr wherever the gradient is not ~0, and its sign
        // flips with summation order where the gradient is ~0.)
        GrpoConfig[] cfgs = {config(1), config(1).withMicroBatch(4)};
        double[][] got = new double[2][];
        for (int c = 0; c < 2; c++)
            try (Gpt policy = Gpt.create(CFG, Device.cpu(), 3); GrpoTrainer t = trainer(policy, LOWER, cfgs[c], dir.resolve("c" + c))) {
                Map<String, Object> line = t.step();
                got[c] = new double[] {num(line, "loss"), num(line, "grad_norm"), num(line, "entropy"), num(line, "tokens")};
            }
        assertTrue(got[0][1] > 0, "an update happened");
        assertEquals(got[0][3], got[1][3], 0.0, "the same completions");
        String[] names = {"loss", "grad_norm", "entropy"};
        for (int k = 0; k < 3; k++)
            assertEquals(got[0][k], got[1][k], 1e-5 * Math.max(1e-3, Math.abs(got[0][k])), names[k] + ": one micro-batch vs four");
    }

    private static double num(Map<String, Object> line, String key) {
        return ((Number) line.get(key)).doubleValue();
    }

    @Test
    void dynamicSamplingRefillsWithGroupsThatVary(@TempDir Path dir) throws Exception {
        // prompts "pa:", "pc:", ... (even letters) always score 1: their groups teach nothing and are dropped
        RewardFunction halfConstant = RewardFunction.perSample("half", s -> {
            int letter = s.prompt().charAt(1) - 'a';
            if (letter % 2 == 0) return 1;
            return s.completionIds()[0] % 2; // random bytes from the untrained model: groups that vary
        });
        GrpoConfig on = config(3).withSampling(new GrpoConfig.Sampling(true, 6));
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 3); GrpoTrainer t = trainer(policy, halfConstant, on, dir.resolve("on"))) {
            for (Map<String, Object> m : t.train()) {
                assertEquals(0.0, ((Number) m.get("frac_reward_zero_std")).doubleValue(), 0.0, m.toString());
                assertEquals(4, ((Number) m.get("dynamic_sampling/kept_groups")).intValue(), m.toString());
                assertTrue(((Number) m.get("dynamic_sampling/generation_batches")).intValue() >= 2, m.toString());
            }
        }
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 3); GrpoTrainer t = trainer(policy, halfConstant, config(3), dir.resolve("off"))) {
            double zero = 0;
            for (Map<String, Object> m : t.train()) zero += ((Number) m.get("frac_reward_zero_std")).doubleValue();
            assertTrue(zero > 0, "without dynamic sampling some groups have equal rewards");
        }
        // one generation batch allowed: the step trains on the groups that vary and says how many
        GrpoConfig one = config(1).withSampling(new GrpoConfig.Sampling(true, 1));
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 3); GrpoTrainer t = trainer(policy, halfConstant, one, dir.resolve("one"))) {
            Map<String, Object> m = t.step();
            assertTrue(((Number) m.get("dynamic_sampling/kept_groups")).intValue() < 4, m.toString());
        }
    }

    /** A refill draws the groups still wanted over the share kept so far, plus a quarter; a full batch when none was kept. */
    @Test
    void refillsAreSizedByTheKeptShare() {
        assertEquals(55, GrpoTrainer.refillGroups(64, 38, 64));   // 1.25 · 26 · 64 / 38 = 54.7
        assertEquals(6, GrpoTrainer.refillGroups(64, 60, 64));
        assertEquals(64, GrpoTrainer.refillGroups(64, 20, 64), "at most a full batch");
        assertEquals(64, GrpoTrainer.refillGroups(64, 0, 128), "none kept: a full batch");
        assertEquals(22, GrpoTrainer.refillGroups(64, 56, 119));   // a third batch: 1.25 · 8 · 119 / 56 = 21.25
    }

    @Test
    void resumeContinuesExactly(@TempDir Path dir) throws Exception {
        GrpoConfig cfg = config(4).withSchedule(0, 2).withGeneration(new GrpoConfig.Generation(4, 4, 8, 4, 2, 8, 1.0, 0, 1.0));
        Path a = dir.resolve("a"), b = dir.resolve("b");
        float[] pa;
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 4); GrpoTrainer t = trainer(policy, LOWER, cfg, a)) {
            t.train();
            pa = policy.params().toFloatArray();
        }
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 4)) {
            try (GrpoTrainer t = trainer(policy, LOWER, cfg, b)) {
                t.step();
                t.step();
                t.step(); // lost: the run "crashes" after step 3
            }
        }
        float[] pb;
        try (GrpoTrainer t = GrpoTrainer.resume(b, null, CombinedReward.of(LOWER), prompts(40), TOK, Device.cpu())) {
            assertEquals(2, t.steps());
            t.train();
            pb = t.policy().params().toFloatArray();
        }
        assertArrayEquals(pa, pb);
        List<JsonNode> la = RunDirectory.readMetrics(a.resolve(RunDirectory.METRICS));
        List<JsonNode> lb = RunDirectory.readMetrics(b.resolve(RunDirectory.METRICS));
        assertEquals(4, lb.size());
        for (int i = 0; i < 4; i++)
            for (String key : new String[] {"reward", "loss", "grad_norm", "entropy"})
                assertEquals(la.get(i).get(key).asDouble(), lb.get(i).get(key).asDouble(), 0.0, key + " at step " + (i + 1));
    }

    @Test
    void aRewardThatFailsStopsTheRunNamingItAndTheSample(@TempDir Path dir) throws Exception {
        RewardFunction nan = RewardFunction.perSample("broken", s -> s.index() == 5 ? Double.NaN : 0.5);
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 6); GrpoTrainer t = trainer(policy, nan, config(2), dir)) {
            RewardException e = assertThrows(RewardException.class, t::step);
            assertTrue(e.getMessage().contains("broken") && e.getMessage().contains("5"), e.getMessage());
            assertTrue(!Files.exists(dir.resolve("step-1")));
        }
    }

    @Test
    void overlongPunishmentAndTruncationMask(@TempDir Path dir) throws Exception {
        GrpoConfig cfg = config(1).withLoss(new GrpoConfig.Loss(GrpoConfig.LossType.DAPO, GrpoConfig.Level.TOKEN, 0.2f, 0.28f, 3e-4f, 4e-4f,
                0f, GrpoConfig.Scale.GROUP, true, 4, 1.0f));
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 7); GrpoTrainer t = trainer(policy, LOWER, cfg, dir)) {
            // L_max = 8, L_cache = 4: no penalty up to 4 tokens, then −(L − 4)/4
            float[] r = new float[6];
            int[][] c = {new int[3], new int[4], new int[5], new int[6], new int[8], new int[8]};
            t.overlongPunishment(r, c);
            assertArrayEquals(new float[] {0, 0, -0.25f, -0.5f, -1f, -1f}, r);
            t.step(); // runs with truncated completions masked out
        }
        assertThrows(IllegalArgumentException.class, () -> config(1).withLoss(new GrpoConfig.Loss(GrpoConfig.LossType.DAPO,
                GrpoConfig.Level.TOKEN, 0.2f, 0.2f, 3e-4f, 4e-4f, 0f, GrpoConfig.Scale.GROUP, false, 8, 1.0f)));
    }

    @Test
    void badInputsAreNamed(@TempDir Path dir) throws Exception {
        try (Gpt policy = Gpt.create(CFG, Device.cpu(), 8)) {
            GrpoConfig beta = config(1).withLoss(new GrpoConfig.Loss(GrpoConfig.LossType.GRPO, GrpoConfig.Level.TOKEN, 0.2f, 0.2f, 3e-4f,
                    4e-4f, 0.1f, GrpoConfig.Scale.GROUP, false, 0, 1f));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GrpoTrainer.create(policy, null, CombinedReward.of(LOWER), prompts(4), TOK, beta, dir.resolve("a")));
            assertTrue(e.getMessage().contains("reference"), e.getMessage());
            List<GrpoTrainer.Prompt> longOne = List.of(new GrpoTrainer.Prompt(new int[30], null));
            e = assertThrows(IllegalArgumentException.class,
                    () -> GrpoTrainer.create(policy, null, CombinedReward.of(LOWER), longOne, TOK, config(1), dir.resolve("b")));
            assertTrue(e.getMessage().contains("prompts[0]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new GrpoConfig.Generation(4, 1, 4, 4, 1, 8, 1.0, 0, 1.0));
        }
    }
}
