package dev.align4j.rl;

import dev.align4j.config.Knob;
import dev.align4j.kernels.Gae;
import dev.align4j.kernels.KlShaping;
import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.ValueLoss;
import dev.align4j.train.OptimConfig;
import dev.align4j.train.Schedule;
import dev.align4j.train.TrainerConfig;

/**
 * Settings of {@link PpoTrainer}, in four groups besides the schedule and the optimiser. {@link #defaults()} (TRL's
 * PPO defaults where it has one, sized for a tiny model):
 * <pre>
 *   schedule   steps 100 (PPO iterations: one rollout batch, then K epochs of updates, each), evalEvery 10,
 *              checkpointEvery 0 (at the end), seed 42
 *   optim      lr 3e-5 constant after 0 warmup, no weight decay, clip 1.0 (one global norm over policy and critic)
 *   rollout    batch 32 responses, miniBatch 16, microBatch 64 (a minibatch is one forward up to 64 rows), epochs 4
 *              (K passes over the rollout in shuffled minibatches), samplesPerPrompt 1, maxNewTokens 16,
 *              temperature 1.0, topK 0 (off)
 *   objective  policy loss: clip ε 0.2 (ε_low = ε_high), no dual clip, token-mean; value loss: clip 0.2, token-mean;
 *              vfCoef 0.1 (TRL's vf_coef); entCoef 0 (L −= c_e·mean H); klLossCoef 0 (GRPO-style c_kl·mean k3 in the loss)
 *   kl         β 0.05, estimator k1, missing-EOS penalty 0; target 0 (fixed β; &gt; 0: adaptive, Ziegler et al.), horizon 10000
 *   advantage  baseline CRITIC, γ 1.0, λ 0.95, whiten true
 * </pre>
 */
