package dev.align4j.pipeline;

import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.rl.GrpoConfig;
import dev.align4j.rl.GrpoTrainer;
import dev.align4j.rl.reward.CombinedReward;
import dev.align4j.rl.reward.RewardFunctions;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * GRPO from the SFT policy with the gold checker as its reward (RLVR, the lecture's next step): no reward model, so
 * it rolls out on every family, the arithmetic the reward model cannot judge included. The SFT policy is the frozen
 * reference that {@code objective/kl} is measured against (β stays as configured; 0 by default).
 */
record GrpoStage(String name, GrpoConfig config) implements Stage {
    @Override
    public CausalLm run(PipelineContext ctx) throws IOException {
        List<GrpoTrainer.Prompt> prompts = new ArrayList<>(ctx.grpoTasks.size());
        for (Task t : ctx.grpoTasks) prompts.add(new GrpoTrainer.Prompt(ctx.enc.encodePrompt(t.prompt()), t));
        CausalLm sft = ctx.sft();
        return Stage.trainCopy(sft, policy -> {
            try (CausalLm ref = sft.copy(); CombinedReward gold = CombinedReward.of(RewardFunctions.gold());
                 GrpoTrainer tr = GrpoTrainer.create(policy, ref, gold, prompts, ctx.enc.tokenizer(), config, ctx.dir(name))) {
                tr.withEvalHook(p -> Map.of("gold_accuracy", ctx.goldAccuracy(p, PpoStage.PROBE_TASKS)));
                tr.withProgress(ctx.progress(name));
                ctx.metrics(name, tr.train());
            }
        });
    }
}
