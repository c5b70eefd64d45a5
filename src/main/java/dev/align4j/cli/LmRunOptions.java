package dev.align4j.cli;

import dev.align4j.data.lm.TextCorpus;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.LmTrainConfig;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What the two LM trainers on a text file ({@code pretrain}, {@code train-lm}) share (a mixin): the corpus, its checks,
 * and the {@link LmTrainConfig} of the training options.
 */
public final class LmRunOptions {
    @Option(names = "--data", paramLabel = "FILE", required = true, description = "UTF-8 text corpus")
    Path data;

    @Mixin RunOptions run = new RunOptions();

    /** Before anything is loaded: --data is a readable file, and --out may take a new run (see {@link RunOptions#check}). */
    void check() {
        BaseCommand.requireFile(data, "--data");
        run.check();
    }

    @Option(names = "--val-fraction", paramLabel = "F", description = "share of the text held out for validation (default 0.1)")
    double valFraction = TextCorpus.DEFAULT_VAL_FRACTION;

    /** The command's {@link LmTrainConfig}, its options applied, with sequences of {@code seq} tokens unless --seq says otherwise. */
    static LmTrainConfig config(BaseCommand command, int seq) {
        LmTrainConfig d = LmTrainConfig.defaults();
        return command.config(d.withBatch(d.batchSize(), seq, d.gradAccum()));
    }

    /**
     * The text of --data, split for training and validation; too short for one sequence of {@code cfg} (in the
     * training part, or in the validation part when the run evaluates) is a usage error naming --data and the file.
     */
    TextCorpus corpus(Tokenizer tok, LmTrainConfig cfg) throws IOException {
        TextCorpus corpus = TextCorpus.read(data, tok, valFraction);
        int t = cfg.seqLen();
        String need = "fewer than one sequence of --seq " + t + " + 1 tokens";
        if (corpus.train().windows(t) < 1)
            throw CliException.usage("--data " + data + ": " + corpus.train().length() + " tokens for training (" + tok.name()
                    + " tokenizer), " + need + "; use a longer text or a shorter --seq");
        if (cfg.evalEvery() > 0 && cfg.evalBatches() > 0 && corpus.val().windows(t) < 1)
            throw CliException.usage("--data " + data + ": " + corpus.val().length() + " tokens for validation (--val-fraction "
                    + valFraction + "), " + need + "; use a longer text, a larger --val-fraction or --eval-every 0");
        return corpus;
    }
}
