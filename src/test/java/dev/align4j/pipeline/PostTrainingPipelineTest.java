package dev.align4j.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole post-training pipeline end to end on the CPU ({@link PipelineConfig#small}, a few minutes), with the
 * lecture's claims that hold at this size asserted: SFT lifts gold accuracy far above the base model; the reward
 * model is above chance on held-out pairs; PPO's critic learns and its KL stays bounded; DPO and SimPO drive train-pair
 * preference accuracy up; every stage writes its run folder, the summary, the samples and a report. What does NOT
 * hold at this size (PPO raising the proxy and gold scores) is printed, not asserted — see the README.
 */
class PostTrainingPipelineTest {
    @Test
    void thePipelineRunsEndToEnd(@TempDir Path dir) throws Exception {
        long seed = Long.getLong("align4j.pipelineSeed", 1L);
        // the measured configuration with a quarter of the pair prompts, a shorter reward model and PPO, and no second
        // (weak-KL) PPO run, to keep CI in minutes; `./align4j demo` runs the full one
        PipelineConfig full = PipelineConfig.small(seed);
        PipelineConfig.Pretrain demo = PipelineConfig.demo(seed).pretrain();
        PipelineConfig.Stages stages = full.stages();
        PipelineConfig.Tasks tasks = full.tasks();
        PipelineConfig c = full.withStages(new PipelineConfig.Stages(stages.sft(), stages.pairs(),
                        stages.rm().withSteps(1000).withBatchSize(16), stages.ppoRmGate(),
                        stages.ppo().withSteps(10).withBatches(128, 64, 4).withSchedule(0, 0), -1, stages.dpo(), stages.simpo()))
                .withTasks(new PipelineConfig.Tasks(tasks.suiteLevel(), tasks.families(), tasks.sftTasks(), 2048, tasks.ppoPrompts(), tasks.grpoPrompts(),
                        tasks.testTasks(), tasks.heldOutPairs()))
                // a short pre-training stage (the demo runs 600 steps) so that its path, mixture included, is exercised
                .withPretrain(new PipelineConfig.Pretrain(2000, 200, demo.mixture(), demo.lm().withSteps(40).withEval(20, 2)));
        Map<String, Long> progressCalls = new java.util.concurrent.ConcurrentHashMap<>();
        PostTrainingPipeline.Summary s = PostTrainingPipeline.run(c, dev.align4j.tensor.Device.cpu(), dir,
                line -> System.out.println("[pipeline] " + line),
                stage -> (step, total, m) -> {
                    assertTrue(step >= 1 && step <= total && m.containsKey("step"), stage + " progress " + step + "/" + total);
                    progressCalls.merge(stage, 1L, Long::sum);
                });
        System.out.println(PostTrainMain.table(s));
        assertEquals(Map.of("pretrain", 40L, "sft", stages.sft().steps(), "pairs", PipelineStagesTest.pairBatches(c), "rm", 1000L,
                "ppo", 10L, "dpo", stages.dpo().steps(),
                "simpo", stages.simpo().steps()), progressCalls, "every step of every stage reaches the progress listener");

        double base = s.stage("base").gold().accuracy(), sft = s.stage("sft").gold().accuracy();
        assertTrue(sft > base + 0.2, "SFT gold accuracy " + sft + " vs base " + base);
        assertTrue(s.stage("sft").gold().eosRate() > 0.9, "SFT responses end with EOS: " + s.stage("sft").gold());
        assertTrue(s.rewardHeldOut().accuracy() > 0.55, "reward model held-out accuracy " + s.rewardHeldOut());

        // PPO rolls out only on the families the reward model judges (held-out accuracy >= the gate), with the group
        // baseline (no critic, so no value metrics); the KL penalty keeps the policy near the reference. Whether PPO
        // raises the proxy and gold scores is measured by `align4j demo` on the full configuration (see the README).
        List<String> expected = new java.util.ArrayList<>();
        for (String f : tasks.families())
            if (s.rewardByFamily().containsKey(f) && s.rewardByFamily().get(f).accuracy() >= stages.ppoRmGate()
                    && s.rewardByFamily().get(f).n() >= RewardStage.MIN_GATE_PAIRS) expected.add(f);
        assertEquals(expected, s.ppoFamilies(), "gated families from " + s.rewardByFamily());
        assertTrue(!s.ppoFamilies().isEmpty() && s.rewardByFamily().size() >= 7, s.rewardByFamily().toString());
        List<Map<String, Object>> ppo = s.ppo();
        assertEquals(10, ppo.size());
        assertTrue(!ppo.get(0).containsKey("val/var_explained") && ppo.get(0).containsKey("loss/policy"), ppo.get(0).toString());
        for (Map<String, Object> line : ppo) {
            double kl = ((Number) line.get("objective/kl")).doubleValue();
            assertTrue(Double.isFinite(kl) && kl < 1.0, "KL stays bounded: " + line);
        }
        // Learning, not a level: chance is 0.5. (0.7 held before the fused attention; its reordered sums move this
        // seed's DPO trajectory to 0.6875 on Zen 5, with the same gold accuracy: 0.543 against 0.537.)
        for (List<Map<String, Object>> run : List.of(s.dpo(), s.simpo())) {
            double acc = mean(run.subList(run.size() - 20, run.size()), "rewards/accuracies");
            assertTrue(acc >= 0.6, (run == s.dpo() ? "dpo" : "simpo") + " train-pair preference accuracy " + acc);
        }
        for (String stage : new String[] {"pretrain", "sft", "rm", "ppo", "dpo", "simpo"})
            assertTrue(Files.isRegularFile(dir.resolve(stage).resolve("latest")), stage + " checkpoint");
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        assertEquals(6, summary.get("stages").size()); // base, pretrain, sft, ppo, dpo, simpo
        // each stage after SFT against SFT, paired on the same held-out tasks: the gain is the difference of the accuracies
        JsonNode sftRow = summary.get("stages").get(2);
        assertTrue(!sftRow.has("gain_vs_sft/greedy") && sftRow.get("stage").asText().equals("sft"), sftRow.toString());
        for (int i = 3; i < 6; i++) {
            JsonNode row = summary.get("stages").get(i);
            assertEquals(row.get("gold/accuracy").asDouble() - sftRow.get("gold/accuracy").asDouble(),
                    row.get("gain_vs_sft/greedy").asDouble(), 1e-12, row.toString());
            assertEquals(row.get("sample/sample_accuracy").asDouble() - sftRow.get("sample/sample_accuracy").asDouble(),
                    row.get("gain_vs_sft/sampled").asDouble(), 1e-12, row.toString());
            assertTrue(row.get("gain_vs_sft/greedy_se").asDouble() >= 0 && row.get("gain_vs_sft/sampled_se").asDouble() >= 0, row.toString());
        }
        assertTrue(PostTrainMain.table(s).contains("gain over SFT on " + tasks.testTasks() + " held-out tasks"), PostTrainMain.table(s));
        // from SFT on, every stage is also evaluated on training-split add and sub problems
        for (int i = 0; i < 6; i++) {
            JsonNode row = summary.get("stages").get(i);
            assertEquals(i >= 2, row.has("train_split/gold/accuracy/add") && row.has("train_split/sample/sample_accuracy/sub"),
                    row.toString());
        }
        PostTrainingPipeline.StageEval sftEval = s.stage("sft");
        assertEquals(PipelineContext.TRAIN_SPLIT_ARITHMETIC, sftEval.trainSplit().gold().n());
        assertEquals(java.util.Set.of("add", "sub"), sftEval.trainSplit().gold().familyAccuracy().keySet());
        for (PostTrainingPipeline.StageEval e : s.stages().subList(3, 6))
            assertEquals(e.trainSplit().gold().accuracy() - sftEval.trainSplit().gold().accuracy(),
                    e.onTrainSplit().greedyGain(sftEval.onTrainSplit()).gain(), 1e-12, e.stage());
        assertTrue(PostTrainMain.table(s).contains("the same on " + PipelineContext.TRAIN_SPLIT_ARITHMETIC
                + " arithmetic problems of the training split"), PostTrainMain.table(s));
        // best-of-n of the SFT policy against the reward model: n = 1 … 16; the pick's proxy score never falls with n
        JsonNode bon = summary.get("best_of_n");
        assertEquals(5, bon.size(), bon.toString());
        for (int q = 0; q < bon.size(); q++) {
            assertEquals(1 << q, bon.get(q).get("n").asInt());
            if (q > 0) assertTrue(bon.get(q).get("proxy").asDouble() >= bon.get(q - 1).get("proxy").asDouble() - 1e-9, bon.toString());
        }
        assertEquals(s.stage("sft").diversity().sampleAccuracy(), bon.get(0).get("gold").asDouble(), 0.1,
                "best-of-1 is the SFT policy's sampled accuracy (other prompts and samples): " + bon);
        assertEquals(seed, summary.get("seed").asLong());
        // every policy after the reward model measured by it on the same held-out prompts and samples as best-of-n
        JsonNode hp = summary.get("held_out_proxy");
        assertEquals(List.of("sft", "ppo", "dpo", "simpo"), iterableNames(hp));
        assertEquals(bon.get(0).get("proxy").asDouble(), hp.get("sft").get("proxy").asDouble(), 1e-12);
        assertEquals(bon.get(0).get("gold").asDouble(), hp.get("sft").get("gold").asDouble(), 1e-12);
        for (String st : new String[] {"ppo", "dpo", "simpo"}) {
            double g = hp.get(st).get("gold").asDouble(), p = hp.get(st).get("proxy").asDouble();
            assertTrue(g >= 0 && g <= 1 && Double.isFinite(p) && hp.get(st).get("samples").asInt() == 16, st + ": " + hp);
        }
        assertEquals(s.ppoFamilies().size(), summary.get("ppo_families").size());
        assertEquals(s.rewardByFamily().size(), summary.get("reward_model_by_family").size());
        for (String f : s.ppoFamilies())
            assertTrue(summary.get("reward_model_by_family").get(f).get("accuracy").asDouble() >= stages.ppoRmGate(), f);
        // pre-training: the mixture reached the instruction share of its last stage, and the loss fell
        List<String> pre = Files.readAllLines(dir.resolve("pretrain").resolve("metrics.jsonl"));
        assertEquals(40, pre.size());
        JsonNode first = new ObjectMapper().readTree(pre.get(0)), lastLine = new ObjectMapper().readTree(pre.get(39));
        assertEquals(0.5, lastLine.get("mix_share").asDouble(), 1e-12);
        assertTrue(lastLine.get("eval_loss").asDouble() < first.get("loss").asDouble(), "pre-training loss falls: " + pre.get(39));
        // samples: the first judged responses of every evaluated stage
        List<String> samples = Files.readAllLines(dir.resolve(PostTrainingPipeline.SAMPLES));
        assertEquals(6 * 8, samples.size());
        assertTrue(samples.get(0).contains("\"stage\":\"base\"") && samples.get(samples.size() - 1).contains("\"stage\":\"simpo\""));
        // the report of the real run folder: every plot with data
        Path html = dev.align4j.report.ReportWriter.write(dir);
        String page = Files.readString(html);
        for (String plot : new String[] {"loss_pretrain", "loss_sft", "rm_accuracy", "ppo_reward", "gold_accuracy", "overoptimisation",
                "best_of_n", "entropy"})
            assertTrue(Files.size(dir.resolve("plots").resolve(plot + ".png")) > 5000, plot);
        assertTrue(page.contains("data:image/png;base64,") && !page.contains("src=\"http"), "self-contained report");
    }

    @Test
    void theRewardModelGateKeepsTheFamiliesItJudges() {
        dev.align4j.data.tasks.TaskSuite suite = dev.align4j.data.tasks.TaskSuite.level(1).only("max", "add", "sub", "sort", "upper");
        Map<String, dev.align4j.eval.RewardAccuracy> by = new java.util.LinkedHashMap<>();
        by.put("add", new dev.align4j.eval.RewardAccuracy(0.49, 0, 0, 0, 88));
        by.put("max", new dev.align4j.eval.RewardAccuracy(0.99, 0, 0, 0, 87));
        by.put("sort", new dev.align4j.eval.RewardAccuracy(0.60, 0, 0, 0, 198)); // at the gate: kept
        by.put("upper", new dev.align4j.eval.RewardAccuracy(1.0, 0, 0, 0, 3)); // 3 pairs: too few to judge, left out
        // sub has no held-out pair: it cannot be judged, so it is left out
        List<String> order = suite.families().stream().map(dev.align4j.data.tasks.TaskFamily::name).toList();
        assertEquals(order.stream().filter(f -> f.equals("max") || f.equals("sort")).toList(), RewardStage.gate(by, 0.6, suite),
                "kept in the suite's order");
        assertEquals(order, RewardStage.gate(by, 0, suite), "gate 0: every family");
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> RewardStage.gate(by, 0.995, suite));
        assertTrue(e.getMessage().contains("no task family passes ppoRmGate 0.995") && e.getMessage().contains("add 0.490 (88)"),
                e.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> PipelineConfig.small(1).stages().withPpoRmGate(1.5));
    }

    static List<String> iterableNames(JsonNode n) {
        List<String> out = new java.util.ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    static double mean(List<Map<String, Object>> lines, String key) {
        return lines.stream().mapToDouble(l -> ((Number) l.get(key)).doubleValue()).average().orElseThrow();
    }
}
