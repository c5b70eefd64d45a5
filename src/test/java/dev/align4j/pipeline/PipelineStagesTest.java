package dev.align4j.pipeline;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.model.GptConfig;
import dev.align4j.rl.PpoConfig;
import dev.align4j.tensor.Device;
import dev.align4j.train.ProgressListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline's order as data ({@link PostTrainingPipeline#stages}) and the step after each stage, on a micro
 * configuration that runs in seconds (PostTrainingPipelineTest runs the measured one for minutes). The test-wide
 * leak check also holds every run here to closing each model it made, on failure too.
 */
class PipelineStagesTest {
    static final List<String> ALL = List.of("pretrain", "sft", "rm", "ppo", "ppo_overopt", "dpo", "simpo", "grpo");

    @Test
    void theStagesAreThoseTheConfigAsksForInTheDemosOrder() {
        PipelineConfig demo = PipelineConfig.demo(1);
        assertEquals(ALL, names(demo));
        assertEquals(ALL.subList(1, ALL.size()), names(PipelineConfig.small(1)));
        assertEquals(List.of("pretrain", "sft", "rm", "ppo", "dpo", "simpo", "grpo"),
                names(demo.withStages(demo.stages().withOverOptBeta(-1))));
        assertEquals(List.of("pretrain", "sft", "rm", "ppo", "ppo_overopt", "dpo", "simpo"),
                names(demo.withStages(demo.stages().withGrpo(null))));
        // the over-optimisation run is PPO with the weak KL coefficient (no adaptive target) and nothing else changed
        PpoConfig ppo = demo.stages().ppo();
        PpoConfig weak = ((PpoStage) PostTrainingPipeline.stages(demo.withStages(demo.stages().withOverOptBeta(0.02))).get(4)).config();
        assertEquals(0.02f, weak.kl().beta());
        assertEquals(0.0, weak.kl().target());
        assertEquals(ppo, weak.withKl(ppo.kl()));
        assertEquals(0.6, ((RewardStage) PostTrainingPipeline.stages(demo).get(2)).gate());
    }

