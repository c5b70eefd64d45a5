package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.SftExample;
import dev.align4j.data.lm.BatchSource;
import dev.align4j.data.lm.InstructionSource;
import dev.align4j.data.lm.MidTrainingMixture;
import dev.align4j.data.lm.TextCorpus;
import dev.align4j.data.lm.TokenizedInstructions;
import dev.align4j.model.CausalLm;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.LmTrainConfig;
import dev.align4j.train.LmTrainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code align4j pretrain}: language-model training on a text file ({@link LmTrainer}), optionally mixed with
 * instruction data on a {@link MidTrainingMixture} schedule (mid-training).
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = {"Language-model pre-training of a GPT on a text file.",
                "Random windows of --data (the last --val-fraction for validation); optionally",
                "mixes in instruction examples (--instructions FILE --format F, or --tasks N)",
                "on a --mixture schedule (mid-training)."},
        footer = {"",
                "--mixture FROM:SHARE,...: from fraction FROM of the steps on, a share SHARE of",
                "the sequences are instruction examples (default 0:0,0.7:0.1,0.8:0.3,0.9:0.5).",
                "Writes --out: metrics.jsonl, step-N/ checkpoints, latest, final model in model/."})
public final class PretrainCommand extends BaseCommand {
    @Mixin LmRunOptions lm = new LmRunOptions();

    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--seq", paramLabel = "T", description = "training sequence length (default: the model's context)")
    Integer seq;

    @Option(names = "--instructions", paramLabel = "FILE", description = "instruction data mixed in (with --format)")
    Path instructions;

    @Option(names = "--format", paramLabel = "FORMAT", description = "format of --instructions: alpaca, self-instruct, oasst, messages, prompt-completion")
    String format;

    @Option(names = "--skip-bad", description = "skip bad records of --instructions and print the counts")
    boolean skipBad;

    @Option(names = "--max-records", paramLabel = "N", description = "read at most N records of --instructions (0: all)")
    long maxRecords;

    @Option(names = "--tasks", paramLabel = "N", description = "mix in N examples of the built-in task suite (train split)")
    Integer tasks;

    @Option(names = "--level", paramLabel = "L", description = "task difficulty of --tasks (default 2)")
    int level = 2;

    @Option(names = "--mixture", paramLabel = "SCHEDULE", description = "instruction share schedule FROM:SHARE,...")
    String mixture;

    /** "0:0,0.7:0.1,0.8:0.3" → the schedule. */
    static MidTrainingMixture parseMixture(String s) {
        List<Double> v = new ArrayList<>();
        for (String stage : s.split(",")) {
            String[] fs = stage.trim().split(":");
            if (fs.length != 2) throw CliException.usage("--mixture: expected FROM:SHARE,... (e.g. 0:0,0.7:0.1), got '" + s + "'");
            try {
                v.add(Double.parseDouble(fs[0].trim()));
                v.add(Double.parseDouble(fs[1].trim()));
            } catch (NumberFormatException e) {
                throw CliException.usage("--mixture: not a number in '" + stage + "'");
            }
        }
        try {
            return MidTrainingMixture.of(v.stream().mapToDouble(Double::doubleValue).toArray());
        } catch (IllegalArgumentException e) {
            throw CliException.usage("--mixture: " + e.getMessage());
        }
    }

    public PretrainCommand() {
        super(LmTrainConfig.defaults());
    }

    @Override
    protected int run() throws Exception {
        lm.check();
        boolean resume = lm.run.resume;
        if (instructions != null && tasks != null) throw CliException.usage("--instructions and --tasks exclude each other");
        if (instructions != null && format == null) throw CliException.usage("--instructions needs --format");
        boolean mixing = instructions != null || tasks != null;
        if (mixing && instructions != null) requireFile(instructions, "--instructions");
        if (mixture != null && !mixing) throw CliException.usage("--mixture needs --instructions FILE or --tasks N");
        LmTrainConfig d = LmTrainConfig.defaults();
        Tokenizer tok;
        LmTrainConfig cfg;
        dev.align4j.model.LmConfig gc;
        if (resume) { // the run's saved settings and weights; the data options come from this command line
            cfg = resumed(lm.run.out, () -> LmTrainer.savedConfig(lm.run.out));
            gc = ModelPaths.checkpointConfig(lm.run.out);
            tok = ChatTokenizers.forModel(lm.run.out, "--out", model.tokenizer, gc.vocabSize());
        } else { // nothing is allocated or created until every input has been checked
            gc = model.config();
            tok = model.init != null ? ChatTokenizers.forModel(model.init, "--init", model.tokenizer, gc.vocabSize())
                    : model.tokenizer(gc);
            cfg = LmRunOptions.config(this, gc.nCtx());
        }
        Device device = device();
        MemoryBudget.requireTraining(gc, cfg.batchSize(), cfg.seqLen(), device, resume ? "--resume " + lm.run.out : model.flags(gc),
                "--batch " + cfg.batchSize() + " --seq " + cfg.seqLen());
        long seed = cfg.seed();
        int t = cfg.seqLen();
        TextCorpus corpus = lm.corpus(tok, cfg);
        BatchSource source;
        if (mixing) {
            Encoder enc = new Encoder(tok, t + 1);
            List<SftExample> ex;
            if (instructions != null) {
                DataOptions o = new DataOptions();
                o.skipBad = skipBad;
                o.maxRecords = maxRecords;
                ex = Data.readSft(this, instructions, format, o);
            } else {
                DataOptions o = new DataOptions();
                o.level = level;
                ex = Data.toSft(Data.tasks(o, tasks, 0, seed).train());
            }
            InstructionSource src = new TokenizedInstructions(Data.encodeSft(enc, ex), tok.padId());
            MidTrainingMixture mix = mixture != null ? parseMixture(mixture) : MidTrainingMixture.DEFAULT;
            source = BatchSource.mixed(corpus.train(), src, mix, seed);
            info("mixing %d instruction examples on %s", src.size(), mix);
        } else {
            source = BatchSource.text(corpus.train(), seed);
        }
        info("%d train / %d val tokens (%s tokenizer), model %s, %d parameters, %s", corpus.train().length(),
                corpus.val().length(), tok.name(), ModelPaths.describe(gc), gc.numParameters(), device);
        lm.run.ready();
        CausalLm gpt = resume ? null : model.model(device, cfg.seed());
        try {
            LmTrainer trainer = resume ? LmTrainer.resume(lm.run.out, source, corpus.val(), device)
                    : LmTrainer.create(gpt, cfg, source, corpus.val(), lm.run.out);
            gpt = null; // the trainer owns it now
            try (trainer) {
                if (resume) info("resuming at step %d of %d", trainer.steps(), trainer.config().steps());
                trainer.withProgress(progress("pretrain"));
                beginTraining();
                trainer.train();
                Path saved = ModelPaths.saveFinal(trainer.model(), lm.run);
                result("pretrain: model saved to %s (run folder %s)", saved, lm.run.out);
            }
        } finally {
            if (gpt != null) gpt.close();
        }
        return 0;
    }
}
