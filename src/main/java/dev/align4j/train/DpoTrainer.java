package dev.align4j.train;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.TokenizedPair;
import dev.align4j.kernels.PreferenceLoss;
import dev.align4j.kernels.SeqReduce;
import dev.align4j.model.CausalLm;
import dev.align4j.model.SafeTensorsWriter;
import dev.align4j.tensor.Collectives;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The DPO family (DPO, cDPO, robust DPO, hinge, IPO, length-normalised DPO, SimPO) straight from preference pairs,
 * the loss through the {@link PreferenceLoss} kernel on sequence log-probs ℓ(y) = Σ m_t ℓ_t and lengths |y| from
 * the {@link SeqReduce} kernel (DESIGN.md, "DPO family").
 *
 * <p>A step: for each micro-batch of {@code batchSize} pairs, ONE forward over {@link SequenceBatch#ofPairs} (chosen
 * rows [0, n), rejected rows [n, 2n)), {@code model.logProbs()} → ℓ and |y| per row (SeqReduce), the loss and
 * ∂L/∂ℓ⁺, ∂L/∂ℓ⁻ (PreferenceLoss, against the cached reference log-probs), the optional NLL term's −α/Σ|y⁺| added
 * to ∂L/∂ℓ⁺, then ∂L/∂ℓ_t through {@code SeqReduce.backward} into {@code model.backward(dlogp)}. With gradient
 * accumulation the step's loss is the mean over all its pairs. Then global-norm clipping and AdamW. A NaN or
 * infinite sequence log-prob, loss or gradient norm stops the run before any update
 * ({@link TrainingDivergedException}).
 *
 * <p><b>The reference.</b> The reference log-probs ℓ⁺ref, ℓ⁻ref of every train and eval pair are computed ONCE, at
 * {@link #create} (batched forwards, no gradients), and cached: with the given {@code reference} model, or, when it
 * is null, with the policy's own weights before the first step (the usual setting: the SFT model is both the
 * starting point and the reference). The reference model is read only inside {@code create}; the caller keeps and
 * closes it. SimPO uses no reference: none is computed and a given reference model is ignored. The cache is saved
 * in every checkpoint's {@code train_state.safetensors} ({@code ref.train.chosen/rejected},
 * {@code ref.eval.chosen/rejected}), so {@link #resume} needs no reference model and continues exactly; the state
 * also holds a fingerprint of the pairs, and a resume with other data is refused.
 *
 * <p>Metrics (TRL's names): {@code loss} (including α·NLL), {@code rewards/chosen}, {@code rewards/rejected},
 * {@code rewards/accuracies}, {@code rewards/margins} (the implicit rewards of {@link PreferenceLoss}: β(ℓ − ℓref),
 * per-token averages for IPO and LN_DPO, β ℓ/|y| for SimPO), {@code logps/chosen}, {@code logps/rejected} (mean
 * sequence log-probs of the policy), {@code nll_loss} (when α > 0), {@code grad_norm}, {@code lr}, {@code epoch}; all
 * measured on the step's pairs before its update. At eval the same under {@code eval/} over all held-out pairs.
 * Checkpoints: {@code step-N/} with the policy (HF GPT-2 layout) and {@code train_state.safetensors} (AdamW moments,
 * step, data position, config JSON, reference cache).
 */
public final class DpoTrainer extends PostTrainer<DpoConfig> {
    private static final String NAME = "dpo";
    private final CausalLm model;
    private final List<TokenizedPair> train, eval;
    private final int padId;
    /** Cached reference sequence log-probs {chosen[N], rejected[N]}; null for SimPO. */
    private final float[][] refTrain, refEval;
    private final EpochSampler sampler;

    private DpoTrainer(CausalLm model, boolean owns, DpoConfig config, List<TokenizedPair> train, List<TokenizedPair> eval,
                       int padId, float[][] refTrain, float[][] refEval, Path dir) throws IOException {
        super(NAME, dir, config, owns, owns);
        this.model = model;
        this.train = List.copyOf(train);
        this.eval = eval == null ? List.of() : List.copyOf(eval);
        this.padId = padId;
        this.refTrain = refTrain;
        this.refEval = refEval;
        this.sampler = new EpochSampler(train.size(), config.seed(), true);
        this.data = sampler;
        this.optimizer = new Optimizer(List.of(Optimizer.group(model)));
    }

    /**
     * A new run in {@code dir} training {@code policy} (which the caller keeps and closes). {@code reference}: the
     * frozen reference model, or null to use the policy's current weights (ignored for SimPO); it is used only here.
     * {@code eval} may be null or empty (no eval metrics).
     */
    public static DpoTrainer create(CausalLm policy, CausalLm reference, DpoConfig config, List<TokenizedPair> train,
                                    List<TokenizedPair> eval, int padId, Path dir) throws IOException {
        if (policy == null) throw new IllegalArgumentException("policy must not be null");
        if (config == null) throw new IllegalArgumentException("config must not be null");
        checkData(policy, train, eval, padId);
        boolean useRef = config.loss().type().needsReference();
        float[][] refTrain = null, refEval = null;
        if (useRef) {
            // LoRA: the reference is the policy with its adapters off (TRL's disable_adapter), no second model
            CausalLm ref = reference != null ? reference : policy.lora() != null ? policy.adaptersOff() : policy;
            if (reference != null) {
                if (reference.config().vocabSize() != policy.config().vocabSize())
                    throw new IllegalArgumentException("reference has vocabulary " + reference.config().vocabSize()
                            + ", the policy " + policy.config().vocabSize());
                checkData(reference, train, eval, padId);
            }
            refTrain = sequenceLogProbs(ref, train, config.batchSize(), padId, "train");
            refEval = sequenceLogProbs(ref, eval == null ? List.of() : eval, config.batchSize(), padId, "eval");
        }
        return new DpoTrainer(policy, false, config, train, eval, padId, refTrain, refEval, dir);
    }

    /** The config saved with the latest checkpoint of the run in {@code dir} (what {@link #resume} continues with). */
    public static DpoConfig savedConfig(Path dir) throws IOException {
        return Checkpoint.savedConfig(dir, NAME, DpoConfig.class);
    }

    /** Continues the run in {@code dir} from its latest checkpoint; the pairs must be those of the original run. */
    public static DpoTrainer resume(Path dir, List<TokenizedPair> train, List<TokenizedPair> eval, int padId, Device device)
            throws IOException {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        return resume(dir, NAME, (c, owned) -> {
            DpoConfig config = c.config(DpoConfig.class);
            List<TokenizedPair> ev = eval == null ? List.of() : eval;
            requireSameData(c, "train", train);
            requireSameData(c, "eval", ev);
            float[][] refTrain = null, refEval = null;
            if (config.loss().type().needsReference()) {
                refTrain = new float[][] {c.floats("ref.train.chosen", train.size()), c.floats("ref.train.rejected", train.size())};
                refEval = ev.isEmpty() ? new float[][] {new float[0], new float[0]}
                        : new float[][] {c.floats("ref.eval.chosen", ev.size()), c.floats("ref.eval.rejected", ev.size())};
            }
            CausalLm model = owned.add(c.loadModel("", device));
            checkData(model, train, eval, padId);
            return new DpoTrainer(model, true, config, train, eval, padId, refTrain, refEval, dir);
        });
    }

    // ------------------------------------------------------------------------------------------ validation

    private static void checkData(CausalLm model, List<TokenizedPair> train, List<TokenizedPair> eval, int padId) {
        TrainInputs.padId(padId, model.config());
        TrainInputs.pairs("train", train, false, model.config());
        TrainInputs.pairs("eval", eval, true, model.config());
    }

    /** FNV-1a over every id of every pair (with separators), so a resume can refuse other data. */
    static long fingerprint(List<TokenizedPair> pairs) {
        long h = 0xcbf29ce484222325L;
        for (TokenizedPair p : pairs)
            for (int[] part : new int[][] {p.prompt(), p.chosen(), p.rejected()}) {
                for (int id : part) h = (h ^ id) * 0x100000001b3L;
                h = (h ^ -1) * 0x100000001b3L;
            }
        return h;
    }

    private static void requireSameData(Checkpoint c, String what, List<TokenizedPair> pairs) throws IOException {
        if (what.equals("train") && (pairs == null || pairs.isEmpty()))
            throw new IllegalArgumentException("train must hold at least one pair");
        String n = c.require(what + "_pairs"), fp = c.require(what + "_fingerprint");
        if (Long.parseLong(n) != pairs.size() || !Long.toHexString(fingerprint(pairs)).equals(fp))
            throw new IllegalArgumentException(what + " differs from the run's " + what + " pairs (" + n + " pairs, fingerprint "
                    + fp + "; given " + pairs.size() + " pairs, fingerprint " + Long.toHexString(fingerprint(pairs))
                    + "): the cached reference log-probs would not match");
    }

    // ------------------------------------------------------------------------------------------ reference

    /** {chosen[N], rejected[N]}: sequence log-probs of {@code pairs} under {@code m}, in batches, no gradients. */
    static float[][] sequenceLogProbs(CausalLm m, List<TokenizedPair> pairs, int batchPairs, int padId, String what) {
        int n = pairs.size();
        float[] c = new float[n], r = new float[n];
        for (int i0 = 0; i0 < n; i0 += batchPairs) {
            int k = Math.min(batchPairs, n - i0);
            SequenceBatch mb = m.forwardPairs(pairs.subList(i0, i0 + k), padId);
            try (Scope s = new Scope()) {
                SeqReduce.Result red = SeqReduce.forward(s, m.logProbs(), s.of(m.device(), mb.mask(), mb.b(), mb.t()));
                float[] sums = red.sums().toFloatArray();
                for (int j = 0; j < k; j++) {
                    c[i0 + j] = sums[j];
                    r[i0 + j] = sums[k + j];
                    if (!Float.isFinite(sums[j]) || !Float.isFinite(sums[k + j]))
                        throw new IllegalStateException("the reference log-prob of " + what + "[" + (i0 + j) + "] is not finite ("
                                + sums[j] + ", " + sums[k + j] + "): the reference model's weights are broken");
                }
            }
        }
        return new float[][] {c, r};
    }

    // ------------------------------------------------------------------------------------------ one micro-batch

    /** Sums of one micro-batch's outputs; the stats are means over its {@code n} pairs. */
    private record Out(int n, PreferenceLoss.Stats stats, double logpsChosen, double logpsRejected, double chosenTokens) {}

    /**
     * Forward (and, with {@code gradScale > 0}, backward) of the pairs {@code idx} of {@code pairs}: the preference
     * loss's gradient is multiplied by {@code gradScale} (1/gradAccum) and {@code −nllPerToken} is added to each
     * chosen response's ∂L/∂ℓ⁺.
     */
    private Out run(List<TokenizedPair> pairs, float[][] ref, int[] idx, double gradScale, double nllPerToken, long s) {
        int n = idx.length;
        List<TokenizedPair> rows = new ArrayList<>(n);
        for (int i : idx) rows.add(pairs.get(i));
        Device d = model.device();
        SequenceBatch mb = model.forwardPairs(rows, padId);
        try (Scope sc = new Scope()) {
            Tensor mask = sc.of(d, mb.mask(), mb.b(), mb.t());
            SeqReduce.Result red = SeqReduce.forward(sc, model.logProbs(), mask);
            float[] sums = red.sums().toFloatArray();
            double lc = 0, lr = 0, tokens = 0;
            for (int j = 0; j < n; j++) {
                requireFinite(s, "the policy's log-prob of a chosen response", sums[j]);
                requireFinite(s, "the policy's log-prob of a rejected response", sums[n + j]);
                lc += sums[j];
                lr += sums[n + j];
                tokens += mb.lengths()[j];
            }
            Tensor refC = null, refR = null;
            if (ref != null) {
                float[] rc = new float[n], rr = new float[n];
                for (int j = 0; j < n; j++) {
                    rc[j] = ref[0][idx[j]];
                    rr[j] = ref[1][idx[j]];
                }
                refC = sc.of(d, rc);
                refR = sc.of(d, rr);
            }
            Tensor dsums = sc.empty(d, DType.F32, 2L * n);
            Tensor dc = dsums.view(0, n), dr = dsums.view(n, n);
            PreferenceLoss.Stats st = PreferenceLoss.compute(red.sums().view(0, n), red.sums().view(n, n), refC, refR,
                    red.counts().view(0, n), red.counts().view(n, n), config.loss(), dc, dr, sc.empty(d, DType.F32, n),
                    sc.empty(d, DType.F32, n), sc.empty(d, DType.F32, n));
            requireFinite(s, "the loss", st.loss());
            if (gradScale > 0) {
                if (gradScale != 1 || nllPerToken != 0) {
                    // 2n floats through the host: cheaper than a kernel launch per scalar operation
                    float[] g = dsums.toFloatArray();
                    for (int j = 0; j < 2 * n; j++) g[j] = (float) (g[j] * gradScale - (j < n ? nllPerToken : 0));
                    dsums.copyFrom(g);
                }
                model.backward(SeqReduce.backward(sc, dsums, mask));
            }
            return new Out(n, st, lc, lr, tokens);
        }
    }

    private static int chosenTokens(List<TokenizedPair> pairs, int[] idx) {
        int t = 0;
        for (int i : idx) t += pairs.get(i).chosen().length;
        return t;
    }

    // ------------------------------------------------------------------------------------------ step and eval


    @Override
    protected void trainStep(long s, Map<String, Object> metrics) {
        int[][] micro = new int[config.gradAccum()][];
        double tokens = 0;
        for (int i = 0; i < micro.length; i++) {
            micro[i] = sampler.next(config.batchSize());
            tokens += chosenTokens(train, micro[i]);
        }
        double nllPerToken = config.nllCoef() / tokens;
        optimizer.zeroGrad();
        List<Out> outs = new ArrayList<>(micro.length);
        int last = -1; // the last micro-batch with pairs on this rank: its backward overlaps the all-reduce
        for (int i = 0; i < micro.length; i++) if ((comm.distributed() ? shard(micro[i]) : micro[i]).length > 0) last = i;
        for (int i = 0; i < micro.length; i++) {
            int[] idx = micro[i];
            // data parallel: rank k takes pairs k, k + N, ... of the micro-batch, its loss's mean scaled to the batch's
            int[] mine = comm.distributed() ? shard(idx) : idx;
            if (i == last) beforeLastBackward(model);
            if (mine.length > 0)
                outs.add(run(train, refTrain, mine, (double) mine.length / idx.length / micro.length, nllPerToken, s));
        }
        allReduceGradients(model);
        float norm = optimizer.clipNorm(config.optim().gradClip());
        requireFinite(s, "the gradient norm", norm);
        double lr = schedule.lr(s - 1);
        optimizer.apply(config.optim().adamW(lr));
        put(metrics, "", outs, comm);
        metrics.put("grad_norm", (double) norm);
        metrics.put("lr", lr);
        metrics.put("epoch", sampler.epochs());
        metrics.put("tokens", tokens); // chosen-response tokens of the step (the progress bar's tokens/s)
    }

    @Override
    protected void evaluate(Map<String, Object> metrics) {
        if (eval.isEmpty()) return;
        put(metrics, "eval/", measure(eval, refEval, step), Collectives.single()); // every rank measures every eval pair
    }

    /** Forwards over {@code pairs} in order, in batches of {@code batchSize}; no gradients. */
    private List<Out> measure(List<TokenizedPair> pairs, float[][] ref, long s) {
        List<Out> outs = new ArrayList<>();
        for (int i0 = 0; i0 < pairs.size(); i0 += config.batchSize()) {
            int[] idx = new int[Math.min(config.batchSize(), pairs.size() - i0)];
            for (int j = 0; j < idx.length; j++) idx[j] = i0 + j;
            outs.add(run(pairs, ref, idx, 0, 0, s));
        }
        return outs;
    }

    /** The indices of {@code idx} at positions k, k + N, ... (rank k of N). */
    private int[] shard(int[] idx) {
        int[] out = new int[(idx.length - comm.rank() + comm.size() - 1) / comm.size()];
        for (int j = comm.rank(), i = 0; j < idx.length; j += comm.size()) out[i++] = idx[j];
        return out;
    }

    /** Means over all pairs of {@code outs} (summed over the ranks of {@code over}) under TRL's names; loss = preference loss + α·NLL. */
    private void put(Map<String, Object> m, String prefix, List<Out> outs, Collectives over) {
        double[] a = new double[9];
        for (Out o : outs) {
            a[0] += o.n();
            a[1] += (double) o.stats().loss() * o.n();
            a[2] += (double) o.stats().rewardsChosen() * o.n();
            a[3] += (double) o.stats().rewardsRejected() * o.n();
            a[4] += (double) o.stats().accuracy() * o.n();
            a[5] += (double) o.stats().margin() * o.n();
            a[6] += o.logpsChosen();
            a[7] += o.logpsRejected();
            a[8] += o.chosenTokens();
        }
        a = over.allReduceSum(a);
        double n = a[0], loss = a[1], rc = a[2], rr = a[3], acc = a[4], margin = a[5], lc = a[6], lr = a[7], tokens = a[8];
        double nll = -lc / tokens;
        m.put(prefix + "loss", loss / n + config.nllCoef() * nll);
        m.put(prefix + "rewards/chosen", rc / n);
        m.put(prefix + "rewards/rejected", rr / n);
        m.put(prefix + "rewards/accuracies", acc / n);
        m.put(prefix + "rewards/margins", margin / n);
        m.put(prefix + "logps/chosen", lc / n);
        m.put(prefix + "logps/rejected", lr / n);
        if (config.nllCoef() > 0) m.put(prefix + "nll_loss", nll);
    }

    /**
     * The metrics (names as at a train step, without {@code grad_norm}/{@code lr}) of the current policy on the
     * train pairs {@code trainIndices} as one batch; with {@code backward} their gradient of the step's loss is
     * ACCUMULATED into the model's gradients (nothing is updated). For tests and diagnostics.
     */
    Map<String, Object> lossOn(int[] trainIndices, boolean backward) {
        for (int i : trainIndices)
            if (i < 0 || i >= train.size()) throw new IllegalArgumentException("train index " + i + " outside [0, " + train.size() + ")");
        Map<String, Object> m = new LinkedHashMap<>();
        double nllPerToken = config.nllCoef() / chosenTokens(train, trainIndices);
        put(m, "", List.of(run(train, refTrain, trainIndices, backward ? 1 : 0, nllPerToken, step + 1)), Collectives.single());
        return m;
    }

    /** The cached reference log-probs {chosen[N], rejected[N]} of the train pairs (copies); null for SimPO. */
    float[][] referenceLogProbs(boolean evalSet) {
        float[][] r = evalSet ? refEval : refTrain;
        return r == null ? null : new float[][] {r[0].clone(), r[1].clone()};
    }

    @Override
    protected void saveModels(Path ck) throws IOException {
        Checkpoint.saveModel(ck, model, step);
    }

    /** The pairs' fingerprints (a resume with other data is refused) and the cached reference log-probs. */
    @Override
    protected void saveExtras(SafeTensorsWriter w) {
        w.metadata("train_pairs", Integer.toString(train.size()))
                .metadata("train_fingerprint", Long.toHexString(fingerprint(train)))
                .metadata("eval_pairs", Integer.toString(eval.size()))
                .metadata("eval_fingerprint", Long.toHexString(fingerprint(eval)));
        if (refTrain != null) {
            w.putFloats("ref.train.chosen", refTrain[0], refTrain[0].length);
            w.putFloats("ref.train.rejected", refTrain[1], refTrain[1].length);
            if (!eval.isEmpty()) {
                w.putFloats("ref.eval.chosen", refEval[0], refEval[0].length);
                w.putFloats("ref.eval.rejected", refEval[1], refEval[1].length);
            }
        }
    }

    @Override
    protected void closeModels() {
        model.close();
    }

    public CausalLm model() {
        return model;
    }
}
