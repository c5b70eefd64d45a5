package dev.align4j.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.align4j.data.SequenceBatch;
import dev.align4j.kernels.KlShaping;
import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.ValueLoss;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.model.ScalarHead;
import dev.align4j.reference.GaeReference;
import dev.align4j.reference.KlShapingReference;
import dev.align4j.reference.WhitenReference;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.GpuTest;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import dev.align4j.train.OptimConfig;
import dev.align4j.train.RunDirectory;
import dev.align4j.train.TrainingDivergedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PpoTrainerTest {
    static final Tokenizer TOK = Tokenizers.byName("byte");
    static final GptConfig CFG = new GptConfig(2, 2, 32, 32, TOK.vocabSize());
    static final PpoTrainer.Ids IDS = new PpoTrainer.Ids(TOK.eosId(), TOK.padId());

    /** Proxy reward: the share of the response's bytes that are lowercase letters (EOS excluded), 0 for an empty response. */
    static float[] shareOfA(SequenceBatch sb) {
        float[] out = new float[sb.b()];
        for (int i = 0; i < sb.b(); i++) {
            int n = 0, a = 0;
            for (int j = 0; j < sb.t(); j++) {
                int k = i * sb.t() + j;
                if (sb.mask()[k] == 0f || sb.targets()[k] == TOK.eosId()) continue;
                n++;
                if (sb.targets()[k] >= 'a' && sb.targets()[k] <= 'z') a++;
            }
            out[i] = n == 0 ? 0f : (float) a / n;
        }
        return out;
    }

    static List<int[]> prompts(int n) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(TOK.encode("p" + (char) ('a' + i % 26) + ":"));
        return out;
    }

    /** Policy, frozen reference (same weights), critic and head. */
    static final class Models implements AutoCloseable {
        final Gpt policy, reference, critic;
        final ScalarHead head;

        Models(long seed) {
            policy = Gpt.create(CFG, Device.cpu(), seed);
            reference = Gpt.create(CFG, Device.cpu(), seed);
            critic = Gpt.create(CFG, Device.cpu(), seed + 1);
            head = new ScalarHead(CFG.nEmbd(), Device.cpu());
            head.initialize(seed + 2);
        }

        PpoTrainer trainer(PpoConfig cfg, Path dir) throws Exception {
            return PpoTrainer.create(policy, reference, critic, head, PpoTrainerTest::shareOfA, prompts(40), cfg, IDS, dir);
        }

        /** A trainer with the critic-free group baseline (no critic, no value head). */
        PpoTrainer groupTrainer(PpoConfig cfg, Path dir) throws Exception {
            return PpoTrainer.create(policy, reference, null, null, PpoTrainerTest::shareOfA, prompts(40), cfg, IDS, dir);
        }

        @Override
        public void close() {
            policy.close();
            reference.close();
            critic.close();
            head.close();
        }
    }

    /** Scales every 7th parameter by 1.1 so the policy differs from its reference. */
    static void perturb(Gpt policy) {
        float[] p = policy.params().toFloatArray();
        for (int i = 0; i < p.length; i += 7) p[i] *= 1.1f;
        policy.params().copyFrom(p);
    }

    /** Rollouts a test made, closed after it (their tensors outlive the trainer that made them). */
    private final List<PpoTrainer.Rollout> rollouts = new ArrayList<>();

    private PpoTrainer.Rollout closeLater(PpoTrainer.Rollout r) {
        rollouts.add(r);
        return r;
    }

    @AfterEach
    void closeRollouts() {
        rollouts.forEach(PpoTrainer.Rollout::close);
        rollouts.clear();
    }

    /** KL shaping (k1, β) of each score taken against the mean of the other k − 1 scores of its group, in double. */
    static KlShapingReference.Out leaveOneOutShaped(PpoTrainer.Rollout r, int k, double beta) {
        SequenceBatch sb = r.batch();
        int b = sb.b();
        float[] loo = new float[b];
        for (int i = 0; i < b; i++) {
            int g = i / k * k;
            double others = 0;
            for (int j = g; j < g + k; j++) if (j != i) others += r.scores()[j];
            loo[i] = (float) (r.scores()[i] - others / (k - 1));
        }
        return KlShapingReference.compute(r.logpOld().toFloatArray(), r.logpRef().toFloatArray(), sb.mask(), loo, sb.targets(), b, sb.t(), beta, 1, TOK.eosId(), 0);
    }

    static PpoConfig config(long steps) {
        return PpoConfig.defaults().withSteps(steps).withBatches(16, 8, 2).withGeneration(8, 1.0, 0).withSchedule(0, 0)
                .withOptim(OptimConfig.constant(1e-3, 0)).withSeed(5);
    }

    @Test
    void rolloutRewardsAndAdvantagesEqualTheReferences(@TempDir Path dir) throws Exception {
        PpoConfig cfg = config(1).withKl(0.1f, KlShaping.Estimator.K3, 0).withMissingEosPenalty(0.5f);
        try (Models m = new Models(1); PpoTrainer t = m.trainer(cfg, dir)) {
            perturb(m.policy); // the policy differs from the reference: the KL terms are not all zero
            PpoTrainer.Rollout r = closeLater(t.rollout(1));
            SequenceBatch sb = r.batch();
            int b = sb.b(), tt = sb.t();
            // ℓ_old is a fresh forward's log-prob of the sampled tokens
            m.policy.forward(sb.inputs(), sb.targets(), sb.mask(), b, tt);
            Close.assertClose("logpOld", toDouble(m.policy.logProbs().toFloatArray()), r.logpOld().toFloatArray(), 1e-6, 1e-5);
            KlShapingReference.Out ks = KlShapingReference.compute(r.logpOld().toFloatArray(), r.logpRef().toFloatArray(), sb.mask(), r.scores(), sb.targets(), b,
                    tt, 0.1, 3, TOK.eosId(), 0.5);
            Close.assertClose("rewards", ks.rewards(), r.rewards().toFloatArray(), 1e-6, 1e-5);
            Close.assertClose("kl", ks.kl(), r.kl().toFloatArray(), 1e-6, 1e-5);
            double[][] g = GaeReference.compute(r.rewards().toFloatArray(), r.values().toFloatArray(), sb.mask(), b, tt, 1.0, 0.95);
            Close.assertClose("returns", g[1], r.returns().toFloatArray(), 1e-5, 1e-4);
            float[] adv = new float[g[0].length];
            for (int i = 0; i < adv.length; i++) adv[i] = (float) g[0][i];
            Close.assertClose("whitened advantages", WhitenReference.apply(adv, sb.mask(), true).out(), r.advantages().toFloatArray(), 1e-4, 1e-4);
            assertTrue(java.util.Arrays.stream(ks.kl()).anyMatch(x -> x > 0), "KL terms should be non-zero");
            // scores are read from the reward function, one per row; values are 0 off the mask
            Close.assertClose("scores", toDouble(shareOfA(sb)), r.scores(), 0, 0);
            float[] values = r.values().toFloatArray();
            for (int k = 0; k < values.length; k++) if (sb.mask()[k] == 0f) assertTrue(values[k] == 0f, "value off the mask at " + k);
        }
    }

    @Test
    void groupedRolloutsUseALeaveOneOutBaseline(@TempDir Path dir) throws Exception {
        int k = 4;
        PpoConfig cfg = config(1).withKl(0.1f, KlShaping.Estimator.K1, 0).withSamplesPerPrompt(k);
        try (Models m = new Models(3); PpoTrainer t = m.trainer(cfg, dir)) {
            PpoTrainer.Rollout r = closeLater(t.rollout(1));
            SequenceBatch sb = r.batch();
            int b = sb.b(), tt = sb.t();
            assertEquals(16, b);
            java.util.Set<String> distinct = new java.util.HashSet<>();
            for (int g = 0; g < b; g += k) {
                for (int i = g + 1; i < g + k; i++) assertEquals(r.promptIndex()[g], r.promptIndex()[i], "group " + g / k + " shares its prompt");
                for (int i = g; i < g + k; i++) distinct.add(java.util.Arrays.toString(java.util.Arrays.copyOfRange(sb.targets(), i * tt, i * tt + tt)));
            }
            assertTrue(distinct.size() > b / k, "the samples of a prompt differ: " + distinct.size() + " distinct rows");
            // the shaped rewards are those of the leave-one-out scores; the raw scores stay in the rollout (metrics)
            Close.assertClose("scores", toDouble(shareOfA(sb)), r.scores(), 0, 0);
            KlShapingReference.Out ks = leaveOneOutShaped(r, k, 0.1);
            Close.assertClose("rewards", ks.rewards(), r.rewards().toFloatArray(), 1e-6, 1e-5);
        }
        assertThrows(IllegalArgumentException.class, () -> config(1).withSamplesPerPrompt(3)); // 3 does not divide 16
        assertThrows(IllegalArgumentException.class, () -> config(1).withSamplesPerPrompt(0));
    }

    @Test
    void groupBaselineRunsWithoutACriticAndMatchesTheReferences(@TempDir Path dir) throws Exception {
        int k = 4;
        // one epoch, one minibatch: ratio = 1 at the update, so loss/policy = −mean advantage
        PpoConfig cfg = config(1).withBatches(16, 16, 1).withKl(0.1f, KlShaping.Estimator.K1, 0).withGae(1.0f, 1.0f, true)
                .withGroupBaseline(k);
        assertEquals(PpoConfig.Baseline.GROUP, cfg.advantage().baseline());
        PpoTrainer.Rollout r;
        try (Models m = new Models(3); PpoTrainer t = m.groupTrainer(cfg, dir.resolve("probe"))) {
            assertEquals(null, t.critic());
            perturb(m.policy); // policy ≠ reference: non-zero KL terms
            r = closeLater(t.rollout(1));
            SequenceBatch sb = r.batch();
            int b = sb.b(), tt = sb.t();
            for (float v : r.values().toFloatArray()) assertEquals(0f, v, "no critic: V = 0");
            KlShapingReference.Out ks = leaveOneOutShaped(r, k, 0.1);
            Close.assertClose("rewards", ks.rewards(), r.rewards().toFloatArray(), 1e-6, 1e-5);
            // with V = 0, γ = λ = 1 the advantage is the shaped return-to-go, then whitened
            double[][] g = GaeReference.compute(r.rewards().toFloatArray(), new float[b * tt], sb.mask(), b, tt, 1.0, 1.0);
            Close.assertClose("returns", g[1], r.returns().toFloatArray(), 1e-5, 1e-4);
            float[] adv = new float[g[0].length];
            for (int i = 0; i < adv.length; i++) adv[i] = (float) g[0][i];
            Close.assertClose("whitened advantages", WhitenReference.apply(adv, sb.mask(), true).out(), r.advantages().toFloatArray(), 1e-4, 1e-4);
        }
        try (Models m = new Models(3); PpoTrainer t = m.groupTrainer(cfg, dir.resolve("run"))) {
            perturb(m.policy);
            Map<String, Object> line = t.step();
            float[] mask = r.batch().mask(), ra = r.advantages().toFloatArray();
            double sa = 0, n = 0;
            for (int q = 0; q < mask.length; q++)
                if (mask[q] != 0f) {
                    sa += ra[q];
                    n++;
                }
            Close.assertClose("loss/policy", -sa / n, num(line, "loss/policy"), 1e-5, 1e-4);
            for (String key : new String[] {"loss/value", "val/vpred", "val/var_explained", "val/clipfrac"})
                assertTrue(!line.containsKey(key), key + " is not logged without a critic");
            assertTrue(line.containsKey("objective/kl") && line.containsKey("policy/clipfrac"));
        }
    }

    @Test
    void groupBaselineRaisesTheProxyRewardAndResumesExactly(@TempDir Path dir) throws Exception {
        PpoConfig cfg = config(40).withKl(0.01f, KlShaping.Estimator.K1, 0).withGroupBaseline(4);
        try (Models m = new Models(3); PpoTrainer t = m.groupTrainer(cfg, dir.resolve("learn"))) {
            List<Map<String, Object>> lines = t.train();
            double first = 0, last = 0;
            for (int i = 0; i < 5; i++) {
                first += num(lines.get(i), "objective/scores") / 5;
                last += num(lines.get(lines.size() - 1 - i), "objective/scores") / 5;
            }
            System.out.println("PPO toy, group baseline: objective/scores " + first + " -> " + last);
            assertTrue(last > first + 0.3, "objective/scores " + first + " -> " + last);
        }
        PpoConfig short4 = cfg.withSteps(4).withSchedule(0, 2);
        Path a = dir.resolve("a"), b = dir.resolve("b");
        try (Models m = new Models(5); PpoTrainer t = m.groupTrainer(short4, a)) {
            t.train();
        }
        try (Models m = new Models(5)) {
            try (PpoTrainer t = m.groupTrainer(short4, b)) {
                t.step();
                t.step();
                t.step(); // lost
            }
            assertTrue(!Files.exists(b.resolve("step-2").resolve("critic")), "no critic in a GROUP checkpoint");
            try (PpoTrainer t = PpoTrainer.resume(b, m.reference, PpoTrainerTest::shareOfA, prompts(40), IDS, Device.cpu())) {
                assertEquals(2, t.steps());
                assertEquals(PpoConfig.Baseline.GROUP, t.config().advantage().baseline());
                t.train();
            }
        }
        List<JsonNode> la = RunDirectory.readMetrics(a.resolve(RunDirectory.METRICS));
        List<JsonNode> lb = RunDirectory.readMetrics(b.resolve(RunDirectory.METRICS));
        assertEquals(4, lb.size());
        for (int i = 0; i < 4; i++)
            for (String key : new String[] {"objective/scores", "objective/kl", "loss/policy", "grad_norm"})
                assertEquals(la.get(i).get(key).asDouble(), lb.get(i).get(key).asDouble(), 0.0, key + " at step " + (i + 1));
    }

    @Test
    void groupBaselineBadInputsAreNamed(@TempDir Path dir) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config(1).withGroupBaseline(1));
        assertTrue(e.getMessage().contains("samplesPerPrompt >= 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> config(1).withBaseline(PpoConfig.Baseline.GROUP));
        assertEquals(PpoConfig.Baseline.CRITIC, PpoConfig.defaults().advantage().baseline());
        try (Models m = new Models(7)) {
            e = assertThrows(IllegalArgumentException.class, () -> PpoTrainer.create(m.policy, m.reference, m.critic, m.head,
                    PpoTrainerTest::shareOfA, prompts(40), config(1).withGroupBaseline(4), IDS, dir));
            assertTrue(e.getMessage().contains("GROUP trains no critic"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> PpoTrainer.create(m.policy, m.reference, null, null,
                    PpoTrainerTest::shareOfA, prompts(40), config(1), IDS, dir));
            assertTrue(e.getMessage().contains("critic and valueHead must not be null"), e.getMessage());
        }
    }

    @Test
    void firstUpdateLossesEqualTheReferences(@TempDir Path dir) throws Exception {
        // one epoch, one minibatch: ratio = 1 and V = V_old at the update, so the losses are closed-form
        PpoConfig cfg = config(1).withBatches(12, 12, 1);
        PpoTrainer.Rollout r;
        try (Models m = new Models(2); PpoTrainer t = m.trainer(cfg, dir.resolve("probe"))) {
            r = closeLater(t.rollout(1));
        }
        try (Models m = new Models(2); PpoTrainer t = m.trainer(cfg, dir.resolve("run"))) {
            Map<String, Object> line = t.step();
            float[] mask = r.batch().mask(), ra = r.advantages().toFloatArray(), rv = r.values().toFloatArray(),
                    rr = r.returns().toFloatArray();
            double sa = 0, sv = 0, n = 0;
            for (int k = 0; k < mask.length; k++) {
                if (mask[k] == 0f) continue;
                sa += ra[k];
                double d = rv[k] - rr[k];
                sv += d * d;
                n++;
            }
            Close.assertClose("loss/policy", -sa / n, num(line, "loss/policy"), 1e-5, 1e-4);
            Close.assertClose("loss/value", 0.5 * sv / n, num(line, "loss/value"), 1e-5, 1e-4);
            assertEquals(0.0, num(line, "policy/clipfrac"));
            Close.assertClose("policy/approxkl", 0, num(line, "policy/approxkl"), 1e-6, 0);
            double kl = 0;
            float[] rk = r.kl().toFloatArray();
            for (int k = 0; k < mask.length; k++) kl += rk[k];
            Close.assertClose("objective/kl", kl / r.batch().b(), num(line, "objective/kl"), 1e-6, 1e-5);
            for (String key : new String[] {"objective/entropy", "objective/scores", "objective/rlhf_reward", "val/vpred",
                    "val/var_explained", "val/clipfrac", "objective/kl_coef", "response_length", "eos_rate", "grad_norm"})
                assertTrue(line.containsKey(key), key);
        }
    }

    @Test
    void microBatchesSortedByLengthGiveTheMinibatchsUpdate(@TempDir Path dir) throws Exception {
        // one update of 16 rows as one forward and as micro-batches of 3 rows (cut after sorting by length, each
        // padded to its own longest row): the same losses and gradient norm, to float summation order, for the
        // token-mean and the sequence-mean, with a critic, an entropy bonus and the k3 KL loss all on
        for (PolicyLoss.Aggregation agg : PolicyLoss.Aggregation.values()) {
            PpoConfig base = config(1).withBatches(16, 16, 1).withLosses(PolicyLoss.Config.DEFAULT.withAggregation(agg),
                    ValueLoss.Config.DEFAULT.withAggregation(agg), 0.1, 0.01, 0.05).withGae(1.0f, 0.95f, false); // whitened, the
            // first update's policy loss (−mean advantage) would be ~0 and compared in its rounding
            PpoConfig[] cfgs = {base.withMicroBatch(16), base.withMicroBatch(3)};
            String[] keys = {"loss/policy", "loss/value", "loss/kl", "grad_norm", "objective/scores"};
            double[][] got = new double[2][keys.length];
            for (int c = 0; c < 2; c++)
                try (Models m = new Models(4); PpoTrainer t = m.trainer(cfgs[c], dir.resolve(agg + "-" + c))) {
                    perturb(m.policy); // policy ≠ reference: a non-zero KL loss
                    Map<String, Object> line = t.step();
                    for (int k = 0; k < keys.length; k++) got[c][k] = num(line, keys[k]);
                }
            assertEquals(got[0][4], got[1][4], 0.0, agg + ": the same rollout");
            for (int k = 0; k < 4; k++) {
                assertTrue(got[0][k] != 0, agg + " " + keys[k] + " is exercised");
                assertEquals(got[0][k], got[1][k], 1e-5 * Math.abs(got[0][k]), agg + " " + keys[k] + ": one forward vs micro-batches of 3");
            }
        }
    }

    @Test
    void raisesTheProxyReward(@TempDir Path dir) throws Exception {
        PpoConfig cfg = config(40).withKl(0.01f, KlShaping.Estimator.K1, 0);
        try (Models m = new Models(3); PpoTrainer t = m.trainer(cfg, dir)) {
            List<Map<String, Object>> lines = t.train();
            double first = 0, last = 0;
            for (int i = 0; i < 5; i++) {
                first += num(lines.get(i), "objective/scores") / 5;
                last += num(lines.get(lines.size() - 1 - i), "objective/scores") / 5;
            }
            System.out.println("PPO toy: objective/scores " + first + " -> " + last);
            assertTrue(last > first + 0.3, "objective/scores " + first + " -> " + last);
        }
    }

    @Test
    void adaptiveKlCoefficientMovesTowardTheTarget(@TempDir Path dir) throws Exception {
        // step 1: policy = reference, KL = 0 < target, so β shrinks by (1 − 0.2·n/horizon)
        PpoConfig cfg = config(3).withKl(0.1f, KlShaping.Estimator.K3, 1.0).withKlHorizon(100);
        try (Models m = new Models(4); PpoTrainer t = m.trainer(cfg, dir.resolve("low"))) {
            t.step();
            Close.assertClose("beta after one step", 0.1f * (1 - 0.2 * 16 / 100.0), t.klCoef(), 1e-7, 1e-6);
        }
        // a tiny target and a policy away from the reference: KL above it, β grows by (1 + 0.2·n/horizon)
        try (Models m = new Models(4); PpoTrainer t = m.trainer(cfg.withKl(0.1f, KlShaping.Estimator.K3, 1e-9), dir.resolve("high"))) {
            float[] p = m.policy.params().toFloatArray();
            for (int i = 0; i < p.length; i += 3) p[i] *= 1.3f;
            m.policy.params().copyFrom(p);
            t.step();
            Close.assertClose("beta after one step", 0.1f * (1 + 0.2 * 16 / 100.0), t.klCoef(), 1e-7, 1e-6);
        }
    }

    @Test
    void resumeContinuesExactly(@TempDir Path dir) throws Exception {
        PpoConfig cfg = config(4).withSchedule(0, 2);
        Path a = dir.resolve("a"), b = dir.resolve("b");
        try (Models m = new Models(5); PpoTrainer t = m.trainer(cfg, a)) {
            t.train();
        }
        try (Models m = new Models(5)) {
            try (PpoTrainer t = m.trainer(cfg, b)) {
                t.step();
                t.step();
                t.step(); // lost: the run "crashes" after step 3
            }
            try (PpoTrainer t = PpoTrainer.resume(b, m.reference, PpoTrainerTest::shareOfA, prompts(40), IDS, Device.cpu())) {
                assertEquals(2, t.steps());
                t.train();
            }
        }
        List<JsonNode> la = RunDirectory.readMetrics(a.resolve(RunDirectory.METRICS));
        List<JsonNode> lb = RunDirectory.readMetrics(b.resolve(RunDirectory.METRICS));
        assertEquals(4, lb.size());
        for (int i = 0; i < 4; i++)
            for (String key : new String[] {"objective/scores", "objective/kl", "loss/policy", "loss/value", "grad_norm"})
                assertEquals(la.get(i).get(key).asDouble(), lb.get(i).get(key).asDouble(), 0.0, key + " at step " + (i + 1));
        assertTrue(Files.isRegularFile(b.resolve("step-4").resolve("critic").resolve(PpoTrainer.VALUE_HEAD)));
    }

    @Test
    void nanStopsTheRun(@TempDir Path dir) throws Exception {
        try (Models m = new Models(6); PpoTrainer t = m.trainer(config(5).withSchedule(0, 1), dir)) {
            t.step();
            float[] p = m.critic.params().toFloatArray();
            java.util.Arrays.fill(p, Float.NaN);
            m.critic.params().copyFrom(p);
            RuntimeException e = assertThrows(RuntimeException.class, t::step);
            assertTrue(e instanceof TrainingDivergedException || e.getMessage().contains("NaN"), e.toString());
            assertEquals("step-1", Files.readString(dir.resolve(RunDirectory.LATEST)).trim());
        }
    }

    @Test
    void badInputsAreNamed(@TempDir Path dir) throws Exception {
        try (Models m = new Models(7)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PpoTrainer.create(m.policy, m.reference,
                    m.critic, m.head, PpoTrainerTest::shareOfA, List.of(), config(1), IDS, dir));
            assertTrue(e.getMessage().contains("prompts"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> PpoTrainer.create(m.policy, m.reference, m.critic, m.head,
                    PpoTrainerTest::shareOfA, List.of(new int[30]), config(1), IDS, dir));
            assertTrue(e.getMessage().contains("prompts[0]") && e.getMessage().contains("context"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> PpoTrainer.create(m.policy, m.policy, m.critic, m.head,
                    PpoTrainerTest::shareOfA, prompts(2), config(1), IDS, dir));
            assertTrue(e.getMessage().contains("reference"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> config(1).withBatches(4, 8, 1));
        }
    }

    /**
     * One PPO step on CUDA against the same step on the CPU: the rollout is sampled from the same seeds, but logits
     * differ in the last bits between backends, so only the first rollout's statistics are compared loosely and
     * every metric must be finite.
     */
    @GpuTest
    void cudaRunsAndMatchesCpu(@TempDir Path dir) throws Exception {
        Map<String, Object>[] lines = new Map[2];
        Device[] devices = {Device.cpu(), Device.cuda(0)};
        for (int d = 0; d < 2; d++) {
            try (Gpt policy = Gpt.create(CFG, devices[d], 8); Gpt ref = Gpt.create(CFG, devices[d], 8);
                 Gpt critic = Gpt.create(CFG, devices[d], 9); ScalarHead head = new ScalarHead(CFG.nEmbd(), devices[d])) {
                head.initialize(10);
                try (PpoTrainer t = PpoTrainer.create(policy, ref, critic, head, PpoTrainerTest::shareOfA, prompts(40), config(1), IDS,
                        dir.resolve("d" + d))) {
                    lines[d] = t.step();
                }
            }
        }
        for (String key : new String[] {"objective/scores", "objective/kl", "loss/policy", "loss/value", "grad_norm"})
            assertTrue(Double.isFinite(num(lines[1], key)), key + " on CUDA: " + lines[1].get(key));
        Close.assertClose("objective/entropy_per_token", num(lines[0], "objective/entropy_per_token"),
                num(lines[1], "objective/entropy_per_token"), 0.05, 0.05);
    }

    static double num(Map<String, Object> line, String key) {
        Object v = line.get(key);
        if (v == null) throw new AssertionError("no metric " + key + " in " + line);
        return ((Number) v).doubleValue();
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
