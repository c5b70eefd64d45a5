package dev.align4j.rl;

import dev.align4j.data.SequenceBatch;
import dev.align4j.kernels.Gae;
import dev.align4j.kernels.KlShaping;
import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.SeqReduce;
import dev.align4j.kernels.ValueLoss;
import dev.align4j.kernels.Whiten;
import dev.align4j.model.Generation;
import dev.align4j.model.GenerationConfig;
import dev.align4j.model.Generator;
import dev.align4j.model.CausalLm;
import dev.align4j.model.SafeTensorsWriter;
import dev.align4j.model.ScalarHead;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Seeds;
import dev.align4j.tensor.Tensor;
import dev.align4j.train.Checkpoint;
import dev.align4j.train.EpochSampler;
import dev.align4j.train.Optimizer;
import dev.align4j.train.PostTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * PPO for language models, as in the lecture and TRL's PPOTrainer. Each step (one PPO iteration):
 * <ol>
 *   <li><b>Rollout.</b> {@code rolloutBatch} prompts (epoch-wise seeded order) are completed by the current policy
 *       (temperature, top-k; at most {@code maxNewTokens}, stopping at EOS), with the sampling seed a function of
 *       (seed, step) so a resume replays them. One forward of the policy on the rows gives ℓ_old (and the entropy),
 *       one of the frozen reference ℓ_ref, the reward function the score R at each row's last token, and the critic
 *       (a GPT + value head) the values V at the positions that predict each response token.</li>
 *   <li><b>Rewards and advantages</b> through the kernels, on the policy's device (the rollout's [B, T] tensors
 *       stay there; the host sees the token ids, the B scores and the metrics' row sums): {@link KlShaping} (−β·k(ℓ_old − ℓ_ref) per response
 *       token, R at the last one, minus the missing-EOS penalty when the response did not end with EOS),
 *       {@link Gae} (γ, λ; V and A zero after the last response token), {@link Whiten} of the advantages over the
 *       mask (two host round trips remain: masking the critic's values, and the optional k3 KL-loss term, for which
 *       there is no kernel). With {@link PpoConfig.Baseline#GROUP} (RLOO) there is no critic: scores are taken relative to the
 *       leave-one-out mean of their prompt's k responses and V = 0, so the advantage is the shaped return-to-go.</li>
 *   <li><b>Updates.</b> {@code ppoEpochs} passes over the rollout in shuffled minibatches (rows gathered on the
 *       device): policy forward →
 *       {@link PolicyLoss} (clipped ratio, dual clip optional) − c_e·mean H (entropy bonus, through the fused
 *       log-prob kernel's entropy backward) + c_kl·mean k3(ℓ_new − ℓ_ref) (optional KL loss); critic forward →
 *       c_v·{@link ValueLoss} (clipped). One AdamW step over policy, critic and value head with one global
 *       gradient norm (clipped), refused when non-finite.</li>
 *   <li><b>Adaptive β</b> (when {@code klTarget > 0}): e = clip(KL/target − 1, −0.2, 0.2), β ← β(1 + e·n/horizon)
 *       with KL the rollout's mean sequence KL and n = rolloutBatch.</li>
 * </ol>
 * Metrics under TRL's names: objective/kl (mean over sequences of Σ_t k(d_t)), objective/entropy (mean over
 * sequences of Σ_t H_t), objective/entropy_per_token, objective/scores, objective/rlhf_reward (score − β·KL),
 * objective/kl_coef, policy/clipfrac, policy/approxkl (k3 of ℓ_old, ℓ_new), policy/approxkl_k1, loss/policy,
 * loss/value, loss/kl, val/clipfrac, val/vpred, val/var_explained (1 − Var(G − V)/Var(G) over the mask),
 * response_length, eos_rate, and objective/gold when a gold judge is given (the over-optimisation curve).
 */
public final class PpoTrainer extends PostTrainer<PpoConfig> {
    /** The proxy reward of finished rows: one score per row of {@code batch}, read at {@code endIndex}. */
    @FunctionalInterface
    public interface RewardFunction {
        float[] score(SequenceBatch batch);
    }

    /** A gold score of one rollout response (tokens after the prompt, EOS included if sampled) to prompt {@code index}. */
    @FunctionalInterface
    public interface GoldJudge {
        double score(int promptIndex, int[] response);
    }

    /** Ids the trainer needs from the tokenizer. */
    public record Ids(int eosId, int padId) {}

    private final CausalLm policy, reference, critic;
    /**
     * Whether the policy's and reference's forwards run each prompt once for its group of k ({@link RolloutRows}):
     * when both models can, and there is no critic (its values are read at every position of the full rows).
     */
    private final boolean share;
    private final ScalarHead valueHead;
    private final RewardFunction reward;
    private final List<int[]> prompts;
    private final Ids ids;
    private final EpochSampler sampler;
    private GoldJudge gold;
    private Function<CausalLm, Map<String, Double>> evalHook;
    private double beta;

    private PpoTrainer(CausalLm policy, CausalLm reference, CausalLm critic, ScalarHead valueHead, RewardFunction reward, List<int[]> prompts,
                       PpoConfig config, Ids ids, Path dir, boolean owns) throws IOException {
        super(NAME, dir, config, owns, owns);
        // LoRA: the reference is the policy with its adapters off (TRL's disable_adapter), no second model
        if (reference == null && policy != null && policy.lora() != null) reference = policy.adaptersOff();
        if (policy == null || reference == null || reward == null)
            throw new IllegalArgumentException("policy, reference and reward must not be null (the reference may be null when the"
                    + " policy has LoRA adapters)");
        boolean group = config.advantage().baseline() == PpoConfig.Baseline.GROUP;
        if (group && (critic != null || valueHead != null))
            throw new IllegalArgumentException("baseline GROUP trains no critic: pass null for critic and valueHead");
        if (!group && (critic == null || valueHead == null))
            throw new IllegalArgumentException("critic and valueHead must not be null with baseline CRITIC (or use GROUP)");
        if (policy == reference) throw new IllegalArgumentException("reference must be a separate (frozen) model, not the policy");
        if (!policy.config().equals(reference.config()))
            throw new IllegalArgumentException("policy and reference configs differ: " + policy.config() + " vs " + reference.config());
        if (!group && critic.config().hiddenSize() != valueHead.nEmbd())
            throw new IllegalArgumentException("valueHead has width " + valueHead.nEmbd() + ", the critic " + critic.config().hiddenSize());
        if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("prompts must not be empty");
        int ctx = group ? policy.config().nCtx() : Math.min(policy.config().nCtx(), critic.config().nCtx());
        for (int i = 0; i < prompts.size(); i++) {
            int[] p = prompts.get(i);
            if (p == null || p.length == 0) throw new IllegalArgumentException("prompts[" + i + "] is empty");
            if (p.length + config.rollout().maxNewTokens() > ctx)
                throw new IllegalArgumentException("prompts[" + i + "] has " + p.length + " tokens: with maxNewTokens = "
                        + config.rollout().maxNewTokens() + " it exceeds the context " + ctx);
            for (int id : p)
                if (id < 0 || id >= policy.config().vocabSize())
                    throw new IllegalArgumentException("prompts[" + i + "] holds id " + id + " outside the vocabulary");
        }
        this.policy = policy;
        this.reference = reference;
        this.critic = critic;
        this.share = critic == null && RolloutRows.canShare(policy, reference);
        this.valueHead = valueHead;
        this.reward = reward;
        this.prompts = List.copyOf(prompts);
        this.ids = ids;
        this.sampler = new EpochSampler(prompts.size(), config.seed(), true);
        this.data = sampler;
        this.optimizer = new Optimizer(group ? List.of(Optimizer.group(policy)) : List.of(Optimizer.group(policy),
                new Optimizer.Group("critic", critic.params(), critic.grads(), critic.layout().decayRanges()),
                Optimizer.group("value_head", valueHead)));
        this.beta = config.kl().beta();
    }

    /**
     * A new run: {@code policy} is trained (start it from the SFT model), {@code reference} is the frozen SFT model,
     * {@code critic} + {@code valueHead} the value model (TRL starts it from the reward model), {@code reward} the
     * proxy reward. With {@link PpoConfig.Baseline#GROUP} there is no value model: pass null for {@code critic} and
     * {@code valueHead}. The caller keeps and closes every model.
     */
    public static PpoTrainer create(CausalLm policy, CausalLm reference, CausalLm critic, ScalarHead valueHead, RewardFunction reward,
                                    List<int[]> prompts, PpoConfig config, Ids ids, Path dir) throws IOException {
        if (config == null || ids == null) throw new IllegalArgumentException("config and ids must not be null");
        return new PpoTrainer(policy, reference, critic, valueHead, reward, prompts, config, ids, dir, false);
    }

    private static final String NAME = "ppo";

    /** The config saved with the latest checkpoint of the run in {@code dir} (what {@link #resume} continues with). */
    public static PpoConfig savedConfig(Path dir) throws IOException {
        return Checkpoint.savedConfig(dir, NAME, PpoConfig.class);
    }

    /**
     * Continues the run in {@code dir}: the policy, critic, value head, optimizer, β and data position come from the
     * latest checkpoint; {@code reference}, {@code reward} and {@code prompts} must be the original run's (the
     * caller keeps them). The loaded models are closed with the trainer.
     */
    public static PpoTrainer resume(Path dir, CausalLm reference, RewardFunction reward, List<int[]> prompts, Ids ids, Device device)
            throws IOException {
        return resume(dir, NAME, (c, owned) -> {
            PpoConfig config = c.config(PpoConfig.class);
            CausalLm policy = owned.add(c.loadModel("", device)), critic = null;
            ScalarHead head = null;
            if (config.advantage().baseline() == PpoConfig.Baseline.CRITIC) {
                critic = owned.add(c.loadModel(CRITIC, device));
                head = owned.add(ScalarHead.load(c.dir().resolve(CRITIC).resolve(VALUE_HEAD), critic.config().hiddenSize(), device));
            }
            return new PpoTrainer(policy, reference, critic, head, reward, prompts, config, ids, dir, true);
        });
    }


    static final String CRITIC = "critic";
    static final String VALUE_HEAD = "value_head.safetensors";

    /** Scores each rollout with a gold judge too ({@code objective/gold}): the over-optimisation curve. */
    public PpoTrainer withGoldJudge(GoldJudge judge) {
        this.gold = judge;
        return this;
    }

    /** Called with the policy at each eval; its values are logged under {@code eval/<key>}. */
    public PpoTrainer withEvalHook(Function<CausalLm, Map<String, Double>> hook) {
        this.evalHook = hook;
        return this;
    }

    /**
     * One rollout. Its [B, T] tensors live on the policy's device in {@code scope} (closed with the rollout): the
     * log-probs, KL shaping, GAE and whitening run there through the kernels; the host holds the token ids and the
     * B scores.
     */
    record Rollout(Scope scope, SequenceBatch batch, int[] promptIndex, Tensor mask, Tensor logpOld, Tensor logpRef,
                   Tensor values, float[] scores, Tensor rewards, Tensor kl, Tensor advantages, Tensor returns,
                   Tensor entropy) implements AutoCloseable {
        @Override
        public void close() {
            scope.close();
        }
    }

    Rollout rollout(long s) {
        int n = config.rollout().batch(), k = config.rollout().samplesPerPrompt();
        int[] drawn = sampler.next(n / k), idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = drawn[i / k]; // each prompt k times, in consecutive rows
        int[][] ps = new int[n][];
        for (int i = 0; i < n; i++) ps[i] = prompts.get(idx[i]);
        GenerationConfig gc = new GenerationConfig(config.rollout().maxNewTokens(), config.rollout().temperature(), config.rollout().topK(), 1.0, ids.eosId(),
                ids.padId(), Seeds.mix(config.seed(), s, 0x6E));
        // data parallel: rank k generates the prompts k, k + N, ... (their k samples each, with the whole batch's
        // per-row random streams), then the ranks exchange the responses; below, each runs its share of the forwards
        // and the scoring, and the [B, T] results are summed over the ranks (each row is non-zero on one rank only)
        int[] mine = comm.distributed() ? comm.ownedGroupRows(n, k) : null;
        int[][] responses = new int[n][];
        if (mine == null) {
            Generation gen = Generator.generate(policy, ps, gc);
            for (int i = 0; i < n; i++) responses[i] = gen.response(i);
        } else {
            int[][] myPrompts = new int[mine.length][];
            for (int j = 0; j < mine.length; j++) myPrompts[j] = ps[mine[j]];
            if (mine.length > 0) {
                Generation gen = Generator.generate(policy, myPrompts, gc, new int[0], mine);
                for (int j = 0; j < mine.length; j++) responses[mine[j]] = gen.response(j);
            }
            RowExchange.allGather(comm, mine, (i, o) -> RowExchange.writeInts(o, responses[i]),
                    (i, in) -> responses[i] = RowExchange.readInts(in));
        }
        List<int[]> pl = new ArrayList<>(n), rl = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            pl.add(ps[i]);
            rl.add(responses[i]);
        }
        SequenceBatch sb = SequenceBatch.ofResponses(pl, rl, ids.padId());
        int b = sb.b(), t = sb.t();
        Device dev = policy.device();
        Scope sc = new Scope();
        try {
            Tensor mask = sc.of(dev, sb.mask(), b, t);
            Tensor logpOld = sc.zeros(dev, DType.F32, b, t), entropy = sc.zeros(dev, DType.F32, b, t),
                    logpRef = sc.zeros(dev, DType.F32, b, t);
            // the forwards in micro-batches as the updates run them, each row's outputs put back in place
            int[][] chunks = chunks(sb, idx, allRows(b));
            for (int c = 0; c < chunks.length; c++) {
                if (!comm.owns(c)) continue;
                int[] rows = chunks[c];
                RolloutRows mb = rowsOf(sb, idx, rows);
                int[] shift = shift(mb, idx, rows);
                policy.setComputeEntropy(true);
                try {
                    mb.forward(policy);
                    scatterRows(sc, policy.logProbs(), logpOld, rows, shift);
                    scatterRows(sc, policy.entropy(), entropy, rows, shift);
                } finally {
                    policy.setComputeEntropy(false);
                }
                mb.forward(reference);
                scatterRows(sc, reference.logProbs(), logpRef, rows, shift);
            }
            float[] scores;
            if (mine == null) scores = reward.score(sb);
            else {
                comm.allReduceSum(logpOld);
                comm.allReduceSum(entropy);
                comm.allReduceSum(logpRef);
                double[] all = new double[b];
                if (mine.length > 0) {
                    float[] part = reward.score(sb.rows(mine));
                    if (part == null || part.length != mine.length)
                        throw new IllegalStateException("the reward function returned " + (part == null ? "null" : part.length + " scores")
                                + " for " + mine.length + " rows");
                    for (int j = 0; j < mine.length; j++) all[mine[j]] = part[j];
                }
                all = comm.allReduceSum(all);
                scores = new float[b];
                for (int i = 0; i < b; i++) scores[i] = (float) all[i];
            }
            if (scores == null || scores.length != b)
                throw new IllegalStateException("the reward function returned " + (scores == null ? "null" : scores.length + " scores")
                        + " for " + b + " rows");
            Tensor values = critic == null ? sc.zeros(dev, DType.F32, b, t) : criticValues(sc, sb); // GROUP: V = 0, A = return-to-go
            KlShaping.Config kc = new KlShaping.Config((float) beta, config.kl().estimator(), ids.eosId(), config.kl().missingEosPenalty());
            KlShaping.Result shaped = KlShaping.compute(sc, logpOld, logpRef, mask, sc.of(dev, leaveOneOut(scores, k), b),
                    sc.of(dev, sb.targets(), b, t), kc);
            Gae.Result g = Gae.compute(sc, shaped.rewards(), values, mask, config.advantage().gamma(), config.advantage().lambda());
            Tensor adv = config.advantage().whiten() ? Whiten.apply(sc, g.advantages(), mask, true).out() : g.advantages();
            return new Rollout(sc, sb, idx, mask, logpOld, logpRef, values, scores, shaped.rewards(), shaped.kl(), adv,
                    g.returns(), entropy);
        } catch (RuntimeException | Error e) {
            sc.close();
            throw e;
        }
    }

    /** A copy of F32 {@code src} on {@code dev} in {@code sc} (through the host only when src is on another device). */
    private static Tensor copy(Scope sc, Device dev, Tensor src) {
        Tensor out = sc.empty(dev, src.dtype(), src.shape());
        return src.device().equals(dev) ? out.copyFrom(src) : out.copyFrom(src.toFloatArray());
    }

    /** {@code x} itself when it is on {@code dev}, else a copy there. */
    private static Tensor on(Scope sc, Device dev, Tensor x) {
        return x.device().equals(dev) ? x : copy(sc, dev, x);
    }

    /**
     * Row q of {@code src} [rows, cols] (a micro-batch's layout) into row rows[q] of {@code dst} [B, T] from column
     * shift[q] on, as far as the row reaches.
     */
    private static void scatterRows(Scope sc, Tensor src, Tensor dst, int[] rows, int[] shift) {
        Tensor from = on(sc, dst.device(), src);
        long t = dst.dim(1), cols = src.dim(1);
        for (int q = 0; q < rows.length; q++) {
            long n = Math.min(cols, t - shift[q]);
            dst.view(rows[q] * t + shift[q], n).copyFrom(from.view(q * cols, n));
        }
    }

    /**
     * Rows {@code rows} of the [B, T] tensor {@code src} in a micro-batch's layout: row q from column shift[q] on, as
     * a new [rows, cols] tensor of {@code sc} (zeros past the row's end).
     */
    private static Tensor gatherRows(Scope sc, Tensor src, int[] rows, int cols, int[] shift) {
        long t = src.dim(1);
        Tensor out = sc.zeros(src.device(), src.dtype(), rows.length, cols);
        for (int q = 0; q < rows.length; q++) {
            long n = Math.min(cols, t - shift[q]);
            out.view((long) q * cols, n).copyFrom(src.view(rows[q] * t + shift[q], n));
        }
        return out;
    }

    private static int[] allRows(int b) {
        int[] all = new int[b];
        for (int i = 0; i < b; i++) all[i] = i;
        return all;
    }

    /** Micro-batches of {@code rows} (see {@link RolloutRows#chunks}; a group is one prompt's k consecutive rows). */
    private int[][] chunks(SequenceBatch sb, int[] promptIndex, int[] rows) {
        int k = config.rollout().samplesPerPrompt();
        return RolloutRows.chunks(rows, config.rollout().microBatch(), share, i -> sb.endIndex()[i], i -> i / k,
                i -> sb.endIndex()[i] + 1 - prompts.get(promptIndex[i]).length, i -> prompts.get(promptIndex[i]).length);
    }

    /** Rows {@code rows} of the rollout in the layout the models run (shared prefixes when {@link #share}). */
    private RolloutRows rowsOf(SequenceBatch sb, int[] promptIndex, int[] rows) {
        if (!share) {
            int[] firsts = new int[rows.length];
            for (int q = 0; q < rows.length; q++) firsts[q] = prompts.get(promptIndex[rows[q]]).length - 1;
            return new RolloutRows(sb.rows(rows), null, firsts);
        }
        List<int[]> ps = new ArrayList<>(rows.length), cs = new ArrayList<>(rows.length);
        for (int i : rows) {
            int p = prompts.get(promptIndex[i]).length;
            ps.add(prompts.get(promptIndex[i]));
            cs.add(Arrays.copyOfRange(sb.inputs(), i * sb.t() + p, i * sb.t() + sb.endIndex()[i] + 1));
        }
        return RolloutRows.of(ps, cs, null, ids.padId(), true);
    }

    /** Per row of {@code mb}: the rollout's column of the micro-batch's column 0 (0 for the full rows). */
    private int[] shift(RolloutRows mb, int[] promptIndex, int[] rows) {
        int[] out = new int[rows.length];
        for (int q = 0; q < rows.length; q++) out[q] = prompts.get(promptIndex[rows[q]]).length - 1 - mb.first(q);
        return out;
    }

    /**
     * Scores relative to a leave-one-out baseline within each group of {@code k} consecutive rows (one prompt's
     * responses): {@code s_i − mean_{j ≠ i} s_j}; the scores themselves when {@code k = 1}.
     */
    static float[] leaveOneOut(float[] scores, int k) {
        if (k == 1) return scores;
        float[] out = new float[scores.length];
        for (int g = 0; g < scores.length; g += k) {
            double sum = 0;
            for (int i = g; i < g + k; i++) sum += scores[i];
            for (int i = g; i < g + k; i++) out[i] = (float) (scores[i] - (sum - scores[i]) / (k - 1));
        }
        return out;
    }

    /**
     * Values of the critic at every position {@code [B, T]} (0 where the mask is 0). The masking makes one host round
     * trip: there is no elementwise kernel for it, and the critic path is not the demo's.
     */
    private Tensor criticValues(Scope sc, SequenceBatch sb) {
        critic.forward(sb.inputs(), null, null, sb.b(), sb.t());
        Tensor v = sc.empty(critic.device(), DType.F32, sb.b(), sb.t());
        valueHead.forward(critic.hidden(), v);
        float[] out = v.toFloatArray();
        for (int i = 0; i < out.length; i++) out[i] *= sb.mask()[i];
        return on(sc, policy.device(), v.copyFrom(out));
    }

    @Override
    protected void trainStep(long s, Map<String, Object> metrics) {
        try (Rollout r = rollout(s)) {
            trainOn(s, r, metrics);
        }
    }

    private void trainOn(long s, Rollout r, Map<String, Object> metrics) {
        SequenceBatch sb = r.batch();
        int b = sb.b(), t = sb.t();
        float[] mask = sb.mask();
        // rollout metrics: the [B, T] sums by SeqReduce on the device, B scalars to the host
        double klSum = SeqReduce.maskedTotal(r.kl(), r.mask()), entSum = SeqReduce.maskedTotal(r.entropy(), r.mask()), tokens = sb.maskedTokens();
        double scoreSum = 0, lenSum = 0, eos = 0, goldSum = 0;
        for (int i = 0; i < b; i++) {
            scoreSum += r.scores()[i];
            lenSum += sb.lengths()[i];
            if (sb.lastIndex()[i] >= 0 && sb.targets()[i * t + sb.lastIndex()[i]] == ids.eosId()) eos++;
            if (gold != null) {
                int p = prompts.get(r.promptIndex()[i]).length;
                int[] resp = Arrays.copyOfRange(sb.inputs(), i * t + p, i * t + sb.endIndex()[i] + 1);
                goldSum += gold.score(r.promptIndex()[i], resp);
            }
        }
        double meanKl = klSum / b;
        metrics.put("objective/kl", meanKl);
        metrics.put("objective/entropy", entSum / b);
        metrics.put("objective/entropy_per_token", tokens == 0 ? 0 : entSum / tokens);
        metrics.put("objective/scores", scoreSum / b);
        metrics.put("objective/rlhf_reward", scoreSum / b - beta * meanKl);
        metrics.put("objective/kl_coef", beta);
        if (gold != null) metrics.put("objective/gold", goldSum / b);
        metrics.put("response_length", lenSum / b);
        metrics.put("eos_rate", eos / b);
        metrics.put("tokens", tokens); // response tokens sampled this step (the progress bar's tokens/s)

        // updates
        Random rnd = new Random(Seeds.mix(config.seed(), s, 0x7F));
        int mb = config.rollout().miniBatch();
        double pl = 0, vl = 0, kll = 0, clip = 0, vclip = 0, akl3 = 0, akl1 = 0, norm = 0;
        int updates = 0;
        double lr = schedule.lr(s - 1);
        Integer[] order = new Integer[b];
        for (int e = 0; e < config.rollout().epochs(); e++) {
            List<Integer> rows = new ArrayList<>(b);
            for (int i = 0; i < b; i++) rows.add(i);
            java.util.Collections.shuffle(rows, rnd);
            rows.toArray(order);
            for (int start = 0; start < b; start += mb) {
                int[] sel = new int[Math.min(mb, b - start)];
                for (int q = 0; q < sel.length; q++) sel[q] = order[start + q];
                Update u = update(s, r, sel);
                pl += u.policyLoss;
                vl += u.valueLoss;
                kll += u.klLoss;
                clip += u.clipFrac;
                vclip += u.valueClipFrac;
                akl3 += u.approxKl3;
                akl1 += u.approxKl1;
                norm += u.norm;
                updates++;
                optimizer.apply(config.optim().adamW(lr));
            }
        }
        metrics.put("loss/policy", pl / updates);
        if (critic != null) metrics.put("loss/value", vl / updates);
        if (config.objective().klLossCoef() > 0) metrics.put("loss/kl", kll / updates);
        metrics.put("policy/clipfrac", clip / updates);
        metrics.put("policy/approxkl", akl3 / updates);
        metrics.put("policy/approxkl_k1", akl1 / updates);
        if (critic != null) metrics.put("val/clipfrac", vclip / updates);
        metrics.put("grad_norm", norm / updates);
        metrics.put("lr", lr);
        if (critic != null) {
            metrics.put("val/vpred", tokens == 0 ? 0 : SeqReduce.maskedTotal(r.values(), r.mask()) / tokens);
            metrics.put("val/var_explained", varExplained(r.values().toFloatArray(), r.returns().toFloatArray(), mask));
        }
        if (config.kl().target() > 0) {
            double err = Math.max(-0.2, Math.min(0.2, meanKl / config.kl().target() - 1));
            beta = beta * (1 + err * config.rollout().batch() / config.kl().horizon());
        }
    }

    /** 1 − Var(G − V) / Var(G) over the mask (NaN when the returns have no variance). */
    static double varExplained(float[] values, float[] returns, float[] mask) {
        double n = 0, mg = 0, md = 0;
        for (int k = 0; k < mask.length; k++)
            if (mask[k] != 0f) {
                n++;
                mg += returns[k];
                md += returns[k] - values[k];
            }
        if (n < 2) return Double.NaN;
        mg /= n;
        md /= n;
        double vg = 0, vd = 0;
        for (int k = 0; k < mask.length; k++)
            if (mask[k] != 0f) {
                vg += (returns[k] - mg) * (returns[k] - mg);
                vd += (returns[k] - values[k] - md) * (returns[k] - values[k] - md);
            }
        return vg == 0 ? Double.NaN : 1 - vd / vg;
    }

    private record Update(double policyLoss, double valueLoss, double klLoss, double clipFrac, double valueClipFrac,
                          double approxKl3, double approxKl1, double norm) {}

    /**
     * Gradients of one minibatch (rows {@code sel} of the rollout) and the global norm; the caller applies. The rows
     * are sorted by length and cut into micro-batches of at most {@code microBatch} rows, each padded only to its own
     * longest row: causal attention never reads the padding after a row, so a row's log-probs do not depend on it,
     * and rows of like length waste the least. Each micro-batch's loss is weighted by its share of the minibatch's
     * tokens (token-mean) or sequences (sequence-mean), so the accumulated gradient is the minibatch's.
     */
    private Update update(long s, Rollout r, int[] sel) {
        Share whole = Share.of(r.batch(), sel);
        optimizer.zeroGrad();
        double[] acc = new double[7]; // policy loss, value loss, KL loss, clipfrac, value clipfrac, approxkl k3, k1
        // data parallel: rank k runs micro-batches k, k + N, ... (each keeps its share of the minibatch); the rollout is
        // the same on every rank
        int[][] chunks = chunks(r.batch(), r.promptIndex(), sel);
        int last = comm.lastOwned(chunks.length);
        for (int c = 0; c < chunks.length; c++) {
            if (!comm.owns(c)) continue;
            if (c == last) beforeLastBackward(policy);
            microUpdate(s, r, chunks[c], whole, acc);
        }
        allReduceGradients(policy);
        acc = comm.allReduceSum(acc);
        float norm = optimizer.clipNorm(config.optim().gradClip());
        requireFinite(s, "the gradient norm", norm);
        return new Update(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], norm);
    }


    /** Masked tokens and rows with at least one of them: the divisors of the token-mean and sequence-mean. */
    private record Share(double tokens, int sequences) {
        static Share of(SequenceBatch sb, int[] rows) {
            double tokens = 0;
            int seqs = 0;
            for (int i : rows) {
                tokens += sb.lengths()[i];
                if (sb.lengths()[i] > 0) seqs++;
            }
            return new Share(tokens, seqs);
        }

        /** This share of {@code whole}'s tokens, or of its sequences (0 when whole has none). */
        double of(Share whole, boolean bySequence) {
            return bySequence ? (whole.sequences == 0 ? 0 : (double) sequences / whole.sequences)
                    : whole.tokens == 0 ? 0 : tokens / whole.tokens;
        }
    }

    /** One micro-batch's forward, losses and backward (gradients accumulate); its weighted stats are added to acc. */
    private void microUpdate(long s, Rollout r, int[] rows, Share whole, double[] acc) {
        RolloutRows rr = rowsOf(r.batch(), r.promptIndex(), rows);
        int[] shift = shift(rr, r.promptIndex(), rows);
        SequenceBatch mb = rr.batch();
        int m = mb.b(), tm = mb.t();
        float[] mask = mb.mask();
        Share part = Share.of(r.batch(), rows);
        double tokens = whole.tokens(), wTok = part.of(whole, false);
        PolicyLoss.Config pc = config.objective().policyLoss();
        boolean seqMean = pc.aggregation() == PolicyLoss.Aggregation.SEQUENCE_MEAN;
        // token-mean over the minibatch is DAPO's token sum over a given count; the sequence-mean is scaled below
        if (!seqMean && tokens > 0) pc = pc.withLossType(PolicyLoss.LossType.DAPO);
        double wLoss = seqMean ? part.of(whole, true) : 1;
        Device dev = policy.device();
        try (Scope sc = new Scope()) {
            Tensor maskT = sc.of(dev, mask, m, tm);
            // the micro-batch's rows of the rollout's device tensors, gathered on the device
            Tensor old = gatherRows(sc, r.logpOld(), rows, tm, shift), adv = gatherRows(sc, r.advantages(), rows, tm, shift);
            // policy: clipped surrogate, entropy bonus, optional KL loss
            boolean ent = config.objective().entCoef() > 0;
            policy.setComputeEntropy(ent);
            PolicyLoss.Stats ps;
            try {
                float loss = rr.forward(policy);
                requireFinite(s, "the policy's log-likelihood", loss);
                PolicyLoss.Result pr = PolicyLoss.compute(sc, policy.logProbs(), old, null, adv, maskT, pc, tokens);
                ps = pr.stats();
                requireFinite(s, "the policy loss", ps.loss());
                Tensor dent = null;
                if (ent) {
                    float[] d = new float[m * tm];
                    for (int k = 0; k < d.length; k++) d[k] = tokens == 0 ? 0f : (float) (-config.objective().entCoef() * mask[k] / tokens);
                    dent = sc.of(dev, d, m, tm);
                }
                Tensor dlogp = pr.dlogpNew();
                boolean klLoss = config.objective().klLossCoef() > 0 && part.tokens() > 0;
                if (klLoss || wLoss != 1) { // on the host: no kernel for the k3 loss term or for scaling
                    float[] dl = dlogp.toFloatArray();
                    for (int k = 0; k < dl.length; k++) dl[k] *= (float) wLoss;
                    if (klLoss) {
                        float[] lnew = policy.logProbs().toFloatArray(), ref = gatherRows(sc, r.logpRef(), rows, tm, shift).toFloatArray();
                        for (int k = 0; k < dl.length; k++) {
                            if (mask[k] == 0f) continue;
                            double dd = (double) lnew[k] - ref[k];
                            acc[2] += (Math.exp(-dd) - 1 + dd) / tokens;
                            dl[k] += (float) (config.objective().klLossCoef() * (1 - Math.exp(-dd)) / tokens);
                        }
                    }
                    dlogp.copyFrom(dl);
                }
                policy.backward(dlogp, dent, null);
            } finally {
                policy.setComputeEntropy(false);
            }
            acc[0] += ps.loss() * wLoss;
            acc[3] += ps.clipFrac() * wTok;
            acc[5] += ps.approxKlK3() * wTok;
            acc[6] += ps.approxKlK1() * wTok;
            // critic: clipped value loss (none with the GROUP baseline)
            if (critic != null) {
                boolean vSeq = config.objective().valueLoss().aggregation() == PolicyLoss.Aggregation.SEQUENCE_MEAN;
                double wValue = part.of(whole, vSeq);
                ValueLoss.Stats vs = criticBackward(sc, mb.inputs(), gatherRows(sc, r.values(), rows, tm, shift),
                        gatherRows(sc, r.returns(), rows, tm, shift), maskT, m, tm, s, wValue);
                acc[1] += vs.loss() * wValue;
                acc[4] += vs.clipFrac() * wTok;
            }
        }
    }

    /**
     * The critic's forward, clipped value loss (× vfCoef × {@code weight}, the micro-batch's share of the minibatch)
     * and backward into the critic and value head; the stats are the micro-batch's own.
     */
    private ValueLoss.Stats criticBackward(Scope sc, int[] in, Tensor vold, Tensor ret, Tensor maskT, int m, int t, long s,
                                           double weight) {
        Device dev = critic.device();
        critic.forward(in, null, null, m, t);
        Tensor values = sc.empty(dev, DType.F32, m, t);
        valueHead.forward(critic.hidden(), values);
        ValueLoss.Result vr = ValueLoss.compute(sc, values, on(sc, dev, vold), on(sc, dev, ret), maskT, config.objective().valueLoss());
        requireFinite(s, "the value loss", vr.stats().loss());
        float[] dv = vr.dvalues().toFloatArray();
        for (int k = 0; k < dv.length; k++) dv[k] *= (float) (config.objective().vfCoef() * weight);
        Tensor dhidden = sc.empty(dev, DType.F32, m, t, critic.config().hiddenSize());
        valueHead.backward(sc.of(dev, dv, m, t), critic.hidden(), dhidden);
        critic.backward(null, dhidden);
        return vr.stats();
    }

    @Override
    protected void evaluate(Map<String, Object> metrics) {
        if (evalHook == null) return;
        for (Map.Entry<String, Double> e : evalHook.apply(policy).entrySet()) metrics.put("eval/" + e.getKey(), e.getValue());
    }

    @Override
    protected void saveModels(Path ck) throws IOException {
        Checkpoint.saveModel(ck, policy, step);
        if (critic != null) {
            Path cd = ck.resolve(CRITIC);
            java.nio.file.Files.createDirectories(cd);
            Checkpoint.saveModel(cd, critic, step);
            valueHead.save(cd.resolve(VALUE_HEAD));
        }
    }

    /** β, which an adaptive controller changes. */
    @Override
    protected void saveExtras(SafeTensorsWriter w) {
        w.metadata("kl_beta", Double.toString(beta));
    }

    @Override
    protected void loadExtras(Checkpoint c) throws IOException {
        beta = Double.parseDouble(c.require("kl_beta"));
    }

    public CausalLm policy() {
        return policy;
    }

    /** The value model; null with {@link PpoConfig.Baseline#GROUP}. */
    public CausalLm critic() {
        return critic;
    }

    /** The value head; null with {@link PpoConfig.Baseline#GROUP}. */
    public ScalarHead valueHead() {
        return valueHead;
    }

    /** The current KL coefficient β (changes only with an adaptive controller). */
    public double klCoef() {
        return beta;
    }

    @Override
    protected void closeModels() {
        policy.close();
        if (critic != null) critic.close();
        if (valueHead != null) valueHead.close();
    }
}
