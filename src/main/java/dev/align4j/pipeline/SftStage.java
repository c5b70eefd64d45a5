package dev.align4j.pipeline;

import dev.align4j.data.TokenizedSft;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.train.SftConfig;
import dev.align4j.train.SftTrainer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** SFT on the task suite, from the pre-trained model (or the base model); its result is the SFT policy. */
record SftStage(String name, SftConfig config) implements Stage {
    @Override
    public CausalLm run(PipelineContext ctx) throws IOException {
        CausalLm model = ctx.sftStart();
        List<TokenizedSft> data = new ArrayList<>();
        for (Task t : ctx.sftTasks) data.add(ctx.enc.encode(t.toSft()));
        try (SftTrainer tr = SftTrainer.create(model, config, data, null, ctx.padId(), ctx.dir(name))) {
            tr.withProgress(ctx.progress(name));
            tr.train();
        }
        ctx.sftTrained();
        return model;
    }
}
