package dev.align4j.cli;

import dev.align4j.data.lm.BatchSource;
import dev.align4j.data.lm.TextCorpus;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.LmTrainConfig;
import dev.align4j.train.LmTrainer;
import dev.align4j.train.TrainLm;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code align4j train-lm}: the older LM trainer ({@link TrainLm}) — a fresh GPT on a text file whose context is
 * {@code --seq}, logged as plain lines; {@code pretrain} is the newer command (--init, mid-training, progress bar).
 */
@Command(name = "train-lm", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = {"The older LM trainer: a fresh GPT on a text file (see also: pretrain).",
                "The model's context is --seq; a log line every --log-every steps and at",
                "each evaluation. --resume continues the run in --out from its latest",
                "checkpoint with its saved settings (give the same --data)."},
        footer = {"", "Defaults: pretrain's (LmTrainConfig and the fresh model; see align4j pretrain",
                "--help), the context being --seq. Writes --out: metrics.jsonl, step-N/",
                "checkpoints, latest (no final model/ folder)."})
public final class TrainLmCommand extends BaseCommand {
    @Mixin LmRunOptions lm = new LmRunOptions();

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "tokenizer (default byte, vocabulary 320)")
    String tokenizer;

    @Option(names = "--layers", paramLabel = "N", description = "transformer blocks (default " + ModelOptions.LAYERS + ")")
    Integer layers;

    @Option(names = "--heads", paramLabel = "N", description = "attention heads (default " + ModelOptions.HEADS + ")")
    Integer heads;

    @Option(names = "--embd", paramLabel = "N", description = "width (default " + ModelOptions.EMBD + ")")
    Integer embd;


    @Option(names = "--seq", paramLabel = "T", description = "sequence length = the model's context (at most " + ModelOptions.MAX_CTX + ")")
    Integer seq;

    @Option(names = "--log-every", paramLabel = "N", description = "steps between log lines (default 10)")
    int logEvery = 10;

    public TrainLmCommand() {
        super(LmTrainConfig.defaults());
    }

    @Override
    protected int run() throws Exception {
        lm.check();
        boolean resume = lm.run.resume;
        if (logEvery < 1) throw CliException.usage("--log-every must be >= 1, got " + logEvery);
        LmTrainConfig d = LmTrainConfig.defaults();
        Tokenizer tok = ModelPaths.freshTokenizer(tokenizer);
        LmTrainConfig cfg;
        GptConfig model;
        if (resume) { // the run's saved settings (its data seed included) and shape
            cfg = resumed(lm.run.out, () -> LmTrainer.savedConfig(lm.run.out));
            if (!(ModelPaths.checkpointConfig(lm.run.out) instanceof GptConfig g))
                throw CliException.usage("--resume " + lm.run.out + ": not a train-lm run (its model is not GPT-2)");
            model = g;
        } else {
            cfg = LmRunOptions.config(this, d.seqLen());
            int t = cfg.seqLen();
            model = ModelOptions.shape(layers, heads, embd, t, "--seq", tok.vocabSize());
        }
        Device device = device();
        MemoryBudget.requireTraining(model, cfg.batchSize(), cfg.seqLen(), device, ModelOptions.flags(model, "--seq"),
                "--batch " + cfg.batchSize() + " --seq " + cfg.seqLen());
        TextCorpus corpus = lm.corpus(tok, cfg);
        info("%d train / %d val tokens (%s), device %s", corpus.train().length(), corpus.val().length(), tok.name(), device);
        lm.run.ready();
        BatchSource source = BatchSource.text(corpus.train(), cfg.seed());
        try (LmTrainer trainer = resume ? LmTrainer.resume(lm.run.out, source, corpus.val(), device)
                : LmTrainer.create(model, device, cfg, source, corpus.val(), lm.run.out)) {
            info("%s, %d parameters, from step %d of %d", trainer.model().config(), trainer.model().params().numel(),
                    trainer.steps(), trainer.config().steps());
            beginTraining();
            Path last = TrainLm.train(trainer, logEvery, out()::println);
            info("done; checkpoint %s", last);
        }
        return 0;
    }
}
