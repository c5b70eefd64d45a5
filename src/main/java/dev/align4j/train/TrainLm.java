package dev.align4j.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The step loop of {@code align4j train-lm} (the older LM trainer; {@code align4j pretrain} is the newer one): an
 * {@link LmTrainer} run to its last step with a plain log line per {@code logEvery} steps instead of a progress bar.
 */
public final class TrainLm {
    private TrainLm() {}

    /**
     * Steps {@code trainer} until its configured last step, passing {@link #line} to {@code log} every
     * {@code logEvery} steps, at each evaluation and at the last step; returns the last checkpoint.
     */
    public static Path train(LmTrainer trainer, int logEvery, Consumer<String> log) throws IOException {
        if (logEvery < 1) throw new IllegalArgumentException("logEvery must be >= 1, got " + logEvery);
        long last = trainer.config().steps();
        while (trainer.steps() < last) {
            StepMetrics m = StepMetrics.of(trainer.step());
            if (m.step() % logEvery == 0 || m.evalLoss() != null || m.step() == last) log.accept(line(m));
        }
        return trainer.lastCheckpoint();
    }

    /** "step 10  lr 1.000e-03  loss 2.3456  grad_norm 0.812  12345 tok/s  eval 2.4000". */
    public static String line(StepMetrics m) {
        return String.format(Locale.ROOT, "step %d  lr %.3e  loss %.4f  grad_norm %.3f  %.0f tok/s%s", m.step(), m.lr(), m.loss(),
                m.gradNorm(), m.tokensPerS(), m.evalLoss() == null ? "" : String.format(Locale.ROOT, "  eval %.4f", m.evalLoss()));
    }
}
