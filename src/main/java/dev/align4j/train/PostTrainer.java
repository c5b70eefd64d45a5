package dev.align4j.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The step loop the post-training trainers share (SFT, reward model, DPO family, PPO): a step computes
 * gradients and updates (the subclass's {@link #trainStep}), then the evaluation due at it, then its line in
 * {@code metrics.jsonl}, then the checkpoint due at it. A NaN or infinite loss or gradient norm throws
 * {@link TrainingDivergedException} before any parameter changes ({@link #requireFinite}); the last good
 * checkpoint stays where {@code latest} points.
 */
public abstract class PostTrainer implements AutoCloseable {
    protected final RunDirectory run;
    protected final long totalSteps;
    private final long evalEvery, checkpointEvery;
    protected long step;
    protected Path lastCheckpoint;
    private ProgressListener progress = ProgressListener.NONE;

    protected PostTrainer(Path dir, long totalSteps, long evalEvery, long checkpointEvery) throws IOException {
        if (totalSteps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + totalSteps);
        if (evalEvery < 0) throw new IllegalArgumentException("evalEvery must be >= 0, got " + evalEvery);
        if (checkpointEvery < 0) throw new IllegalArgumentException("checkpointEvery must be >= 0, got " + checkpointEvery);
        this.run = new RunDirectory(dir);
        this.totalSteps = totalSteps;
        this.evalEvery = evalEvery;
        this.checkpointEvery = checkpointEvery;
    }

    /** Runs the remaining steps; returns their metrics. */
    public List<Map<String, Object>> train() throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        while (step < totalSteps) out.add(step());
        return out;
    }

    /** One step (1-based {@code step} after it), its eval and checkpoint when due; returns its metrics line. */
    public Map<String, Object> step() throws IOException {
        if (step >= totalSteps) throw new IllegalStateException("the run is complete: " + step + " of " + totalSteps + " steps");
        long t0 = System.nanoTime();
        long s = step + 1;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", s);
        trainStep(s, m);
        step = s;
        m.put("time_s", (System.nanoTime() - t0) * 1e-9);
        if (evalEvery > 0 && (s % evalEvery == 0 || s == totalSteps)) evaluate(m);
        run.appendMetrics(m);
        if ((checkpointEvery > 0 && s % checkpointEvery == 0) || s == totalSteps) checkpoint();
        progress.onStep(s, totalSteps, m);
        return m;
    }

    /** Tells {@code listener} after every step (after its metrics line and checkpoint); returns this. */
    public PostTrainer withProgress(ProgressListener listener) {
        if (listener == null) throw new IllegalArgumentException("listener must not be null (use ProgressListener.NONE)");
        this.progress = listener;
        return this;
    }

    /** Writes {@code step-N/} through {@link #writeCheckpoint}, then points {@code latest} at it. */
    public Path checkpoint() throws IOException {
        Path ck = run.checkpointDir(step);
        writeCheckpoint(ck);
        run.commit(ck);
        lastCheckpoint = ck;
        return ck;
    }

    /** Gradients and the update of step {@code s} (1-based); puts its metrics into {@code metrics}. */
    protected abstract void trainStep(long s, Map<String, Object> metrics);

    /** Evaluation metrics (keys prefixed {@code eval/}); none by default. */
    protected void evaluate(Map<String, Object> metrics) {}

    /** Writes every file of a checkpoint into {@code ck} (each atomically). */
    protected abstract void writeCheckpoint(Path ck) throws IOException;

    /** Throws {@link TrainingDivergedException} when {@code value} is NaN or infinite. */
    protected void requireFinite(long s, String what, double value) {
        if (!Double.isFinite(value)) throw new TrainingDivergedException(s, what, value, lastCheckpoint);
    }

    /** Steps completed. */
    public long steps() {
        return step;
    }

    public long totalSteps() {
        return totalSteps;
    }

    public Path directory() {
        return run.path();
    }

    /** The newest checkpoint written or resumed from (null before the first). */
    public Path lastCheckpoint() {
        return lastCheckpoint;
    }

    /** After a resume: the step reached and the metric lines past it dropped. */
    protected void resumedAt(long s, Path ck) throws IOException {
        step = s;
        lastCheckpoint = ck;
        run.truncateMetrics(s);
    }
}
