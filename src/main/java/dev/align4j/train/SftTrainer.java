package dev.align4j.train;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.TokenizedSft;
import dev.align4j.model.CausalLm;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Supervised fine-tuning: L = −Σ m_t ℓ_t / Σ m_t over the response tokens (EOS included) of all the step's
 * micro-batches — the normaliser is the step's total count of masked tokens, not a mean of per-micro-batch means
 * — or over every token after the first with {@code allTokens}. Rows are right-padded ({@link SequenceBatch}); the
 * data order is epoch-wise seeded ({@link EpochSampler}), so a resume continues bit-identically on the CPU.
 *
 * <p>Metrics: {@code loss}, {@code grad_norm}, {@code lr}, {@code tokens} (masked), {@code epoch}; at eval
 * {@code eval/loss} and {@code eval/token_accuracy} (share of masked targets that are the argmax of the logits).
 * Checkpoints: {@code step-N/} with the model (HF GPT-2 layout) and {@code train_state.safetensors}.
 */
public final class SftTrainer extends PostTrainer<SftConfig> {
    private final CausalLm model;
    private final List<TokenizedSft> train, eval;
    private final int padId;
    private final EpochSampler sampler;

    private SftTrainer(CausalLm model, boolean owns, SftConfig config, List<TokenizedSft> train, List<TokenizedSft> eval, int padId,
                       Path dir) throws IOException {
        super(NAME, dir, config, owns, owns);
        TrainInputs.padId(padId, model.config());
        TrainInputs.sft("train", train, false, model.config());
        TrainInputs.sft("eval", eval, true, model.config());
        this.model = model;
        this.train = config.allTokens() ? allTokens(train) : List.copyOf(train);
        this.eval = eval == null ? List.of() : config.allTokens() ? allTokens(eval) : List.copyOf(eval);
        this.padId = padId;
        this.sampler = new EpochSampler(train.size(), config.seed(), true);
        this.data = sampler;
        this.optimizer = new Optimizer(List.of(Optimizer.group(model)));
    }

    /** A new run in {@code dir} training {@code model} (which the caller keeps and closes). */
    public static SftTrainer create(CausalLm model, SftConfig config, List<TokenizedSft> train, List<TokenizedSft> eval, int padId,
                                    Path dir) throws IOException {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        return new SftTrainer(model, false, config, train, eval, padId, dir);
    }

    /** The config saved with the latest checkpoint of the run in {@code dir} (what {@link #resume} continues with). */
    public static SftConfig savedConfig(Path dir) throws IOException {
        return Checkpoint.savedConfig(dir, NAME, SftConfig.class);
    }

    /** Continues the run in {@code dir} from its latest checkpoint; the data must be built as for the original run. */
    public static SftTrainer resume(Path dir, List<TokenizedSft> train, List<TokenizedSft> eval, int padId, Device device)
            throws IOException {
        return resume(dir, NAME, (c, owned) ->
                new SftTrainer(owned.add(c.loadModel("", device)), true, c.config(SftConfig.class), train, eval, padId, dir));
    }

    private static final String NAME = "sft";

    private static List<TokenizedSft> allTokens(List<TokenizedSft> xs) {
        List<TokenizedSft> out = new ArrayList<>(xs.size());
        for (TokenizedSft e : xs) {
            float[] m = new float[e.length()];
            Arrays.fill(m, 1, m.length, 1f);
            out.add(new TokenizedSft(e.tokens(), m));
        }
        return out;
    }


