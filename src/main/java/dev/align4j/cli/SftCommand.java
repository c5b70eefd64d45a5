package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.SftExample;
import dev.align4j.data.TokenizedSft;
import dev.align4j.model.CausalLm;
import dev.align4j.model.LmConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.SftConfig;
import dev.align4j.train.SftTrainer;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code align4j sft}: supervised fine-tuning ({@link SftTrainer}). */
@Command(name = "sft", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = {"Supervised fine-tuning (SFT) on a data file or the built-in tasks.",
                "Data: --data FILE --format alpaca|self-instruct|oasst|messages|prompt-completion, or --tasks N.",
                "Starts from --init MODEL or a fresh model of the size flags. Loss on the responses."},
        footer = {"", "Evaluation runs on the --holdout examples (default 0: none).",
                "Writes --out: metrics.jsonl, step-N/ checkpoints, latest, final model in model/."})
public final class SftCommand extends BaseCommand {
    @Mixin DataOptions data = new DataOptions();
    @Mixin ModelOptions model = new ModelOptions();
    @Mixin RunOptions runOptions = new RunOptions();
    @Mixin LoraOptions lora = new LoraOptions();

    @Option(names = "--max-tokens", paramLabel = "N", description = "truncate examples to N tokens (default: the model's context)")
    Integer maxTokens;

    public SftCommand() {
        super(SftConfig.defaults());
    }

    @Override
    protected int run() throws Exception {
        data.requireSource();
        runOptions.check();
        Path out = runOptions.out;
        boolean resume = runOptions.resume;
        SftConfig cfg = config(SftConfig.defaults());
        double holdout = data.holdout(0);
        Device device = device();
        CausalLm gpt = null;
        try {
            LmConfig gc;
            Tokenizer tok;
            if (resume) { // the run's own settings and model; only the data options come from this command line
                lora.refuseOnResume();
                cfg = resumed(out, () -> SftTrainer.savedConfig(out));
                gc = ModelPaths.checkpointConfig(out);
                tok = ChatTokenizers.forModel(out, "--out", model.tokenizer, gc.vocabSize());
            } else {
                gc = model.config();
                tok = model.init != null ? ChatTokenizers.forModel(model.init, "--init", model.tokenizer, gc.vocabSize())
                        : model.tokenizer(gc);
                int t = Data.maxTokens(maxTokens, gc.nCtx());
                MemoryBudget.requireTraining(gc, cfg.batchSize(), t, device, model.flags(gc),
                        "--batch " + cfg.batchSize() + " --max-tokens " + t);
                gpt = model.model(device, cfg.seed());
                lora.apply(gpt, "--init", cfg.seed(), this);
            }
            Encoder enc = new Encoder(tok, Data.maxTokens(maxTokens, gc.nCtx()));
            dev.align4j.tokenizer.ChatFormatter chat = ChatTokenizers.formatter(tok, resume ? "--out" : "--init");
            if (chat != null) {
                enc = enc.withChat(chat);
                info("chat data rendered with the model's chat template; loss on the assistant replies (%s)", tok.name());
            }
            Data.Split2<SftExample> ex;
            if (data.data != null) ex = Data.split(Data.readSft(this, data.data, data.format, data), holdout, cfg.seed());
            else {
                Data.Split2<dev.align4j.data.tasks.Task> t = Data.tasks(data, data.tasks, holdout, cfg.seed());
                ex = new Data.Split2<>(Data.toSft(t.train()), Data.toSft(t.eval()));
            }
            List<TokenizedSft> trainSet = Data.encodeSft(enc, ex.train()), evalSet = Data.encodeSft(enc, ex.eval());
            info("%d train / %d held-out examples (%d truncated to %d tokens%s), model %s, %s tokenizer, %s",
                    trainSet.size(), evalSet.size(), enc.truncated(), enc.maxTokens(),
                    enc.split() > 0 ? ", " + enc.split() + " conversations split into one example per reply" : "",
                    ModelPaths.describe(gc), tok.name(), device);
            runOptions.ready();
            if (!resume && Launch.primary()) ChatTokenizers.copyFiles(tok, out);
            try (SftTrainer t = resume ? SftTrainer.resume(out, trainSet, evalSet, tok.padId(), device)
                    : SftTrainer.create(gpt, cfg, trainSet, evalSet, tok.padId(), out)) {
                if (resume) info("resuming at step %d of %d%s", t.steps(), t.totalSteps(), t.topologyNote());
                t.withProgress(progress("sft"));
                beginTraining();
                t.train();
                Path saved = ModelPaths.saveFinal(t.model(), runOptions);
                result("sft: model saved to %s (run folder %s)", saved, out);
            }
        } finally {
            if (gpt != null) gpt.close();
        }
        return 0;
    }
}
