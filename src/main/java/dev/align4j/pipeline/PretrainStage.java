package dev.align4j.pipeline;

import dev.align4j.data.TokenizedSft;
import dev.align4j.data.lm.BatchSource;
import dev.align4j.data.lm.TextCorpus;
import dev.align4j.data.lm.TokenizedInstructions;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskCorpus;
import dev.align4j.model.CausalLm;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.LmTrainer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** Language modelling on the generated corpus with the instruction mixture; SFT starts from its result. */
record PretrainStage(String name, PipelineConfig.Pretrain config) implements Stage {
    @Override
    public CausalLm run(PipelineContext ctx) throws IOException {
        Tokenizer tok = ctx.enc.tokenizer();
        long s = ctx.config.seed();
        TextCorpus corpus = TextCorpus.of(TaskCorpus.generate(ctx.suite, config.corpusSentences(), s + 9), tok,
                TextCorpus.DEFAULT_VAL_FRACTION);
        List<TokenizedSft> instr = new ArrayList<>();
        for (Task t : ctx.suite.generate(config.instructionTasks(), s + 10, Split.TRAIN)) instr.add(ctx.enc.encode(t.toSft()));
        BatchSource source = BatchSource.mixed(corpus.train(), new TokenizedInstructions(instr, tok.padId()), config.mixture(), s + 11);
        ctx.log.accept(String.format("pretrain: %d bytes of generated prose, %d instruction examples mixed in on %s",
                corpus.train().length(), instr.size(), config.mixture().stages()));
        CausalLm model = ctx.base.copy();
        LmTrainer tr;
        try {
            tr = LmTrainer.create(model, config.lm(), source, corpus.val(), ctx.dir(name));
        } catch (RuntimeException | IOException e) {
            model.close(); // create leaves the model to the caller when it fails
            throw e;
        }
        try (tr) { // the trainer owns (and closes) its model: hand back a copy
            tr.withProgress(ctx.progress(name)).train();
            CausalLm trained = tr.model().copy();
            ctx.pretrained(trained);
            return trained;
        }
    }
}
