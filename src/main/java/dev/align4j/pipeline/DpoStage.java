package dev.align4j.pipeline;

import dev.align4j.model.CausalLm;
import dev.align4j.train.DpoConfig;
import dev.align4j.train.DpoTrainer;
import java.io.IOException;

/** DPO (or SimPO, by its config's loss) from the SFT policy on the reward model's pairs; the reward model only measures it. */
record DpoStage(String name, DpoConfig config) implements Stage {
    @Override
    public CausalLm run(PipelineContext ctx) throws IOException {
        PipelineContext.Preferences p = ctx.preferences();
        return Stage.trainCopy(ctx.sft(), policy -> {
            try (DpoTrainer tr = DpoTrainer.create(policy, null, config, p.trainPairs(), p.heldOutPairs(), ctx.padId(), ctx.dir(name))) {
                tr.withProgress(ctx.progress(name));
                ctx.metrics(name, tr.train());
            }
        });
    }
}