public record PpoConfig(Schedule schedule, OptimConfig optim, Rollout rollout, Objective objective, KlControl kl,
                        Advantage advantage) implements TrainerConfig<PpoConfig> {
    public PpoConfig {
        if (schedule == null || optim == null || rollout == null || objective == null || kl == null || advantage == null)
            throw new IllegalArgumentException("schedule, optim, rollout, objective, kl and advantage must not be null");
        if (advantage.baseline() == Baseline.GROUP && rollout.samplesPerPrompt() < 2)
            throw new IllegalArgumentException("baseline GROUP needs samplesPerPrompt >= 2 (the other responses to a prompt are "
                    + "the baseline), got " + rollout.samplesPerPrompt());
    }

    /**
     * How responses are sampled and cut into minibatches.
     *
     * @param batch            responses per rollout
     * @param miniBatch        responses per update, in [1, batch]
     * @param microBatch       rows per forward/backward, &gt;= 1: a minibatch is sorted by length and cut into
     *                         micro-batches, each padded only to its own longest row, whose gradients add up to the
     *                         minibatch's (a minibatch smaller than it is one forward)
     * @param epochs           passes over the rollout
     * @param samplesPerPrompt k responses per prompt ({@code batch / k} prompts); k &gt; 1 takes each score relative to
     *                         the leave-one-out mean of the others (RLOO's baseline), see {@link #withSamplesPerPrompt}
     * @param maxNewTokens     response length limit
     * @param temperature      sampling temperature (&gt; 0)
     * @param topK             top-k sampling (0: off)
     */
    public record Rollout(@Knob(name = "rollout", aliases = "batch", doc = "responses per rollout") int batch,
                          @Knob(doc = "rollout rows per update") int miniBatch,
                          @Knob(doc = "rows per forward/backward (gradients accumulate over a minibatch; at most the minibatch)")
                          int microBatch,
                          @Knob(doc = "PPO epochs over each rollout", label = "K") int epochs,
                          @Knob(doc = "K responses per prompt, each scored against the leave-one-out mean of the others (RLOO)",
                                  label = "K") int samplesPerPrompt,
                          @Knob(name = "max-new", doc = "response length limit") int maxNewTokens,
                          @Knob(doc = "rollout sampling temperature", label = "T") double temperature,
                          @Knob(doc = "rollout top-k (0: off)", label = "K") int topK) {
        public Rollout {
            if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
            if (miniBatch < 1 || miniBatch > batch)
                throw new IllegalArgumentException("miniBatch must be in [1, batch = " + batch + "], got " + miniBatch);
            if (microBatch < 1) throw new IllegalArgumentException("microBatch must be >= 1, got " + microBatch);
            if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
            if (samplesPerPrompt < 1 || batch % samplesPerPrompt != 0)
                throw new IllegalArgumentException("samplesPerPrompt must be >= 1 and divide batch = " + batch + ", got "
                        + samplesPerPrompt);
            if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
            if (!(temperature > 0) || Double.isInfinite(temperature))
                throw new IllegalArgumentException("temperature must be > 0 and finite for PPO rollouts, got " + temperature);
            if (topK < 0) throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        }
    }

    /**
     * The loss of an update: the clipped policy loss, plus {@code vfCoef} × the value loss (with a critic), minus
     * {@code entCoef} × the mean entropy, plus {@code klLossCoef} × the mean k3 KL to the reference.
     */
    public record Objective(PolicyLoss.Config policyLoss, ValueLoss.Config valueLoss,
                            @Knob(doc = "value loss coefficient", label = "C") double vfCoef,
                            @Knob(doc = "entropy bonus coefficient", label = "C") double entCoef,
                            @Knob(doc = "coefficient of a k3 KL-to-reference term in the loss (GRPO-style; 0: off)", label = "C")
                            double klLossCoef) {
        public Objective {
            if (policyLoss == null || valueLoss == null) throw new IllegalArgumentException("policyLoss and valueLoss must not be null");
            if (policyLoss.effectiveLossType().aggregation() == null)
                throw new IllegalArgumentException("PPO's policy loss aggregates as token-mean or sequence-mean, got lossType "
                        + policyLoss.lossType() + " (GRPO's)");
            if (policyLoss.beta() > 0)
                throw new IllegalArgumentException("PPO's policy loss takes no reference KL (beta = " + policyLoss.beta()
                        + "); use klLossCoef");
            if (!(vfCoef >= 0) || !(entCoef >= 0) || !(klLossCoef >= 0))
                throw new IllegalArgumentException("vfCoef, entCoef and klLossCoef must be >= 0");
        }
    }

    /**
     * The KL penalty in the reward: −β·k(ℓ_old − ℓ_ref) per token; β adapts toward {@code target} when it is &gt; 0.
     *
     * @param beta              β (the trainer's starting value with a target)
     * @param estimator         k1, k2 or k3
     * @param missingEosPenalty subtracted from the score of a response that does not end in EOS
     * @param target            KL target of the adaptive controller (0: fixed β)
     * @param horizon           the adaptive controller's horizon
     */
    public record KlControl(@Knob(doc = "KL penalty coefficient (the initial value with --kl-target)", label = "B") float beta,
                            @Knob(name = "kl-estimator", doc = "per-token KL estimator of the penalty") KlShaping.Estimator estimator,
                            @Knob(doc = "subtracted from the score of a response that does not end in EOS", label = "P")
                            float missingEosPenalty,
                            @Knob(name = "kl-target", doc = "adaptive KL target (0: fixed beta)", label = "KL") double target,
                            @Knob(name = "kl-horizon", doc = "horizon of the adaptive KL controller") double horizon) {
        public KlControl {
            if (!(beta >= 0) || Float.isInfinite(beta)) throw new IllegalArgumentException("beta must be >= 0 and finite, got " + beta);
            if (estimator == null) throw new IllegalArgumentException("estimator must not be null");
            if (!(missingEosPenalty >= 0)) throw new IllegalArgumentException("missingEosPenalty must be >= 0, got " + missingEosPenalty);
            if (!(target >= 0)) throw new IllegalArgumentException("target must be >= 0 (0: fixed β), got " + target);
            if (!(horizon > 0)) throw new IllegalArgumentException("horizon must be > 0, got " + horizon);
        }
    }

    /** How the advantages are estimated: against what baseline, GAE's γ and λ, and whether they are whitened. */
    public record Advantage(@Knob(doc = "critic: a value model and GAE; group: no critic, each score against the mean of the "
                                    + "other responses to its prompt (RLOO; needs --samples-per-prompt >= 2)") Baseline baseline,
                            @Knob(doc = "GAE discount", label = "G") float gamma,
                            @Knob(doc = "GAE lambda", label = "L") float lambda,
                            @Knob(doc = "whiten the advantages over the batch") boolean whiten) {
        public Advantage {
            if (baseline == null) throw new IllegalArgumentException("baseline must not be null");
            if (!(gamma >= 0 && gamma <= 1) || !(lambda >= 0 && lambda <= 1))
                throw new IllegalArgumentException("gamma and lambda must be in [0, 1], got " + gamma + ", " + lambda);
        }
    }

    /**
     * What the advantages are measured against.
     * <ul>
     *   <li>{@code CRITIC}: a learned value model (GPT + value head) and GAE, as in the lecture and TRL's PPOTrainer.
     *       With {@code samplesPerPrompt > 1} the score is also taken relative to the leave-one-out mean first.</li>
     *   <li>{@code GROUP}: no value model at all (RLOO; GRPO without its std division). Each score is taken relative to
     *       the mean of the other {@code k − 1} responses to its prompt, KL-shaped per token, and the advantage at a
     *       token is the return-to-go Σ_l (γλ)^l r_{t+l} (the GAE kernel with V = 0), whitened over the batch. Saves the
     *       critic's forward, backward and memory; the trainer runs without a critic and writes none to checkpoints.</li>
     * </ul>
     */
    public enum Baseline {
        CRITIC, GROUP
    }

    public static PpoConfig defaults() {
        return new PpoConfig(new Schedule(100, 10, 0, 42), OptimConfig.constant(3e-5, 0), new Rollout(32, 16, 64, 4, 1, 16, 1.0, 0),
                new Objective(PolicyLoss.Config.DEFAULT, ValueLoss.Config.DEFAULT, 0.1, 0.0, 0.0),
                new KlControl(KlShaping.Config.DEFAULT_BETA, KlShaping.Estimator.K1, 0f, 0, 10000),
                new Advantage(Baseline.CRITIC, Gae.DEFAULT_GAMMA, Gae.DEFAULT_LAMBDA, true));
    }

    @Override
    public PpoConfig withSchedule(Schedule s) {
        return new PpoConfig(s, optim, rollout, objective, kl, advantage);
    }

    @Override
    public PpoConfig withOptim(OptimConfig o) {
        return new PpoConfig(schedule, o, rollout, objective, kl, advantage);
    }

    public PpoConfig withRollout(Rollout r) {
        return new PpoConfig(schedule, optim, r, objective, kl, advantage);
    }

    public PpoConfig withObjective(Objective o) {
        return new PpoConfig(schedule, optim, rollout, o, kl, advantage);
    }

    public PpoConfig withKl(KlControl k) {
        return new PpoConfig(schedule, optim, rollout, objective, k, advantage);
    }

    public PpoConfig withAdvantage(Advantage a) {
        return new PpoConfig(schedule, optim, rollout, objective, kl, a);
    }

    // the shortcuts below change a few fields of one group

    public PpoConfig withBatches(int rolloutBatch, int miniBatch, int epochs) {
        Rollout r = rollout;
        return withRollout(new Rollout(rolloutBatch, miniBatch, r.microBatch(), epochs, r.samplesPerPrompt(), r.maxNewTokens(), r.temperature(), r.topK()));
    }

    /** Forwards/backwards of {@code microBatch} rows (gradients accumulate over each minibatch). */
    public PpoConfig withMicroBatch(int microBatch) {
        Rollout r = rollout;
        return withRollout(new Rollout(r.batch(), r.miniBatch(), microBatch, r.epochs(), r.samplesPerPrompt(), r.maxNewTokens(),
                r.temperature(), r.topK()));
    }

    public PpoConfig withGeneration(int maxNew, double temperature, int topK) {
        Rollout r = rollout;
        return withRollout(new Rollout(r.batch(), r.miniBatch(), r.microBatch(), r.epochs(), r.samplesPerPrompt(), maxNew, temperature, topK));
    }

    /**
     * {@code k} responses per prompt in each rollout ({@code rolloutBatch / k} prompts, each repeated {@code k}
     * times), and each response's score taken relative to the mean score of the other {@code k − 1} responses to its
     * prompt (RLOO's leave-one-out baseline) before KL shaping. The baseline does not depend on the response it is
     * subtracted from, so the policy gradient stays unbiased, and it removes the prompt's difficulty from the
     * reward — the largest part of its variance when prompts differ as much as the built-in task families do.
     * {@code k = 1}: plain PPO (default).
     */
    public PpoConfig withSamplesPerPrompt(int k) {
        Rollout r = rollout;
        return withRollout(new Rollout(r.batch(), r.miniBatch(), r.microBatch(), r.epochs(), k, r.maxNewTokens(), r.temperature(), r.topK()));
    }

    public PpoConfig withLosses(PolicyLoss.Config pl, ValueLoss.Config vl, double vf, double ent, double klLoss) {
        return withObjective(new Objective(pl, vl, vf, ent, klLoss));
    }

    public PpoConfig withKl(float beta, KlShaping.Estimator estimator, double target) {
        return withKl(new KlControl(beta, estimator, kl.missingEosPenalty(), target, kl.horizon()));
    }

    public PpoConfig withKlHorizon(double horizon) {
        return withKl(new KlControl(kl.beta(), kl.estimator(), kl.missingEosPenalty(), kl.target(), horizon));
    }

    public PpoConfig withMissingEosPenalty(float p) {
        return withKl(new KlControl(kl.beta(), kl.estimator(), p, kl.target(), kl.horizon()));
    }

    public PpoConfig withGae(float gamma, float lambda, boolean whiten) {
        return withAdvantage(new Advantage(advantage.baseline(), gamma, lambda, whiten));
    }

    /** The same settings with {@code b} as the baseline (see {@link Baseline}). */
    public PpoConfig withBaseline(Baseline b) {
        return withAdvantage(new Advantage(b, advantage.gamma(), advantage.lambda(), advantage.whiten()));
    }

    /**
     * {@code k} responses per prompt with the critic-free group baseline ({@link Baseline#GROUP}): RLOO's advantage,
     * PPO's clipped updates. {@code k >= 2}.
     */
    public PpoConfig withGroupBaseline(int k) {
        return withSamplesPerPrompt(k).withBaseline(Baseline.GROUP);
    }
}
