package dev.align4j.rl;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.tasks.Task;
import dev.align4j.kernels.GroupAdvantage;
import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.SeqReduce;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Generation;
import dev.align4j.model.GenerationConfig;
import dev.align4j.model.Generator;
import dev.align4j.rl.reward.CombinedReward;
import dev.align4j.rl.reward.RewardSample;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Seeds;
import dev.align4j.tensor.Tensor;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.Checkpoint;
import dev.align4j.train.EpochSampler;
import dev.align4j.train.Optimizer;
import dev.align4j.train.PostTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * GRPO and its successors (Dr. GRPO, DAPO, GSPO) with rewards that programs check, as TRL's GRPOTrainer. No critic:
 * each prompt is sampled G times and each completion's advantage is its reward relative to its group's. A step:
 * <ol>
 *   <li><b>Generation.</b> {@code prompts} prompts (epoch-wise seeded order), G completions each, sampled by the
 *       current policy with a seed of (seed, step, round), so a resume replays them. The completions are decoded and
 *       scored by the reward functions (host: text and ids in, one float per completion and function out), plus
 *       DAPO's soft overlong punishment. With dynamic sampling, groups whose rewards are all equal are dropped and
 *       more prompts are drawn, up to {@code maxGenerationBatches} generation batches; the step then trains on the
 *       first {@code prompts} groups that vary (or on fewer, when the rounds ran out).</li>
 *   <li><b>Advantages</b> on the device ({@link GroupAdvantage}): (r − mean_group) / (std + ε), std per group, per
 *       batch or none. The rows are then shuffled (one permutation per step) and cut into optimizer steps of
 *       {@code miniBatch} rows, each accumulated over forwards of {@code microBatch} rows.</li>
 *   <li><b>Old log-probs.</b> When a generation batch is used by exactly one optimizer step ({@code numIterations}
 *       1 and {@code miniBatch} ≥ the batch) the policy is the sampling policy throughout, so ℓ_old is the update's
 *       own forward and the ratio is exactly 1 (TRL's {@code old = new.detach()}). Otherwise ℓ_old of every
 *       micro-batch is computed before the first update by the same forward the update runs, on the same rows and
 *       padding, so the first micro-batch's ratio is exactly 1 on the CPU as well. With β &gt; 0 the reference's
 *       ℓ_ref likewise. These stay on the device.</li>
 *   <li><b>Updates.</b> {@code numIterations} passes; each micro-batch: policy forward → {@link PolicyLoss} (the
 *       clipped ratio per token or per sequence, β·k3 to the reference, aggregated by {@code lossType}) → backward.
 *       One AdamW step per minibatch with the global gradient norm clipped, refused when non-finite.</li>
 * </ol>
 * The host sees token ids (for the text rewards), per-row sums and scalars; per-token tensors stay on the device.
 *
 * <p>Metrics under TRL's names: reward, reward_std (mean of the groups' std), frac_reward_zero_std,
 * rewards/&lt;name&gt;/mean, completions/mean_length, completions/min_length, completions/max_length,
 * completions/clipped_ratio (cut at the length limit, no EOS), clip_ratio/low_mean, clip_ratio/high_mean,
 * clip_ratio/region_mean, entropy (token mean over the completions at generation), kl (with β &gt; 0: the loss's
 * token-mean k3), objective/kl (with a reference model: PPO's, the mean over completions of Σ_t ℓ_old − ℓ_ref), loss,
 * grad_norm, lr; dynamic_sampling/generation_batches and dynamic_sampling/kept_groups; and
 * sampling/logp_difference/mean: the mean over completion tokens of the sampler's log-prob (its tempered and
 * truncated distribution, as it sampled) minus the trainer's ℓ_old — 0 up to float rounding at temperature 1
 * without top-k/top-p, and −log of the kept probability mass on average with them: the bias of training on the full
 * distribution what was drawn from a truncated one (trl#6789), reported rather than hidden.
 */
public final class GrpoTrainer extends PostTrainer<GrpoConfig> {
    /** A prompt: its ids and the task it came from (null when none; the gold reward needs it). */
    public record Prompt(int[] ids, Task task) {
        public Prompt {
            if (ids == null || ids.length == 0) throw new IllegalArgumentException("a prompt must have at least one token");
        }
    }

    private static final String NAME = "grpo";

    private final CausalLm policy, reference;
    /** Whether the micro-batches run each prompt once for its group ({@link RolloutRows}). */
    private final boolean share;
    private final CombinedReward rewards;
    private final List<Prompt> prompts;
    private final Tokenizer tokenizer;
    private final EpochSampler sampler;
    private Function<CausalLm, Map<String, Double>> evalHook;
    /** k3(ℓ_old, ℓ_new) of the last step's first and last micro-batch (the on-policy test reads them). */
    private double firstK3, lastK3;

    private GrpoTrainer(CausalLm policy, CausalLm reference, CombinedReward rewards, List<Prompt> prompts, Tokenizer tokenizer,
                        GrpoConfig config, Path dir, boolean resumed, boolean owns) throws IOException {
        super(NAME, dir, config, resumed, owns);
        if (policy == null || rewards == null || tokenizer == null)
            throw new IllegalArgumentException("policy, rewards and tokenizer must not be null");
        // LoRA: the reference is the policy with its adapters off (TRL's disable_adapter), no second model
        if (reference == null && config.loss().beta() > 0 && policy.lora() != null) reference = policy.adaptersOff();
        if (config.loss().beta() > 0 && reference == null)
            throw new IllegalArgumentException("beta = " + config.loss().beta() + " needs a reference model (or beta 0)");
        if (reference != null && reference == policy)
            throw new IllegalArgumentException("reference must be a separate (frozen) model, not the policy");
        if (reference != null && !policy.config().equals(reference.config()))
            throw new IllegalArgumentException("policy and reference configs differ: " + policy.config() + " vs " + reference.config());
        if (tokenizer.vocabSize() > policy.config().vocabSize())
            throw new IllegalArgumentException("the tokenizer's vocabulary (" + tokenizer.vocabSize() + ") is larger than the policy's ("
                    + policy.config().vocabSize() + ")");
        if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("prompts must not be empty");
        int ctx = policy.config().nCtx(), maxNew = config.generation().maxCompletionLength();
        for (int i = 0; i < prompts.size(); i++) {
            Prompt p = prompts.get(i);
            if (p == null) throw new IllegalArgumentException("prompts[" + i + "] is null");
            if (p.ids().length + maxNew > ctx)
                throw new IllegalArgumentException("prompts[" + i + "] has " + p.ids().length + " tokens: with maxCompletionLength = "
                        + maxNew + " it exceeds the context " + ctx);
            for (int id : p.ids())
                if (id < 0 || id >= policy.config().vocabSize())
                    throw new IllegalArgumentException("prompts[" + i + "] holds id " + id + " outside the vocabulary");
        }
        this.policy = policy;
        this.reference = reference;
        this.share = RolloutRows.canShare(policy, reference);
        this.rewards = rewards;
        this.prompts = List.copyOf(prompts);
        this.tokenizer = tokenizer;
        this.sampler = new EpochSampler(prompts.size(), config.seed(), true);
        this.data = sampler;
        this.optimizer = new Optimizer(List.of(Optimizer.group(policy)));
    }

    /**
     * A new run: {@code policy} is trained (start it from the SFT model); {@code reference} is the frozen model of the
     * KL term, needed with β &gt; 0; with β = 0 it may be given to log {@code objective/kl} (one more forward per
     * micro-batch), or be null. The caller keeps and closes both.
     */
    public static GrpoTrainer create(CausalLm policy, CausalLm reference, CombinedReward rewards, List<Prompt> prompts,
                                     Tokenizer tokenizer, GrpoConfig config, Path dir) throws IOException {
        if (config == null) throw new IllegalArgumentException("config must not be null");
        return new GrpoTrainer(policy, reference, rewards, prompts, tokenizer, config, dir, false, false);
    }

    /** The config saved with the latest checkpoint of the run in {@code dir} (what {@link #resume} continues with). */
    public static GrpoConfig savedConfig(Path dir) throws IOException {
        return Checkpoint.savedConfig(dir, NAME, GrpoConfig.class);
    }

    /**
     * Continues the run in {@code dir}: the policy, optimizer and data position come from the latest checkpoint;
     * {@code reference}, {@code rewards}, {@code prompts} and {@code tokenizer} must be the original run's.
     */
    public static GrpoTrainer resume(Path dir, CausalLm reference, CombinedReward rewards, List<Prompt> prompts, Tokenizer tokenizer,
                                     Device device) throws IOException {
        return resume(dir, NAME, (c, owned) -> {
            GrpoConfig config = c.config(GrpoConfig.class);
            CausalLm policy = owned.add(c.loadModel("", device));
            return new GrpoTrainer(policy, reference, rewards, prompts, tokenizer, config, dir, true, true);
        });
    }

    /** Called with the policy at each eval; its values are logged under {@code eval/<key>}. */
    public GrpoTrainer withEvalHook(Function<CausalLm, Map<String, Double>> hook) {
        this.evalHook = hook;
        return this;
    }

    /** The completions of one step, grouped (G consecutive rows per prompt), with their rewards. */
    record Rollout(List<Prompt> prompts, List<int[]> completions, boolean[] truncated, float[] rewards,
                   Map<String, float[]> columns, float[][] samplerLogp, int generationBatches) {
        int rows() {
            return completions.size();
        }
    }

    /**
     * Samples and scores G completions of {@code prompts} prompts; with dynamic sampling keeps only groups whose
     * rewards vary, drawing further generation batches while fewer than {@code prompts} groups are kept (each refill
     * sized by the share of groups kept so far).
     */
    Rollout rollout(long s) {
        GrpoConfig.Generation gc = config.generation();
        int g = gc.numGenerations(), want = gc.prompts();
        boolean dynamic = config.sampling().dynamicSampling();
        List<Prompt> keptPrompts = new ArrayList<>();
        List<int[]> keptCompletions = new ArrayList<>();
        List<Boolean> keptTruncated = new ArrayList<>();
        List<float[]> keptLogp = new ArrayList<>();
        List<Float> keptRewards = new ArrayList<>();
        Map<String, List<Float>> keptColumns = new LinkedHashMap<>();
        int round = 0, draw = want, drawnGroups = 0;
        while (keptPrompts.size() / g < want && round < (dynamic ? config.sampling().maxGenerationBatches() : 1)) {
            int[] drawn = sampler.next(draw);
            int n = draw * g;
            int[][] ps = new int[n][];
            List<Prompt> rowPrompts = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                Prompt p = prompts.get(drawn[i / g]);
                ps[i] = p.ids();
                rowPrompts.add(p);
            }
            GenerationConfig gen = new GenerationConfig(gc.maxCompletionLength(), gc.temperature(), gc.topK(), gc.topP(),
                    tokenizer.eosId(), tokenizer.padId(), Seeds.mix(config.seed(), s, 0x6F + 0x100L * round));
            Sampled sampled = sample(ps, rowPrompts, gen, g);
            int[][] completions = sampled.completions();
            boolean[] truncated = sampled.truncated();
            float[] r = sampled.rewards().clone();
            overlongPunishment(r, completions);
            round++;
            drawnGroups += draw;
            for (int q = 0; q < draw; q++) {
                boolean varies = false;
                for (int i = q * g + 1; i < (q + 1) * g; i++) varies |= r[i] != r[q * g];
                if (dynamic && !varies) continue;
                if (keptPrompts.size() / g >= want) break;
                for (int i = q * g; i < (q + 1) * g; i++) {
                    keptPrompts.add(rowPrompts.get(i));
                    keptCompletions.add(completions[i]);
                    keptTruncated.add(truncated[i]);
                    keptRewards.add(r[i]);
                    keptLogp.add(sampled.samplerLogp()[i]);
                    for (int f = 0; f < sampled.names().size(); f++)
                        keptColumns.computeIfAbsent(sampled.names().get(f), k -> new ArrayList<>()).add(sampled.columns()[f][i]);
                }
            }
            draw = refillGroups(want, keptPrompts.size() / g, drawnGroups);
        }
        int n = keptCompletions.size();
        boolean[] tr = new boolean[n];
        float[] rw = new float[n];
        for (int i = 0; i < n; i++) {
            tr[i] = keptTruncated.get(i);
            rw[i] = keptRewards.get(i);
        }
        Map<String, float[]> cols = new LinkedHashMap<>();
        for (Map.Entry<String, List<Float>> e : keptColumns.entrySet()) {
            float[] c = new float[n];
            for (int i = 0; i < n; i++) c[i] = e.getValue().get(i);
            cols.put(e.getKey(), c);
        }
        return new Rollout(keptPrompts, keptCompletions, tr, rw, cols, keptLogp.toArray(new float[0][]), round);
    }

    /**
     * The prompts a dynamic-sampling refill draws when {@code kept} of {@code want} groups are kept from
     * {@code drawn} drawn so far in the step: those still wanted over the share kept, and a quarter more, at most
     * {@code want}; {@code want} when none was kept. A full batch to fill a few groups would cost as much as the first.
     */
    static int refillGroups(int want, int kept, int drawn) {
        return kept == 0 ? want : Math.min(want, (int) Math.ceil(1.25 * (want - kept) * drawn / kept));
    }

    /** One generation batch: per row, its completion, whether it was cut, its reward and each function's, the sampler's log-probs. */
    private record Sampled(int[][] completions, boolean[] truncated, float[] rewards, List<String> names, float[][] columns,
                           float[][] samplerLogp) {}

    /**
     * Generates and scores the rows of {@code ps} (G consecutive rows per prompt). In a data-parallel job rank k takes
     * the prompts k, k + N, ... (whole groups; each row with its own random stream of the whole batch, so the samples
     * are the single process's) and the ranks then exchange their rows: every rank ends with the whole batch.
     */
    private Sampled sample(int[][] ps, List<Prompt> rowPrompts, GenerationConfig gen, int g) {
        int n = ps.length;
        int[] rows = comm.ownedGroupRows(n, g);
        int[][] myPrompts = new int[rows.length][];
        for (int j = 0; j < rows.length; j++) myPrompts[j] = ps[rows[j]];
        int[][] completions = new int[n][];
        boolean[] truncated = new boolean[n];
        float[] total = new float[n];
        float[][] logp = new float[n][];
        List<String> names = rewards.names();
        float[][] columns = new float[names.size()][n];
        if (rows.length > 0) {
            Generation out = Generator.generate(policy, myPrompts, gen, tokenizer.stopIds(), comm.distributed() ? rows : null);
            List<RewardSample> samples = new ArrayList<>(rows.length);
            for (int j = 0; j < rows.length; j++) {
                int i = rows[j];
                completions[i] = out.response(j);
                // the text rewards see the completion decoded without its stop token
                samples.add(RewardSample.of(i, rowPrompts.get(i).ids(), completions[i], tokenizer, rowPrompts.get(i).task()));
                truncated[i] = !samples.get(j).endedWithEos();
                logp[i] = rowLogp(out.sampleLogProbs(), out, j);
            }
            CombinedReward.Result scored = rewards.score(samples);
            for (int j = 0; j < rows.length; j++) {
                total[rows[j]] = scored.total()[j];
                for (int f = 0; f < names.size(); f++) columns[f][rows[j]] = scored.columns()[f][j];
            }
        }
        if (comm.distributed()) exchange(rows, completions, truncated, total, columns, logp);
        return new Sampled(completions, truncated, total, names, columns, logp);
    }

    /** Sends this rank's rows to every rank and fills in the others' (every array indexed by the batch's row). */
    private void exchange(int[] rows, int[][] completions, boolean[] truncated, float[] total, float[][] columns, float[][] logp) {
        RowExchange.allGather(comm, rows, (i, o) -> {
            o.writeBoolean(truncated[i]);
            o.writeFloat(total[i]);
            for (float[] c : columns) o.writeFloat(c[i]);
            RowExchange.writeInts(o, completions[i]);
            RowExchange.writeFloats(o, logp[i]);
        }, (i, in) -> {
            truncated[i] = in.readBoolean();
            total[i] = in.readFloat();
            for (float[] c : columns) c[i] = in.readFloat();
            completions[i] = RowExchange.readInts(in);
            logp[i] = RowExchange.readFloats(in);
        });
    }

    /** The sampler's log-probs of row {@code i}'s completion tokens. */
    private static float[] rowLogp(float[] all, Generation gen, int i) {
        int from = i * gen.width() + gen.promptLengths()[i];
        return Arrays.copyOfRange(all, from, from + gen.responseLengths()[i]);
    }

    /**
     * DAPO's soft overlong punishment, added to the reward: 0 up to L_max − L_cache tokens, then falling linearly to
     * −penalty at L_max (L_cache = {@code overlongBuffer}, L_max = the completion limit). A completion cut at the limit
     * gets the whole penalty.
     */
    void overlongPunishment(float[] r, int[][] completions) {
        int buffer = config.loss().overlongBuffer();
        if (buffer == 0) return;
        int max = config.generation().maxCompletionLength(), free = max - buffer;
        for (int i = 0; i < r.length; i++) {
            int len = completions[i].length;
            if (len > free) r[i] -= config.loss().overlongPenalty() * (float) (len - free) / buffer;
        }
    }

    /** One micro-batch: its rows (in the shuffled order), its padded batch, and its device tensors. */
    private record Micro(int[] rows, RolloutRows rr, Tensor mask, Tensor adv, Tensor samplerLogp, Tensor logpOld,
                         Tensor logpRef) {
        SequenceBatch batch() {
            return rr.batch();
        }
    }

    @Override
    protected void trainStep(long s, Map<String, Object> metrics) {
        GrpoConfig.Generation gc = config.generation();
        GrpoConfig.Loss lc = config.loss();
        Rollout r = rollout(s);
        int n = r.rows(), g = gc.numGenerations();
        metrics.put("dynamic_sampling/generation_batches", r.generationBatches());
        metrics.put("dynamic_sampling/kept_groups", n / g);
        putRolloutMetrics(r, metrics);
        double lr = schedule.lr(s - 1);
        metrics.put("lr", lr);
        if (n == 0) { // every group of every generation batch had equal rewards: nothing to learn from
            metrics.put("reward_std", 0.0);
            metrics.put("frac_reward_zero_std", 1.0);
            metrics.put("loss", 0.0);
            return;
        }
        Device dev = policy.device();
        try (Scope step = new Scope()) {
            GroupAdvantage.Result ga = GroupAdvantage.compute(step, step.of(dev, r.rewards(), n), g, scale(lc.scaleRewards()),
                    GroupAdvantage.DEFAULT_EPS);
            metrics.put("reward_std", (double) ga.stats().rewardStd());
            metrics.put("frac_reward_zero_std", (double) ga.stats().fracRewardZeroStd());
            float[] adv = ga.advantages().toFloatArray(); // one scalar per row, shuffled below
            int[] perm = permutation(n, new Random(Seeds.mix(config.seed(), s, 0x7E)));
            int mini = Math.min(gc.miniBatch(), n), micro = Math.min(gc.microBatch(), mini);
            List<List<Micro>> minis = new ArrayList<>();
            for (int m0 = 0; m0 < n; m0 += mini) {
                int m1 = Math.min(m0 + mini, n);
                // a minibatch's rows in order of length before they are cut into micro-batches: each micro-batch is
                // padded to its own longest row, so rows of like length waste the least; the minibatch's gradient
                // is the same sum
                List<Micro> ms = new ArrayList<>();
                for (int[] sel : RolloutRows.chunks(Arrays.copyOfRange(perm, m0, m1), micro, share, i -> rowLength(r, i), i -> i / g,
                        i -> r.completions().get(i).length, i -> r.prompts().get(i).ids().length))
                    ms.add(micro(step, r, adv, sel));
                minis.add(ms);
            }
            boolean onPolicy = gc.numIterations() == 1 && minis.size() == 1;
            // ℓ_old (and the entropy metric) by the forward the update runs, before any update; ℓ_ref with β > 0
            double entSum = 0, tokSum = 0, gapSum = 0, klSeq = 0; // klSeq: Σ over rows of Σ_t (ℓ_old − ℓ_ref)
            List<List<Micro>> filled = new ArrayList<>();
            for (List<Micro> ms : minis) {
                List<Micro> f = new ArrayList<>();
                for (int k = 0; k < ms.size(); k++) {
                    Micro u = ms.get(k);
                    SequenceBatch sb = u.batch();
                    tokSum += sb.maskedTokens();
                    if (!comm.owns(k)) { // another rank's micro-batch: it runs its forwards
                        f.add(u);
                        continue;
                    }
                    Tensor old = null, ref = null;
                    if (!onPolicy) {
                        policy.setComputeEntropy(true);
                        try {
                            u.rr().forward(policy);
                            old = step.empty(dev, DType.F32, sb.b(), sb.t()).copyFrom(policy.logProbs());
                            entSum += SeqReduce.maskedTotal(policy.entropy(), u.mask());
                        } finally {
                            policy.setComputeEntropy(false);
                        }
                        gapSum += gap(u.samplerLogp(), old, u.mask());
                    }
                    if (reference != null) {
                        u.rr().forward(reference);
                        ref = step.empty(dev, DType.F32, sb.b(), sb.t()).copyFrom(reference.logProbs());
                        if (old != null) klSeq += gap(old, ref, u.mask());
                    }
                    f.add(new Micro(u.rows(), u.rr(), u.mask(), u.adv(), u.samplerLogp(), old, ref));
                }
                filled.add(f);
            }
            PolicyLoss.Config loss = lossConfig();
            double lossSum = 0, kl = 0, low = 0, high = 0, region = 0, norm = 0;
            long updates = 0, micros = 0;
            for (int it = 0; it < gc.numIterations(); it++) {
                for (List<Micro> ms : filled) {
                    optimizer.zeroGrad();
                    long miniTokens = 0;
                    for (Micro u : ms) miniTokens += u.batch().maskedTokens();
                    // grpo, bnpo and dr_grpo average over the accumulated micro-batches (TRL divides by its
                    // accumulation steps); dapo's micro-batch losses already sum to the minibatch's token mean
                    double accScale = lc.lossType() == GrpoConfig.LossType.DAPO ? 1.0 : 1.0 / ms.size();
                    // data parallel: whole micro-batches dealt out (each keeps its loss and normaliser); the rollout is
                    // the same on every rank
                    int lastMine = comm.lastOwned(ms.size());
                    for (int k = 0; k < ms.size(); k++) {
                        if (!comm.owns(k)) continue;
                        if (k == lastMine) beforeLastBackward(policy);
                        Micro u = ms.get(k);
                        SequenceBatch sb = u.batch();
                        policy.setComputeEntropy(onPolicy);
                        PolicyLoss.Stats ps;
                        try (Scope sc = new Scope()) {
                            u.rr().forward(policy);
                            Tensor lnew = policy.logProbs();
                            if (onPolicy) {
                                entSum += SeqReduce.maskedTotal(policy.entropy(), u.mask());
                                gapSum += gap(u.samplerLogp(), lnew, u.mask());
                                if (u.logpRef() != null) klSeq += gap(lnew, u.logpRef(), u.mask());
                            }
                            // on-policy: ℓ_old is ℓ_new itself (the same tensor), so every ratio is exactly 1
                            Tensor old = onPolicy ? lnew : u.logpOld();
                            PolicyLoss.Result pr = PolicyLoss.compute(sc, lnew, old, u.logpRef(), u.adv(), u.mask(), loss,
                                    Math.max(miniTokens, 1));
                            ps = pr.stats();
                            requireFinite(s, "the policy loss", ps.loss());
                            policy.backward(pr.dlogpNew());
                        } finally {
                            policy.setComputeEntropy(false);
                        }
                        if (micros == 0) firstK3 = ps.approxKlK3();
                        lastK3 = ps.approxKlK3();
                        lossSum += ps.loss() * accScale;
                        kl += ps.kl();
                        low += ps.clipRatioLowMean();
                        high += ps.clipRatioHighMean();
                        region += ps.clipRatioRegionMean();
                        micros++;
                    }
                    allReduceGradients(policy);
                    float gn = optimizer.clipNorm(config.optim().gradClip(), accScale);
                    requireFinite(s, "the gradient norm", gn);
                    norm += gn;
                    updates++;
                    optimizer.apply(config.optim().adamW(lr));
                }
            }
            // the micro-batches' sums over the ranks (each rank ran its own; tokSum counts every rank's already)
            double[] sums = comm.allReduceSum(lossSum, kl, low, high, region, micros, entSum, gapSum, klSeq);
            lossSum = sums[0];
            kl = sums[1];
            low = sums[2];
            high = sums[3];
            region = sums[4];
            micros = (long) sums[5];
            entSum = sums[6];
            gapSum = sums[7];
            klSeq = sums[8];
            // the losses are per micro-batch, already divided by the accumulation count: sum per update, mean over updates
            metrics.put("loss", lossSum / updates);
            if (lc.beta() > 0) metrics.put("kl", kl / micros);
            // with a reference (given for β > 0, or only to watch the drift): PPO's objective/kl, the mean over
            // completions of Σ_t (ℓ_old − ℓ_ref), an unbiased estimate of KL(π_old ‖ π_ref) per completion
            if (reference != null) metrics.put("objective/kl", klSeq / n);
            metrics.put("clip_ratio/low_mean", low / micros);
            metrics.put("clip_ratio/high_mean", high / micros);
            metrics.put("clip_ratio/region_mean", region / micros);
            metrics.put("entropy", tokSum == 0 ? 0 : entSum / tokSum);
            metrics.put("sampling/logp_difference/mean", tokSum == 0 ? 0 : gapSum / tokSum);
            metrics.put("grad_norm", norm / updates);
            metrics.put("tokens", tokSum);
        }
    }

    /** The policy loss of {@link GrpoConfig.Loss} (the kernel's names are TRL's too). */
    private PolicyLoss.Config lossConfig() {
        GrpoConfig.Loss lc = config.loss();
        float[] clip = lc.clip();
        return PolicyLoss.Config.DEFAULT.withEps(clip[0], clip[1]).withLossType(PolicyLoss.LossType.valueOf(lc.lossType().name()))
                .withLevel(PolicyLoss.Level.valueOf(lc.importanceSamplingLevel().name())).withBeta(lc.beta())
                .withMaxCompletionLength(config.generation().maxCompletionLength());
    }

    private static GroupAdvantage.Scale scale(GrpoConfig.Scale s) {
        return GroupAdvantage.Scale.valueOf(s.name());
    }

    private static int rowLength(Rollout r, int i) {
        return r.prompts().get(i).ids().length + r.completions().get(i).length;
    }

    /** Builds micro-batch {@code rows}: the padded rows, the mask, the advantages and the sampler's log-probs. */
    private Micro micro(Scope step, Rollout r, float[] adv, int[] rows) {
        Device dev = policy.device();
        List<int[]> ps = new ArrayList<>(rows.length), cs = new ArrayList<>(rows.length);
        float[] a = new float[rows.length];
        for (int q = 0; q < rows.length; q++) {
            ps.add(r.prompts().get(rows[q]).ids());
            cs.add(r.completions().get(rows[q]));
            a[q] = adv[rows[q]];
        }
        // DAPO's mask_truncated_completions: a completion cut at the limit is sampled and scored, but not trained on
        boolean dropCut = config.loss().maskTruncatedCompletions();
        boolean[] trained = new boolean[rows.length];
        for (int q = 0; q < rows.length; q++) trained[q] = !(dropCut && r.truncated()[rows[q]]);
        RolloutRows rr = RolloutRows.of(ps, cs, trained, tokenizer.padId(), share);
        SequenceBatch sb = rr.batch();
        // the sampler's log-prob of completion token j sits where the batch predicts it
        float[] slp = new float[sb.b() * sb.t()];
        for (int q = 0; q < rows.length; q++) {
            float[] lp = r.samplerLogp()[rows[q]];
            System.arraycopy(lp, 0, slp, q * sb.t() + rr.first(q), lp.length);
        }
        return new Micro(rows, rr, step.of(dev, sb.mask(), sb.b(), sb.t()), step.of(dev, a, sb.b()), step.of(dev, slp, sb.b(), sb.t()),
                null, null);
    }

    /** Σ over masked tokens of (a − b). */
    private static double gap(Tensor a, Tensor b, Tensor mask) {
        return SeqReduce.maskedTotal(a, mask) - SeqReduce.maskedTotal(b, mask);
    }

    private void putRolloutMetrics(Rollout r, Map<String, Object> metrics) {
        int n = r.rows();
        double sum = 0, clipped = 0, len = 0;
        int minLen = Integer.MAX_VALUE, maxLen = 0;
        for (int i = 0; i < n; i++) {
            sum += r.rewards()[i];
            int l = r.completions().get(i).length;
            len += l;
            minLen = Math.min(minLen, l);
            maxLen = Math.max(maxLen, l);
            if (r.truncated()[i]) clipped++;
        }
        metrics.put("reward", n == 0 ? 0 : sum / n);
        for (Map.Entry<String, float[]> e : r.columns().entrySet()) {
            double c = 0;
            for (float x : e.getValue()) c += x;
            metrics.put("rewards/" + e.getKey() + "/mean", n == 0 ? 0 : c / n);
        }
        metrics.put("completions/mean_length", n == 0 ? 0 : len / n);
        metrics.put("completions/min_length", n == 0 ? 0 : minLen);
        metrics.put("completions/max_length", maxLen);
        metrics.put("completions/clipped_ratio", n == 0 ? 0 : clipped / n);
    }

    private static int[] permutation(int n, Random rnd) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    @Override
    protected void evaluate(Map<String, Object> metrics) {
        if (evalHook == null) return;
        for (Map.Entry<String, Double> e : evalHook.apply(policy).entrySet()) metrics.put("eval/" + e.getKey(), e.getValue());
    }

    @Override
    protected void saveModels(Path ck) throws IOException {
        Checkpoint.saveModel(ck, policy, step);
    }

    /** The mean k3(ℓ_old, ℓ_new) of the last step's first micro-batch: exactly 0 when its ratio is exactly 1. */
    double firstMicroBatchApproxKl() {
        return firstK3;
    }

    /** The same for the last step's last micro-batch. */
    double lastMicroBatchApproxKl() {
        return lastK3;
    }

    public CausalLm policy() {
        return policy;
    }

    @Override
    protected void closeModels() {
        policy.close();
    }
}
