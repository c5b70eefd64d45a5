package dev.align4j.cli;

import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.LmTrainConfig;
import dev.align4j.train.LrSchedule;
import dev.align4j.train.TextCorpus;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * What the two LM trainers on a text file ({@code pretrain}, {@code train-lm}) share (a mixin): the corpus, the run
 * folder and the LM-only training knobs, the checks on the corpus, and the {@link LmTrainConfig} of the training flags.
 */
public final class LmRunOptions {
    @Option(names = "--data", paramLabel = "FILE", required = true, description = "UTF-8 text corpus")
    Path data;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "run folder")
    Path out;

    @Option(names = "--val-fraction", paramLabel = "F", description = "share of the text held out for validation (default 0.1)")
    double valFraction = TextCorpus.DEFAULT_VAL_FRACTION;

    @Option(names = "--accum", paramLabel = "N", description = "micro-batches per step")
    Integer accum;

    @Option(names = "--eval-batches", paramLabel = "N", description = "validation batches per evaluation")
    Integer evalBatches;

    /** The LM training config of {@code train} and these options: sequences of {@code seq} tokens. */
    LmTrainConfig config(TrainOptions train, int seq, long seed) {
        LmTrainConfig d = LmTrainConfig.defaults();
        double lr = train.lr(d.lr());
        return new LmTrainConfig(train.steps(d.steps()), train.batch(d.batchSize()), seq, accum != null ? accum : d.gradAccum(), lr,
                train.minLr != null ? train.minLr : lr * LrSchedule.DEFAULT_MIN_LR_FRACTION, train.warmup(d.warmupSteps()),
                train.weightDecay(d.weightDecay()), d.beta1(), d.beta2(), d.eps(), train.clip(d.gradClip()),
                train.evalEvery(d.evalEvery()), evalBatches != null ? evalBatches : d.evalBatches(),
                train.checkpointEvery(d.checkpointEvery()), seed);
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
