package dev.align4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.align4j.kernels.AdamW;
import dev.align4j.kernels.GradNorm;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.model.HfGpt2Layout;
import dev.align4j.model.SafeTensorsFile;
import dev.align4j.model.SafeTensorsWriter;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Language-model training of a {@link Gpt} on a {@link BatchSource} (text, optionally mixed with instruction
 * data on a {@link MidTrainingMixture} schedule), with a run directory for metrics and checkpoints.
 *
 * <p><b>A step</b> draws {@code gradAccum} micro-batches of {@code [batchSize, seqLen]}, counts the masked
 * targets of all of them (N), and for each runs forward and {@code backward(N)}, so the accumulated gradient is
 * that of the mean over the step's N targets (not a mean of per-micro-batch means). Then the global gradient
 * norm (clipped to {@code gradClip}) and one AdamW step at the scheduled rate ({@link LrSchedule}; decay on the
 * 2-D weights only, as {@code GptAdamW}). The optimizer is driven here rather than through {@code GptAdamW} so
 * that its moments and step count can be saved and restored, and so a non-finite norm is seen before the
 * update: a NaN/inf loss or norm throws {@link TrainingDivergedException} with the parameters untouched.
 *
 * <p><b>Run directory</b>: {@code metrics.jsonl} (one {@link StepMetrics} per line), {@code step-N/} checkpoints
 * ({@code model.safetensors} + {@code config.json} in Hugging Face's GPT-2 layout, loadable by
 * {@link Gpt#load}; {@code train_state.safetensors}: AdamW's m and v, with the step, data position and this
 * config in its metadata), and {@code latest}, a file naming the newest complete checkpoint, replaced
 * atomically after the checkpoint's files are written. The data RNG is counter-based (see {@link BatchSource}),
 * so the data position is its whole state; {@link #resume} therefore continues bit-identically on a
 * deterministic backend.
 */
public final class LmTrainer implements AutoCloseable {
    public static final String LATEST = RunDirectory.LATEST;
    public static final String METRICS = RunDirectory.METRICS;
    public static final String STATE_FILE = "train_state.safetensors";
    private static final String STEP_KEY = "step";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Gpt model;
    private final LmTrainConfig config;
    private final LrSchedule schedule;
    private final BatchSource train;
    private final TokenStream val;
    private final Path dir;
    private final Scope scope = new Scope();
    private final Tensor m, v, normOut, normWork;
    private final List<AdamW.Range> decay;
    private ProgressListener progress = ProgressListener.NONE;
    private long step;
    private Path lastCheckpoint;

    private LmTrainer(Gpt model, LmTrainConfig config, BatchSource train, TokenStream val, Path dir) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        if (config == null) throw new IllegalArgumentException("config must not be null");
        if (train == null) throw new IllegalArgumentException("train must not be null");
        if (dir == null) throw new IllegalArgumentException("dir must not be null");
        if (config.seqLen() > model.config().nCtx())
            throw new IllegalArgumentException("seqLen " + config.seqLen() + " exceeds the model's context " + model.config().nCtx());
        boolean eval = config.evalEvery() > 0 && config.evalBatches() > 0;
        if (eval && (val == null || val.windows(config.seqLen()) < 1))
            throw new IllegalArgumentException("evaluation needs a val stream longer than seqLen + 1 = " + (config.seqLen() + 1)
                    + " tokens (or evalEvery = 0)");
        this.model = model;
        this.config = config;
        this.schedule = config.schedule();
        this.train = train;
        this.val = val;
        this.dir = dir;
        long n = model.params().numel();
        try {
            m = scope.zeros(model.device(), DType.F32, n);
            v = scope.zeros(model.device(), DType.F32, n);
            normOut = scope.zeros(model.device(), DType.F32, 2);
            normWork = scope.empty(model.device(), DType.F64, GradNorm.workSize(n));
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
        decay = model.layout().decayRanges();
    }

    /**
     * A fresh run in {@code dir} (created; an existing {@code metrics.jsonl} and {@code latest} are removed, old
     * {@code step-N/} directories are overwritten as the run reaches them). On success takes ownership of
     * {@code model}: {@link #close()} closes it.
     */
    public static LmTrainer create(Gpt model, LmTrainConfig config, BatchSource train, TokenStream val, Path dir) throws IOException {
        LmTrainer t = new LmTrainer(model, config, train, val, dir);
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve(METRICS));
            Files.deleteIfExists(dir.resolve(LATEST));
        } catch (IOException | RuntimeException e) {
            t.scope.close(); // the model stays the caller's when create fails
            throw e;
        }
        return t;
    }

    /** A fresh run of a new model of shape {@code modelConfig}, initialised as GPT-2 with {@code config.seed()}. */
    public static LmTrainer create(GptConfig modelConfig, Device device, LmTrainConfig config, BatchSource train, TokenStream val,
                                   Path dir) throws IOException {
        Gpt model = Gpt.create(modelConfig, device, config.seed());
        try {
            return create(model, config, train, val, dir);
        } catch (RuntimeException | IOException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Continues the run in {@code dir} from its {@code latest} checkpoint, on {@code device}, with the saved
     * config. {@code train} and {@code val} must be built as for the original run (same data, same seed); the
     * saved data position is restored into {@code train}. Lines of {@code metrics.jsonl} after the checkpoint's
     * step (from the interrupted run) are dropped.
     */
    public static LmTrainer resume(Path dir, BatchSource train, TokenStream val, Device device) throws IOException {
        Path ck = latestCheckpoint(dir);
        LmTrainConfig config;
        long step, position;
        float[] mm, vv;
        try (SafeTensorsFile f = SafeTensorsFile.open(ck.resolve(STATE_FILE))) {
            Map<String, String> meta = f.metadata();
            config = JSON.readValue(require(meta, "train_config", f), LmTrainConfig.class);
            step = Long.parseLong(require(meta, STEP_KEY, f));
            position = Long.parseLong(require(meta, "data_position", f));
            mm = f.floats("adamw.m");
            vv = f.floats("adamw.v");
        }
        try (SafeTensorsFile w = SafeTensorsFile.open(ck.resolve(HfGpt2Layout.WEIGHTS_FILE))) {
            String ws = w.metadata().get(STEP_KEY);
            if (!Long.toString(step).equals(ws))
                throw new IOException(w.path() + " is from step " + ws + " but " + STATE_FILE + " from step " + step);
        }
        Gpt model = Gpt.load(ck, device);
        LmTrainer t;
        try {
            t = new LmTrainer(model, config, train, val, dir);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        try {
            if (mm.length != t.m.numel() || vv.length != t.v.numel())
                throw new IOException(ck.resolve(STATE_FILE) + ": adamw.m/v have " + mm.length + "/" + vv.length
                        + " values, the model has " + t.m.numel() + " parameters");
            t.m.copyFrom(mm);
            t.v.copyFrom(vv);
            t.step = step;
            t.lastCheckpoint = ck;
            train.seek(position);
            t.truncateMetrics();
            return t;
        } catch (RuntimeException | IOException e) {
            t.close();
            throw e;
        }
    }

    /** The checkpoint directory {@code dir/latest} names. */
    public static Path latestCheckpoint(Path dir) throws IOException {
        return RunDirectory.latest(dir);
    }

    /** The training config saved with the latest checkpoint of {@code dir} (e.g. its seed, to rebuild the data source). */
    public static LmTrainConfig savedConfig(Path dir) throws IOException {
        Path ck = latestCheckpoint(dir);
        try (SafeTensorsFile f = SafeTensorsFile.open(ck.resolve(STATE_FILE))) {
            return JSON.readValue(require(f.metadata(), "train_config", f), LmTrainConfig.class);
        }
    }

    private static String require(Map<String, String> meta, String key, SafeTensorsFile f) throws IOException {
        String s = meta.get(key);
        if (s == null) throw new IOException(f.path() + ": metadata has no '" + key + "'");
        return s;
    }

    /** Runs steps until {@code config.steps()}, evaluating and checkpointing on schedule; returns their metrics. */
    public List<StepMetrics> train() throws IOException {
        List<StepMetrics> out = new ArrayList<>();
        while (step < config.steps()) out.add(step());
        return out;
    }

    /** One optimizer step, then the eval and checkpoint due at it; appends its line to {@code metrics.jsonl}. */
    public StepMetrics step() throws IOException {
        if (step >= config.steps()) throw new IllegalStateException("the run is complete: " + step + " of " + config.steps() + " steps");
        long t0 = System.nanoTime();
        long s = step + 1; // 1-based, for logs
        int b = config.batchSize(), t = config.seqLen();
        double share = mixShare();
        Batch[] micro = new Batch[config.gradAccum()];
        long total = 0;
        for (int i = 0; i < micro.length; i++) {
            micro[i] = train.next(b, t, step, config.steps());
            total += micro[i].maskedTokens();
        }
        double normalizer = Math.max(1, total);
        double lossSum = 0;
        model.zeroGrad();
        for (Batch mb : micro) {
            float loss = model.forward(mb.inputs(), mb.targets(), mb.mask(), b, t);
            if (!Float.isFinite(loss)) throw new TrainingDivergedException(s, "the loss", loss, lastCheckpoint);
            lossSum += (double) loss * mb.maskedTokens();
            model.backward(normalizer);
        }
        double clip = config.gradClip() > 0 ? config.gradClip() : Double.POSITIVE_INFINITY;
        GradNorm.compute(model.grads(), (float) clip, normWork, normOut);
        float norm = normOut.getFloat(0);
        if (!Float.isFinite(norm)) throw new TrainingDivergedException(s, "the gradient norm", norm, lastCheckpoint);
        double lr = schedule.lr(step);
        AdamW.step(model.params(), model.grads(), m, v, config.adamW(lr), s, 1f, normOut, decay);
        step = s;
        double seconds = (System.nanoTime() - t0) * 1e-9;
        long tokens = (long) b * t * micro.length;
        Double evalLoss = null;
        if (config.evalEvery() > 0 && config.evalBatches() > 0 && (s % config.evalEvery() == 0 || s == config.steps()))
            evalLoss = evaluate();
        StepMetrics sm = new StepMetrics(s, lr, total == 0 ? 0 : lossSum / total, norm, tokens, total, tokens / seconds, share, evalLoss);
        appendMetrics(sm);
        if ((config.checkpointEvery() > 0 && s % config.checkpointEvery() == 0) || s == config.steps()) checkpoint();
        if (progress != ProgressListener.NONE) {
            java.util.Map<String, Object> line = new java.util.LinkedHashMap<>();
            line.put("step", s);
            line.put("loss", sm.loss());
            line.put("tokens", sm.tokens());
            line.put("time_s", seconds);
            line.put("lr", lr);
            if (evalLoss != null) line.put("eval/loss", evalLoss);
            progress.onStep(s, config.steps(), line);
        }
        return sm;
    }

    /** Tells {@code listener} after every step (loss, tokens, time_s, lr, eval/loss when evaluated); returns this. */
    public LmTrainer withProgress(ProgressListener listener) {
        if (listener == null) throw new IllegalArgumentException("listener must not be null (use ProgressListener.NONE)");
        this.progress = listener;
        return this;
    }

    private double mixShare() {
        // the share MixedBatches applies; reported only (other sources report 0)
        return train instanceof MixedBatches mb ? mb.share(step, config.steps()) : 0;
    }

    /** Mean loss over {@code evalBatches} fixed validation batches (every target counted once); no gradients. */
    public double evaluate() {
        if (val == null) throw new IllegalStateException("no validation stream");
        int b = config.batchSize(), t = config.seqLen();
        double sum = 0;
        long n = 0;
        for (int k = 0; k < Math.max(1, config.evalBatches()); k++) {
            Batch eb = val.evalBatch(k, b, t);
            float loss = model.forward(eb.inputs(), eb.targets(), eb.mask(), b, t);
            sum += (double) loss * eb.maskedTokens();
            n += eb.maskedTokens();
        }
        return sum / n;
    }

    /**
     * Writes {@code step-N/} (model, config, optimizer and data state) and then points {@code latest} at it.
     * Each file is written atomically; {@code latest} moves only once all are complete.
     */
    public Path checkpoint() throws IOException {
        Path ck = dir.resolve("step-" + step);
        Files.createDirectories(ck);
        // the step in both files' metadata: resume refuses a model and a state from different steps
        HfGpt2Layout.save(ck, model.config(), model.toHf(), Map.of(STEP_KEY, Long.toString(step)));
        new SafeTensorsWriter()
                .metadata("format", "align4j-train-state-v1")
                .metadata(STEP_KEY, Long.toString(step))
                .metadata("data_position", Long.toString(train.position()))
                .metadata("data_rng", "counter-based (seed, position)")
                .metadata("train_config", JSON.writeValueAsString(config))
                .putFloats("adamw.m", m.toFloatArray(), m.numel())
                .putFloats("adamw.v", v.toFloatArray(), v.numel())
                .write(ck.resolve(STATE_FILE));
        new RunDirectory(dir).commit(ck);
        lastCheckpoint = ck;
        return ck;
    }

    private void appendMetrics(StepMetrics sm) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", sm.step());
        o.put("lr", sm.lr());
        o.put("loss", sm.loss());
        o.put("grad_norm", sm.gradNorm());
        o.put("tokens", sm.tokens());
        o.put("masked_tokens", sm.maskedTokens());
        o.put("tokens_per_s", sm.tokensPerS());
        o.put("mix_share", sm.mixShare());
        if (sm.evalLoss() == null) o.putNull("eval_loss");
        else o.put("eval_loss", sm.evalLoss());
        Files.writeString(dir.resolve(METRICS), JSON.writeValueAsString(o) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Drops metric lines past the current step (written by a run that stopped after its last checkpoint). */
    private void truncateMetrics() throws IOException {
        new RunDirectory(dir).truncateMetrics(step);
    }

    /** Reads a {@code metrics.jsonl} back. */
    public static List<StepMetrics> readMetrics(Path file) throws IOException {
        List<StepMetrics> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            var n = JSON.readTree(line);
            out.add(new StepMetrics(n.get("step").asLong(), n.get("lr").asDouble(), n.get("loss").asDouble(),
                    n.get("grad_norm").asDouble(), n.get("tokens").asLong(), n.get("masked_tokens").asLong(),
                    n.get("tokens_per_s").asDouble(), n.get("mix_share").asDouble(),
                    n.get("eval_loss").isNull() ? null : n.get("eval_loss").asDouble()));
        }
        return out;
    }

    public Gpt model() {
        return model;
    }

    public LmTrainConfig config() {
        return config;
    }

    /** Optimizer steps completed. */
    public long steps() {
        return step;
    }

    public Path directory() {
        return dir;
    }

    /** The newest checkpoint written or resumed from (null before the first). */
    public Path lastCheckpoint() {
        return lastCheckpoint;
    }

    /** Frees the optimizer state and closes the model. */
    @Override
    public void close() {
        scope.close();
        model.close();
    }
}