    @Test
    void aRunEvaluatesRecordsAndWritesEveryStageInOrder(@TempDir Path dir) throws Exception {
        long seed = System.nanoTime();
        PipelineConfig c = micro(seed, true).withStages(micro(seed, true).stages().withOverOptBeta(0));
        Map<String, Long> progress = new ConcurrentHashMap<>();
        List<String> log = new ArrayList<>();
        String at = "seed " + seed;
        // a failure names the seed, so a rare one (an empty greedy answer, say) can be replayed
        PostTrainingPipeline.Summary s = assertDoesNotThrow(() -> PostTrainingPipeline.run(c, Device.cpu(), dir.resolve("a"), log::add,
                stage -> (step, total, m) -> progress.merge(stage, 1L, Long::sum)), at);
        assertEquals(Map.of("pretrain", 2L, "sft", 2L, "pairs", pairBatches(c), "rm", 2L, "ppo", 1L, "ppo_overopt", 1L, "dpo", 2L,
                "simpo", 2L, "grpo", 2L), progress, at);
        List<String> evaluated = List.of("base", "pretrain", "sft", "ppo", "ppo_overopt", "dpo", "simpo", "grpo");
        assertEquals(evaluated, s.stages().stream().map(PostTrainingPipeline.StageEval::stage).toList(), at);
        for (PostTrainingPipeline.StageEval e : s.stages()) {
            assertEquals(List.of("base", "pretrain", "sft").contains(e.stage()), e.vsSft() == null, "win rate vs SFT after SFT: " + e.stage());
            assertEquals(null, e.trainSplit(), "the micro suite has no add or sub: " + e.stage());
        }
        // every policy after the reward model is scored by it on the same held-out samples; the SFT policy's is its best-of-n
        assertEquals(List.of("sft", "ppo", "ppo_overopt", "dpo", "simpo", "grpo"), List.copyOf(s.heldOutProxy().keySet()), at);
        assertTrue(s.heldOutProxy().get("sft") == s.bestOfN(), at);
        assertEquals(List.of(1, 1, 2, 2, 2), List.of(s.ppo().size(), s.overOpt().size(), s.dpo().size(), s.simpo().size(), s.grpo().size()),
                at);
        for (String stage : ALL)
            assertTrue(Files.isRegularFile(dir.resolve("a").resolve(stage).resolve("metrics.jsonl")), stage + " metrics, " + at);
        // samples.jsonl: each evaluated stage's block, in order
        List<String> stagesOfSamples = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("a").resolve(PostTrainingPipeline.SAMPLES))) {
            String stage = new ObjectMapper().readTree(line).get("stage").asText();
            if (stagesOfSamples.isEmpty() || !stagesOfSamples.get(stagesOfSamples.size() - 1).equals(stage)) stagesOfSamples.add(stage);
        }
        assertEquals(evaluated, stagesOfSamples, at);
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("a").resolve("summary.json").toFile());
        List<String> summaryStages = new ArrayList<>();
        summary.get("stages").forEach(n -> summaryStages.add(n.get("stage").asText()));
        assertEquals(evaluated, summaryStages, at);
        assertTrue(log.stream().anyMatch(l -> l.startsWith("simpo: ")), log.toString());

        // the same config and seed again: the same figures, wall-clock times aside
        PostTrainingPipeline.run(c, Device.cpu(), dir.resolve("b"), line -> {}, stage -> (step, total, m) -> {});
        assertTrue(withoutTimes(dir.resolve("a")).equals(withoutTimes(dir.resolve("b"))), "runs a and b differ, " + at);
    }

    @Test
    void theTrainingSplitsArithmeticIsItsAddAndSubProblems(@TempDir Path dir) throws Exception {
        PipelineConfig c = micro(1, false);
        PipelineConfig withArithmetic = c.withTasks(new PipelineConfig.Tasks(1, List.of("upper", "add", "sub"), 16, 12, 16, 16, 12, 24));
        try (CausalLm base = CausalLm.create(c.model(), Device.cpu(), 1);
             PipelineContext plain = new PipelineContext(c, base, dir.resolve("a"), line -> {}, stage -> ProgressListener.NONE);
             PipelineContext ctx = new PipelineContext(withArithmetic, base, dir.resolve("b"), line -> {}, stage -> ProgressListener.NONE)) {
            assertEquals(List.of(), plain.trainArithmetic, "no add or sub in the suite: nothing to evaluate");
            assertEquals(PipelineContext.TRAIN_SPLIT_ARITHMETIC, ctx.trainArithmetic.size());
            Map<String, Long> perFamily = new java.util.TreeMap<>();
            for (Task t : ctx.trainArithmetic) {
                assertEquals(Split.TRAIN, ctx.suite.splitOf(t), t.toString());
                perFamily.merge(t.family(), 1L, Long::sum);
            }
            assertEquals(Map.of("add", 100L, "sub", 100L), perFamily);
        }
    }

    @Test
    void aFailingStageClosesWhatTheRunHolds(@TempDir Path dir) {
        long seed = System.nanoTime();
        // no micro reward model judges a family at 0.999 on >= 20 held-out pairs: the rm stage fails after training it
        PipelineConfig c = micro(seed, false).withStages(micro(seed, false).stages().withPpoRmGate(0.999));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> PostTrainingPipeline.run(c, Device.cpu(), dir, line -> {}, stage -> (step, total, m) -> {}));
        assertTrue(e.getMessage().contains("no task family passes ppoRmGate 0.999"), e.getMessage());
    }

    static List<String> names(PipelineConfig c) {
        return PostTrainingPipeline.stages(c).stream().map(Stage::name).toList();
    }

    /** The demo's configuration shrunk to a micro model and a few steps of each stage. */
    static PipelineConfig micro(long seed, boolean pretrain) {
        PipelineConfig demo = PipelineConfig.demo(seed);
        PipelineConfig.Stages s = demo.stages();
        PipelineConfig.Pretrain p = demo.pretrain();
        return new PipelineConfig(new GptConfig(1, 2, 16, 64, demo.model().vocabSize()),
                new PipelineConfig.Tasks(1, List.of("upper", "reverse", "max"), 16, 12, 16, 16, 12, 24),
                pretrain ? new PipelineConfig.Pretrain(200, 8, p.mixture(), p.lm().withSteps(2).withBatch(4, 64, 1).withLr(2e-3, 2e-4, 1)
                        .withEval(2, 1)) : null,
                // gold answers against the micro policy's wrong samples: pairs even when every sample is wrong
                new PipelineConfig.Stages(s.sft().withSteps(2).withBatch(4, 1), s.pairs().withSamples(2).withFallbacks(true, true),
                        s.rm().withSteps(2).withBatchSize(4), 0, s.ppo().withSteps(1).withBatches(8, 8, 1).withGeneration(6, 1.0, 0)
                        .withSchedule(0, 0), -1, s.dpo().withSteps(2).withBatch(4, 1), s.simpo().withSteps(2).withBatch(4, 1),
                        s.grpo().withSteps(2).withBatches(4, 2, 8, 1).withDecoding(6, 1.0, 0, 1.0).withSchedule(1, 0)),
                new PipelineConfig.Eval(6, 2), seed);
    }

    /** summary.json and every stage's metrics.jsonl with their wall-clock fields removed (at any depth). */
    static Map<String, List<JsonNode>> withoutTimes(Path run) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, List<JsonNode>> out = new java.util.TreeMap<>();
        out.put("summary.json", List.of(withoutTimes(json.readTree(run.resolve("summary.json").toFile()))));
        for (String stage : ALL) {
            List<JsonNode> lines = new ArrayList<>();
            for (String line : Files.readAllLines(run.resolve(stage).resolve("metrics.jsonl"))) lines.add(withoutTimes(json.readTree(line)));
            out.put(stage, lines);
        }
        return out;
    }

    static JsonNode withoutTimes(JsonNode n) {
        if (n instanceof ObjectNode o) o.remove(List.of("seconds", "train_seconds", "time_s", "tokens_per_s"));
        n.forEach(PipelineStagesTest::withoutTimes);
        return n;
    }

    /** The generation batches of the reward stage's pair sampling (its progress bar's steps). */
    static long pairBatches(PipelineConfig c) {
        long rows = (long) c.tasks().pairTasks() * c.stages().pairs().samplesPerPrompt();
        return (rows + c.stages().pairs().batchSize() - 1) / c.stages().pairs().batchSize();
    }
}
