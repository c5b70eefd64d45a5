package dev.align4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.align4j.data.lm.Batch;
import dev.align4j.data.lm.BatchSource;
import dev.align4j.data.lm.TokenStream;
import dev.align4j.model.CausalLm;
import dev.align4j.model.LmConfig;
import dev.align4j.model.SafeTensorsWriter;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Language-model training of a {@link CausalLm} on a {@link BatchSource} (text, optionally mixed with instruction
 * data on a {@link MidTrainingMixture} schedule), with a run directory for metrics and checkpoints.
 *
 * <p><b>A step</b> draws {@code gradAccum} micro-batches of {@code [batchSize, seqLen]}, counts the masked
 * targets of all of them (N), and for each runs forward and {@code backward(N)}, so the accumulated gradient is
 * that of the mean over the step's N targets (not a mean of per-micro-batch means). Then the global gradient
 * norm (clipped to {@code gradClip}) and one AdamW step at the scheduled rate ({@link LrSchedule}; decay on the
 * 2-D weights only, as {@code LmAdamW}) through {@link Optimizer}, whose moments a checkpoint saves; a NaN/inf
 * loss or norm throws {@link TrainingDivergedException} with the parameters untouched.
 *
 * <p><b>Run directory</b>: {@code metrics.jsonl} (one {@link StepMetrics} per line), {@code step-N/} checkpoints
 * ({@code model.safetensors} + {@code config.json} in Hugging Face's GPT-2 layout, loadable by
 * {@link CausalLm#load}; {@code train_state.safetensors}: the shared {@link Checkpoint} format), and {@code latest}, a file naming the newest complete checkpoint, replaced
 * atomically after the checkpoint's files are written. The data RNG is counter-based (see {@link BatchSource}),
 * so the data position is its whole state; {@link #resume} therefore continues bit-identically on a
 * deterministic backend.
 */
public final class LmTrainer extends PostTrainer<LmTrainConfig> {
    public static final String LATEST = RunDirectory.LATEST;
    public static final String METRICS = RunDirectory.METRICS;
    private static final String NAME = "lm";

    private final CausalLm model;
    private final BatchSource train;
    private final TokenStream val;

    /** Takes ownership of {@code model} once constructed: {@link #close()} closes it. */
    private LmTrainer(CausalLm model, LmTrainConfig config, BatchSource train, TokenStream val, Path dir, boolean resumed)
            throws IOException {
        super(NAME, dir, config, resumed, true);
        if (model == null) throw new IllegalArgumentException("model must not be null");
        if (train == null) throw new IllegalArgumentException("train must not be null");
        if (config.seqLen() > model.config().nCtx())
            throw new IllegalArgumentException("seqLen " + config.seqLen() + " exceeds the model's context " + model.config().nCtx());
        boolean eval = config.evalEvery() > 0 && config.evalBatches() > 0;
        if (eval && (val == null || val.windows(config.seqLen()) < 1))
            throw new IllegalArgumentException("evaluation needs a val stream longer than seqLen + 1 = " + (config.seqLen() + 1)
                    + " tokens (or evalEvery = 0)");
        this.model = model;
        this.train = train;
        this.val = val;
        this.data = train;
        this.optimizer = new Optimizer(List.of(Optimizer.group(model)));
    }

    /** A fresh run in {@code dir}. On success takes ownership of {@code model}: {@link #close()} closes it. */
    public static LmTrainer create(CausalLm model, LmTrainConfig config, BatchSource train, TokenStream val, Path dir) throws IOException {
        return new LmTrainer(model, config, train, val, dir, false);
    }

    /** A fresh run of a new model of shape {@code modelConfig}, initialised as its family is with {@code config.seed()}. */
    public static LmTrainer create(LmConfig modelConfig, Device device, LmTrainConfig config, BatchSource train, TokenStream val,
                                   Path dir) throws IOException {
        CausalLm model = CausalLm.create(modelConfig, device, config.seed());
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
        return resume(dir, NAME, (c, owned) ->
                new LmTrainer(owned.add(c.loadModel("", device)), c.config(LmTrainConfig.class), train, val, dir, true));
    }

    /** The training config saved with the latest checkpoint of {@code dir} (e.g. its seed, to rebuild the data source). */
    public static LmTrainConfig savedConfig(Path dir) throws IOException {
        return Checkpoint.savedConfig(dir, NAME, LmTrainConfig.class);
    }

    /**
     * Metrics: {@code lr}, {@code loss}, {@code grad_norm}, {@code tokens}, {@code masked_tokens}, {@code tokens_per_s}
     * (forward, backward, update), {@code mix_share} and {@code eval_loss} (null when not evaluated), as {@link StepMetrics}.
     */

    @Override
    protected void trainStep(long s, Map<String, Object> metrics) {
        long t0 = System.nanoTime();
        int b = config.batchSize(), t = config.seqLen();
        double share = train.share(step, config.steps());
        Batch[] micro = new Batch[config.gradAccum()];
        long total = 0;
        for (int i = 0; i < micro.length; i++) {
            micro[i] = train.next(b, t, step, config.steps());
            total += micro[i].maskedTokens();
        }
        double normalizer = Math.max(1, total);
        double lossSum = 0;
        optimizer.zeroGrad();
        // data parallel: rank k takes rows k, k + N, ... of each micro-batch; the normaliser is the whole batch's
        List<Batch> mine = new ArrayList<>(micro.length);
        for (Batch mb : micro) {
            Batch r = comm.distributed() ? mb.rows(comm.rank(), comm.size()) : mb;
            if (r != null) mine.add(r);
        }
        for (int i = 0; i < mine.size(); i++) {
            Batch mb = mine.get(i);
            float loss = model.forward(mb.inputs(), mb.targets(), mb.mask(), mb.b(), t);
            requireFinite(s, "the loss", loss);
            lossSum += (double) loss * mb.maskedTokens();
            if (i == mine.size() - 1) beforeLastBackward(model);
            model.backward(normalizer);
        }
        allReduceGradients(model);
        lossSum = comm.allReduceSum(lossSum)[0];
        float norm = optimizer.clipNormInKernel(config.optim().gradClip());
        requireFinite(s, "the gradient norm", norm);
        double lr = schedule.lr(step);
        optimizer.apply(config.optim().adamW(lr));
        long tokens = (long) b * t * micro.length;
        metrics.put("lr", lr);
        metrics.put("loss", total == 0 ? 0.0 : lossSum / total);
        metrics.put("grad_norm", (double) norm);
        metrics.put("tokens", tokens);
        metrics.put("masked_tokens", total);
        metrics.put("tokens_per_s", tokens / ((System.nanoTime() - t0) * 1e-9));
        metrics.put("mix_share", share);
        metrics.put("eval_loss", null);
    }

    @Override
    protected void evaluate(Map<String, Object> metrics) {
        if (config.evalBatches() > 0) metrics.put("eval_loss", evaluate());
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

    @Override
    protected void saveModels(Path ck) throws IOException {
        Checkpoint.saveModel(ck, model, step);
    }

    /** The data RNG is counter-based (seed, position): the position saved is its whole state. */
    @Override
    protected void saveExtras(SafeTensorsWriter w) {
        w.metadata("data_rng", "counter-based (seed, position)");
    }

    /** Reads a {@code metrics.jsonl} back. */
    public static List<StepMetrics> readMetrics(Path file) throws IOException {
        List<StepMetrics> out = new ArrayList<>();
        for (JsonNode n : RunDirectory.readMetrics(file))
            out.add(new StepMetrics(n.get("step").asLong(), n.get("lr").asDouble(), n.get("loss").asDouble(),
                    n.get("grad_norm").asDouble(), n.get("tokens").asLong(), n.get("masked_tokens").asLong(),
                    n.get("tokens_per_s").asDouble(), n.get("mix_share").asDouble(),
                    n.get("eval_loss").isNull() ? null : n.get("eval_loss").asDouble()));
        return out;
    }

    public CausalLm model() {
        return model;
    }

    @Override
    protected void closeModels() {
        model.close();
    }
}
