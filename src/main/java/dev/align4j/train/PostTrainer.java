package dev.align4j.train;

import dev.align4j.data.DataPosition;
import dev.align4j.model.CausalLm;
import dev.align4j.model.SafeTensorsWriter;
import dev.align4j.tensor.Collectives;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The step loop and the checkpoints every trainer shares (pre-training, SFT, reward model, DPO family, PPO): a step
 * computes gradients and updates (the subclass's {@link #trainStep}), then the evaluation due at it, then its line in
 * {@code metrics.jsonl}, then the checkpoint due at it. A NaN or infinite loss or gradient norm throws
 * {@link TrainingDivergedException} before any parameter changes ({@link #requireFinite}); the last good checkpoint
 * stays where {@code latest} points.
 *
 * <p>A checkpoint ({@link Checkpoint}) is one format for every trainer: the subclass saves its models
 * ({@link #saveModels}) and may add metadata and tensors ({@link #saveExtras}); this class writes the step, the data
 * position, the config and the optimizer state, and restores them in {@link #resume}.
 */
public abstract class PostTrainer<C extends TrainerConfig<C>> implements AutoCloseable {
    /**
     * Builds a trainer from a checkpoint in {@link #resume}: what it loads for the trainer to own goes through
     * {@link Owned#add}, so it is closed when the build fails.
     */
    @FunctionalInterface
    protected interface Build<T> {
        T get(Checkpoint c, Owned owned) throws IOException;
    }

    /** What a failed {@link Build} leaves behind, closed in reverse order. */
    protected static final class Owned {
        private final List<AutoCloseable> items = new ArrayList<>();

        public <X extends AutoCloseable> X add(X x) {
            items.add(x);
            return x;
        }

        private void closeAll(Throwable cause) {
            for (int i = items.size() - 1; i >= 0; i--) {
                try {
                    items.get(i).close();
                } catch (Exception e) {
                    cause.addSuppressed(e);
                }
            }
        }
    }

    protected final RunDirectory run;
    protected final C config;
    protected final LrSchedule schedule;
    /** Set by the subclass's constructor: the optimizer whose moments a checkpoint saves. */
    protected Optimizer optimizer;
    /** Set by the subclass's constructor: the trainer's data position. */
    protected DataPosition data;
    private final String name;
    protected long step;
    protected Path lastCheckpoint;
    /** The number of ranks that wrote the checkpoint this trainer resumed from (0: not resumed). */
    private int resumedWorldSize;
    private final boolean ownsModels;
    private ProgressListener progress = ProgressListener.NONE;
    /**
     * The data-parallel job this trainer runs in ({@link Collectives#world()}: one process unless launched by mpirun).
     * Every rank takes its share of each global batch and the gradients are summed over the ranks before the update;
     * rank 0 alone writes metrics and checkpoints, which every rank reads on a resume.
     */
    protected final Collectives comm = Collectives.world();
    private final GradientSync sync = new GradientSync(comm);

    /**
     * {@code name}: the trainer's name in its checkpoints ("sft", "reward", "dpo", "ppo", "lm"). {@code resumed}: built
     * by {@link #resume}; otherwise a new run, refused when {@code dir} holds one ({@link RunDirectory#requireNoRun}). {@code ownsModels}: the trainer closes its models with itself (it loaded them
     * from a checkpoint, or was given them to own); otherwise they are the caller's.
     */
    protected PostTrainer(String name, Path dir, C config, boolean resumed, boolean ownsModels) throws IOException {
        if (config == null) throw new IllegalArgumentException("config must not be null");
        this.name = name;
        if (dir == null) throw new IllegalArgumentException("dir must not be null");
        if (!resumed && comm.rank() == 0) RunDirectory.requireNoRun(dir);
        this.run = new RunDirectory(dir);
        this.config = config;
        this.schedule = config.optim().schedule(config.steps());
        this.ownsModels = ownsModels;
    }

    /**
     * Gradients and the update of step {@code s} (1-based); puts its metrics into {@code metrics}. In a data-parallel
     * job it runs this rank's share of the global batch ({@link #comm}) and sums the gradients with
     * {@link #allReduceGradients} before clipping.
     */
    protected abstract void trainStep(long s, Map<String, Object> metrics);

    /** Writes the trained model(s) into the checkpoint folder {@code ck} (each file atomically). */
    protected abstract void saveModels(Path ck) throws IOException;

    /** Closes the models when this trainer owns them. */
    protected abstract void closeModels();

    /** Evaluation metrics (keys prefixed {@code eval/}); none by default. */
    protected void evaluate(Map<String, Object> metrics) {}

    /** What the trainer adds to the state file beyond the shared fields; nothing by default. */
    protected void saveExtras(SafeTensorsWriter w) {}

    /** Restores what {@link #saveExtras} wrote; nothing by default. */
    protected void loadExtras(Checkpoint c) throws IOException {}

    /** Runs the remaining steps; returns their metrics. */
    public List<Map<String, Object>> train() throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        while (step < config.steps()) out.add(step());
        return out;
    }

    /** One step (1-based {@code step} after it), its eval and checkpoint when due; returns its metrics line. */
    public Map<String, Object> step() throws IOException {
        long total = config.steps();
        if (step >= total) throw new IllegalStateException("the run is complete: " + step + " of " + total + " steps");
        long t0 = System.nanoTime();
        long s = step + 1;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", s);
        trainStep(s, m);
        if (comm.distributed()) { // the gradient exchange: its time on the communication thread, and what the step waited
            m.put("dp/allreduce_s", sync.commSeconds());
            m.put("dp/wait_s", sync.waitSeconds());
        }
        step = s;
        m.put("time_s", (System.nanoTime() - t0) * 1e-9);
        if (config.schedule().evaluatesAt(s)) evaluate(m);
        if (comm.rank() == 0) run.appendMetrics(m);
        if (config.schedule().checkpointsAt(s)) checkpoint();
        progress.onStep(s, total, m);
        return m;
    }

    /** Tells {@code listener} after every step (after its metrics line and checkpoint); returns this. */
    public PostTrainer<C> withProgress(ProgressListener listener) {
        if (listener == null) throw new IllegalArgumentException("listener must not be null (use ProgressListener.NONE)");
        this.progress = listener;
        return this;
    }

    /**
     * Writes {@code step-N/} (models, then the state file), then points {@code latest} at it; in a data-parallel job
     * rank 0 writes and every rank waits for it (the ranks hold the same weights).
     */
    public Path checkpoint() throws IOException {
        Path ck = run.path().resolve("step-" + step);
        if (comm.rank() == 0) writeCheckpoint();
        comm.barrier();
        lastCheckpoint = ck;
        return ck;
    }

    private void writeCheckpoint() throws IOException {
        Path ck = run.checkpointDir(step);
        saveModels(ck);
        SafeTensorsWriter w = new SafeTensorsWriter()
                .metadata("format", Checkpoint.FORMAT)
                .metadata(Checkpoint.TRAINER, name)
                .metadata(Checkpoint.STEP, Long.toString(step))
                .metadata(Checkpoint.DATA_POSITION, Long.toString(data.position()))
                .metadata(Checkpoint.CONFIG, Checkpoint.JSON.writeValueAsString(config))
                .metadata(Checkpoint.WORLD_SIZE, Integer.toString(comm.size()));
        saveExtras(w);
        optimizer.save(w, "adamw");
        w.write(ck.resolve(Checkpoint.STATE_FILE));
        run.commit(ck);
    }

    /**
     * Before the step's last backward through {@code model} on this rank: in a data-parallel job its layers' gradients
     * are all-reduced while the rest of that backward runs ({@link GradientSync}). Nothing in a single process.
     */
    protected void beforeLastBackward(CausalLm model) {
        sync.arm(model);
    }

    /**
     * Sums the gradients of every optimizer group over the ranks of a data-parallel job (nothing in a single process),
     * before clipping; {@code model} is the one whose trainable buffer is a group (reduced layer by layer).
     */
    protected void allReduceGradients(CausalLm model) {
        sync.finish(model, optimizer.groups());
    }

    /**
     * The resume every trainer shares: opens the latest checkpoint of the {@code name} run in {@code dir}, builds the
     * trainer from it ({@code build}; on failure what it loaded is closed), then restores the optimizer, the data
     * position, the trainer's extras and the step, and drops the metric lines written after the checkpoint.
     */
    protected static <T extends PostTrainer<?>> T resume(Path dir, String name, Build<T> build) throws IOException {
        try (Checkpoint c = Checkpoint.latest(dir, name)) {
            Owned owned = new Owned();
            T t;
            try {
                t = build.get(c, owned);
            } catch (RuntimeException | IOException | Error e) {
                owned.closeAll(e);
                throw e;
            }
            try {
                t.optimizer.load(c.state(), "adamw");
                t.data.seek(c.dataPosition());
                t.loadExtras(c);
                t.step = c.step();
                String ws = c.state().metadata().get(Checkpoint.WORLD_SIZE);
                ((PostTrainer<?>) t).resumedWorldSize = ws == null ? 1 : Integer.parseInt(ws);
                t.lastCheckpoint = c.dir();
                if (t.comm.rank() == 0) t.run.truncateMetrics(c.step());
                return t;
            } catch (RuntimeException | IOException | Error e) {
                t.close();
                throw e;
            }
        }
    }

    /** Throws {@link TrainingDivergedException} when {@code value} is NaN or infinite. */
    protected void requireFinite(long s, String what, double value) {
        if (!Double.isFinite(value)) throw new TrainingDivergedException(s, what, value, lastCheckpoint);
    }

    /** Steps completed. */
    public long steps() {
        return step;
    }

    /**
     * After a resume whose checkpoint was written by a job of another size: what that means (the same global batch;
     * sums over other shares, so equal to within fp32 reduction order); else "".
     */
    public String topologyNote() {
        if (resumedWorldSize == 0 || resumedWorldSize == comm.size()) return "";
        return " (the checkpoint is from a job of " + resumedWorldSize + (resumedWorldSize == 1 ? " process" : " ranks") + ", this one has "
                + comm.size() + ": the same global batches, summed over other shares, equal to within fp32 reduction order)";
    }

    public long totalSteps() {
        return config.steps();
    }

    public C config() {
        return config;
    }

    public Path directory() {
        return run.path();
    }

    /** The newest checkpoint written or resumed from (null before the first). */
    public Path lastCheckpoint() {
        return lastCheckpoint;
    }

    /** Frees the optimizer; closes the models only when this trainer loaded them ({@link #resume}). */
    @Override
    public void close() {
        if (optimizer != null) optimizer.close();
        if (ownsModels) closeModels();
    }
}
