package dev.align4j.pipeline;

import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.model.RewardModel;
import dev.align4j.model.ScalarHead;
import dev.align4j.rl.GoldScore;
import dev.align4j.rl.PpoConfig;
import dev.align4j.rl.PpoTrainer;
import dev.align4j.rl.RewardScale;
import dev.align4j.tokenizer.Tokenizer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * PPO from the SFT policy against the reward model, standardised on the SFT policy's samples, on the prompts of the
 * families the reward model judges; the gold checker's score is logged beside the proxy reward.
 */
record PpoStage(String name, PpoConfig config) implements Stage {
    /** Held-out tasks whose greedy gold accuracy PPO logs on its eval steps. */
    static final int PROBE_TASKS = 100;

    @Override
    public CausalLm run(PipelineContext ctx) throws IOException {
        Tokenizer tok = ctx.enc.tokenizer();
        List<String> families = ctx.preferences().ppoFamilies();
        List<Task> tasks = ctx.ppoTasks.stream().filter(t -> families.contains(t.family())).toList();
        List<int[]> prompts = new ArrayList<>(tasks.size());
        for (Task t : tasks) prompts.add(ctx.enc.encodePrompt(t.prompt()));
        CausalLm sft = ctx.sft();
        RewardModel rm = ctx.rm();
        RewardScale reward = RewardScale.fit(rm, sft, ctx.enc, tasks, config, ctx.config.seed() + 12, ctx.log);
        boolean critic = config.advantage().baseline() == PpoConfig.Baseline.CRITIC;
        return Stage.trainCopy(sft, policy -> {
            try (CausalLm ref = sft.copy(); CausalLm v = critic ? rm.backbone().copy() : null; ScalarHead head = critic ? reward.criticHead() : null;
                 PpoTrainer tr = PpoTrainer.create(policy, ref, v, head, reward, prompts, config,
                         new PpoTrainer.Ids(tok.eosId(), tok.padId()), ctx.dir(name))) {
                tr.withGoldJudge(GoldScore.judge(tasks, tok))
                        .withEvalHook(p -> Map.of("gold_accuracy", ctx.goldAccuracy(p, PROBE_TASKS)));
                tr.withProgress(ctx.progress(name));
                ctx.metrics(name, tr.train());
            }
        });
    }
}