    @Override
    protected void trainStep(long s, Map<String, Object> metrics) {
        int b = config.batchSize();
        // Every rank draws the same global batch; rank k takes rows k, k + N, ... of each micro-batch. The normaliser
        // is the global batch's token count, so the sum of the ranks' gradients is the single process's.
        List<SequenceBatch> micro = new ArrayList<>(config.gradAccum());
        long total = 0;
        for (int i = 0; i < config.gradAccum(); i++) {
            List<TokenizedSft> rows = new ArrayList<>(b), mine = new ArrayList<>(b);
            int[] idx = sampler.next(b);
            for (int j = 0; j < idx.length; j++) {
                TokenizedSft e = train.get(idx[j]);
                rows.add(e);
                if (comm.owns(j)) mine.add(e);
            }
            SequenceBatch all = SequenceBatch.ofSft(rows, padId);
            total += all.maskedTokens();
            if (!comm.distributed()) micro.add(all);
            else if (!mine.isEmpty()) micro.add(SequenceBatch.ofSft(mine, padId));
        }
        double normalizer = Math.max(1, total);
        double lossSum = 0;
        optimizer.zeroGrad();
        for (int i = 0; i < micro.size(); i++) {
            SequenceBatch mb = micro.get(i);
            float loss = model.forward(mb.inputs(), mb.targets(), mb.mask(), mb.b(), mb.t());
            requireFinite(s, "the loss", loss);
            lossSum += (double) loss * mb.maskedTokens();
            if (i == micro.size() - 1) beforeLastBackward(model);
            model.backward(normalizer);
        }
        allReduceGradients(model);
        lossSum = comm.allReduceSum(lossSum)[0];
        float norm = optimizer.clipNorm(config.optim().gradClip());
        requireFinite(s, "the gradient norm", norm);
        double lr = schedule.lr(s - 1);
        optimizer.apply(config.optim().adamW(lr));
        metrics.put("loss", total == 0 ? 0.0 : lossSum / total);
        metrics.put("grad_norm", (double) norm);
        metrics.put("lr", lr);
        metrics.put("tokens", total);
        metrics.put("epoch", sampler.epochs());
    }

    @Override
    protected void evaluate(Map<String, Object> metrics) {
        if (eval.isEmpty()) return;
        Eval e = evaluate(model, eval, config.batchSize(), padId);
        metrics.put("eval/loss", e.loss());
        metrics.put("eval/token_accuracy", e.tokenAccuracy());
    }

    /** Mean masked loss and token accuracy of {@code model} over {@code examples}. */
    public record Eval(double loss, double tokenAccuracy, long tokens) {}

    /** Loss (per masked token) and argmax token accuracy of {@code model} on {@code examples}; no gradients. */
    public static Eval evaluate(CausalLm model, List<TokenizedSft> examples, int batchSize, int padId) {
        if (examples.isEmpty()) throw new IllegalArgumentException("examples must not be empty");
        double sum = 0;
        long n = 0, right = 0;
        int chunk = model.logitsChunkRows();
        model.setLogitsChunkRows(0);
        try {
            for (int i = 0; i < examples.size(); i += batchSize) {
                SequenceBatch mb = SequenceBatch.ofSft(examples.subList(i, Math.min(examples.size(), i + batchSize)), padId);
                float loss = model.forward(mb.inputs(), mb.targets(), mb.mask(), mb.b(), mb.t());
                sum += (double) loss * mb.maskedTokens();
                n += mb.maskedTokens();
                right += argmaxHits(model.logits().toFloatArray(), mb, model.config().vocabSize());
            }
        } finally {
            model.setLogitsChunkRows(chunk);
        }
        return new Eval(n == 0 ? 0 : sum / n, n == 0 ? 0 : (double) right / n, n);
    }

    private static long argmaxHits(float[] logits, SequenceBatch mb, int v) {
        long hits = 0;
        for (int r = 0; r < mb.b() * mb.t(); r++) {
            if (mb.mask()[r] == 0f) continue;
            int best = 0;
            float bv = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                float x = logits[r * v + j];
                if (x > bv) {
                    bv = x;
                    best = j;
                }
            }
            if (best == mb.targets()[r]) hits++;
        }
        return hits;
    }

    @Override
    protected void saveModels(Path ck) throws IOException {
        Checkpoint.saveModel(ck, model, step);
    }

    @Override
    protected void closeModels() {
        model.close();
    }

    public CausalLm model() {
        return model;
    }
}
