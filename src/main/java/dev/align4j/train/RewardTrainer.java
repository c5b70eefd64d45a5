package dev.align4j.train;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.TokenizedPair;
import dev.align4j.kernels.RewardLoss;
import dev.align4j.model.RewardModel;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reward-model training on preference pairs with the Bradley–Terry loss ({@link RewardLoss}):
 * <pre>
 *   L = −mean log σ(r⁺ − r⁻ − m) + c·mean((r⁺ + r⁻)²)
 * </pre>
 * over a step's {@code batchSize} pairs, where r⁺ and r⁻ are the {@link RewardModel}'s scores of
 * {@code prompt ++ chosen} and {@code prompt ++ rejected} (read at each row's last real token), m the configured
 * margin and c the centring coefficient. One forward runs over the 2n rows of {@link SequenceBatch#ofPairs}
 * (chosen rows, then rejected rows); the backward reaches the head and the backbone, and one AdamW step updates
 * both with one global gradient norm (the head without weight decay). The data order is epoch-wise seeded, so a
 * resume continues bit-identically on the CPU.
 *
 * <p>Metrics (TRL's names): {@code loss}, {@code accuracy} (share of pairs with r⁺ > r⁻; a tie counts as wrong),
 * {@code margin} (mean r⁺ − r⁻), {@code rewards/chosen}, {@code rewards/rejected}, {@code grad_norm},
 * {@code lr}, {@code epoch}; at eval {@code eval/loss}, {@code eval/accuracy}, {@code eval/margin},
 * {@code eval/rewards/chosen}, {@code eval/rewards/rejected} over all held-out pairs. A NaN or infinite score,
 * loss or gradient norm stops the run before any parameter changes ({@link TrainingDivergedException}).
 * Checkpoints: {@code step-N/} with the reward model ({@link RewardModel#save}: backbone in HF layout + head)
 * and {@code train_state.safetensors} (the moments of both groups, the step, the data position, the config).
 */
public final class RewardTrainer extends PostTrainer<RewardConfig> {
    private final RewardModel model;
    private final List<TokenizedPair> train, eval;
    private final int padId;
    private final EpochSampler sampler;

    private RewardTrainer(RewardModel model, boolean owns, RewardConfig config, List<TokenizedPair> train,
                          List<TokenizedPair> eval, int padId, Path dir) throws IOException {
        super(NAME, dir, config, owns, owns);
        TrainInputs.pairs("train", train, false, model.config());
        TrainInputs.pairs("eval", eval, true, model.config());
        TrainInputs.padId(padId, model.config());
        this.model = model;
        this.train = List.copyOf(train);
        this.eval = eval == null ? List.of() : List.copyOf(eval);
        this.padId = padId;
        this.sampler = new EpochSampler(train.size(), config.seed(), true);
        this.data = sampler;
        this.optimizer = new Optimizer(List.of(Optimizer.group(model.backbone()), Optimizer.group("head", model.head())));
    }

    /** A new run in {@code dir} training {@code model} (which the caller keeps and closes). */
    public static RewardTrainer create(RewardModel model, RewardConfig config, List<TokenizedPair> train,
                                       List<TokenizedPair> eval, int padId, Path dir) throws IOException {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        return new RewardTrainer(model, false, config, train, eval, padId, dir);
    }

    private static final String NAME = "reward";

    /** The config saved with the latest checkpoint of the run in {@code dir} (what {@link #resume} continues with). */
    public static RewardConfig savedConfig(Path dir) throws IOException {
        return Checkpoint.savedConfig(dir, NAME, RewardConfig.class);
    }

    /** Continues the run in {@code dir} from its latest checkpoint; the data must be built as for the original run. */
    public static RewardTrainer resume(Path dir, List<TokenizedPair> train, List<TokenizedPair> eval, int padId, Device device)
            throws IOException {
        return resume(dir, NAME, (c, owned) -> new RewardTrainer(owned.add(RewardModel.withHead(c.loadModel("", device), c.dir())),
                true, c.config(RewardConfig.class), train, eval, padId, dir));
    }

    @Override
    protected void trainStep(long s, Map<String, Object> metrics) {
        List<TokenizedPair> pairs = new ArrayList<>(config.batchSize());
        for (int idx : sampler.next(config.batchSize())) pairs.add(train.get(idx));
        RewardLoss.Stats st = gradients(s, pairs, true);
        float norm = optimizer.clipNorm(config.optim().gradClip());
        requireFinite(s, "the gradient norm", norm);
        double lr = schedule.lr(s - 1);
        optimizer.apply(config.optim().adamW(lr));
        metrics.put("loss", (double) st.loss());
        metrics.put("accuracy", (double) st.accuracy());
        metrics.put("margin", (double) st.margin());
        metrics.put("rewards/chosen", (double) st.rewardsChosen());
        metrics.put("rewards/rejected", (double) st.rewardsRejected());
        metrics.put("grad_norm", (double) norm);
        metrics.put("lr", lr);
        metrics.put("epoch", sampler.epochs());
        long tokens = 0;
        for (TokenizedPair p : pairs) tokens += p.prompt().length * 2L + p.chosen().length + p.rejected().length;
        metrics.put("tokens", tokens); // tokens scored (chosen and rejected rows)
    }

    /**
     * The loss statistics on {@code pairs} and, in the model's gradients (zeroed first), the gradient of the loss
     * — what a step computes before its update; no parameter changes. For tests and diagnostics.
     */
    public RewardLoss.Stats gradients(List<TokenizedPair> pairs) {
        TrainInputs.pairs("pairs", pairs, false, model.config());
        return gradients(step + 1, pairs, false);
    }


    /**
     * Zeroes the gradients and accumulates those of the mean loss over {@code pairs}, in micro-batches of whole pairs
     * (sorted by their longer row) each weighted by its share of the pairs; the stats are the step's. With {@code share},
     * in a data-parallel job, rank k runs micro-batches k, k + N, ... and the gradients and stats are summed over the
     * ranks (the single process's, each micro-batch keeping its weight).
     */
    private RewardLoss.Stats gradients(long s, List<TokenizedPair> pairs, boolean share) {
        int n = pairs.size(), micro = config.microBatch();
        optimizer.zeroGrad();
        int[] all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        double[] acc = new double[5];
        // a pair's rows share their prompt: its longer response sets its length
        int[][] chunks = SequenceBatch.lengthChunks(all, i -> pairs.get(i).prompt().length
                + Math.max(pairs.get(i).chosen().length, pairs.get(i).rejected().length), micro);
        boolean dp = share && comm.distributed();
        int last = dp ? comm.lastOwned(chunks.length) : chunks.length - 1;
        for (int c = 0; c < chunks.length; c++) {
            if (dp && !comm.owns(c)) continue;
            if (share && c == last) beforeLastBackward(model.backbone());
            int[] idx = chunks[c];
            List<TokenizedPair> part = new ArrayList<>(idx.length);
            for (int q : idx) part.add(pairs.get(q));
            double w = (double) idx.length / n;
            RewardLoss.Stats st = microGradients(s, part, idx, w);
            float[] v = {st.loss(), st.accuracy(), st.rewardsChosen(), st.rewardsRejected(), st.margin()};
            for (int k = 0; k < v.length; k++) acc[k] += v[k] * w;
        }
        if (share) {
            allReduceGradients(model.backbone());
            acc = comm.allReduceSum(acc);
        }
        return new RewardLoss.Stats((float) acc[0], (float) acc[1], (float) acc[2], (float) acc[3], (float) acc[4]);
    }

    /** One micro-batch (pairs {@code idx} of the step): its stats, and its gradient × {@code weight} accumulated. */
    private RewardLoss.Stats microGradients(long s, List<TokenizedPair> pairs, int[] idx, double weight) {
        int n = pairs.size();
        float[] scores = model.forwardPairScores(pairs, padId);
        for (int i = 0; i < scores.length; i++)
            requireFinite(s, "the score of " + (i < n ? "chosen" : "rejected") + " row " + idx[i % n], scores[i]);
        float[] dscores = new float[2 * n];
        RewardLoss.Stats st;
        Device d = model.device();
        try (Scope tmp = new Scope()) {
            Tensor rc = tmp.of(d, Arrays.copyOfRange(scores, 0, n), n);
            Tensor rr = tmp.of(d, Arrays.copyOfRange(scores, n, 2 * n), n);
            Tensor margin = config.margin() == 0 ? null : tmp.of(d, filled(n, (float) config.margin()), n);
            RewardLoss.Result r = RewardLoss.compute(tmp, rc, rr, margin, (float) config.centerRewardsCoef());
            st = r.stats();
            requireFinite(s, "the loss", st.loss());
            System.arraycopy(r.dchosen().toFloatArray(), 0, dscores, 0, n);
            System.arraycopy(r.drejected().toFloatArray(), 0, dscores, n, n);
        }
        for (int i = 0; i < dscores.length; i++) dscores[i] *= (float) weight;
        model.backward(dscores);
        return st;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    @Override
    protected void evaluate(Map<String, Object> metrics) {
        if (eval.isEmpty()) return;
        RewardLoss.Stats e = evaluate(eval);
        metrics.put("eval/loss", (double) e.loss());
        metrics.put("eval/accuracy", (double) e.accuracy());
        metrics.put("eval/margin", (double) e.margin());
        metrics.put("eval/rewards/chosen", (double) e.rewardsChosen());
        metrics.put("eval/rewards/rejected", (double) e.rewardsRejected());
    }

    /** The training loss (with this run's margin and centring) and its statistics over {@code pairs}; no gradients. */
    public RewardLoss.Stats evaluate(List<TokenizedPair> pairs) {
        if (pairs == null || pairs.isEmpty()) throw new IllegalArgumentException("pairs must not be empty");
        RewardModel.PairScores sc = model.scorePairs(pairs, config.batchSize(), padId);
        float[] margin = config.margin() == 0 ? null : filled(pairs.size(), (float) config.margin());
        return RewardLoss.compute(sc.chosen(), sc.rejected(), margin, (float) config.centerRewardsCoef()).stats();
    }

    @Override
    protected void saveModels(Path ck) throws IOException {
        Checkpoint.saveModel(ck, model.backbone(), step);
        model.head().save(ck.resolve(RewardModel.HEAD_FILE));
    }

    @Override
    protected void closeModels() {
        model.close();
    }

    public RewardModel model() {
        return model;
    }
}
