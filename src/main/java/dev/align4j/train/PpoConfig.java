package dev.align4j.train;

import dev.align4j.kernels.Gae;
import dev.align4j.kernels.KlShaping;
import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.ValueLoss;

/**
 * Settings of {@link PpoTrainer}. {@link #defaults()} (TRL's PPO defaults where it has one, sized for a tiny model):
 * <pre>
 *   steps 100                 PPO iterations (one rollout batch, then K epochs of updates, each)
 *   rolloutBatch 32           prompts per rollout, one response each
 *   miniBatch 16, ppoEpochs 4 K passes over the rollout in shuffled minibatches
 *   maxNewTokens 16, temperature 1.0, topK 0 (off)      the rollout policy
 *   policyLoss: clip ε 0.2 (ε_low = ε_high), no dual clip, token-mean
 *   valueLoss: value clip 0.2, token-mean;  vfCoef 0.1  (TRL's vf_coef)
 *   entCoef 0.0               entropy bonus coefficient c_e (L −= c_e·mean H)
 *   klLossCoef 0.0            optional KL loss c_kl·mean k3(ℓ_new − ℓ_ref) in the loss (GRPO-style); 0 = off
 *   kl: β 0.05, estimator k1, missing-EOS penalty 0 (eosId is set by the trainer from its config)
 *   klTarget 0 (fixed β); with klTarget > 0 β adapts (Ziegler et al.) with horizon 10000
 *   γ 1.0, λ 0.95, whitenAdvantages true
 *   optim: lr 3e-5 constant after 0 warmup, no weight decay, clip 1.0 (one global norm over policy and critic)
 *   evalEvery 10, checkpointEvery 0 (0: at the end), seed 42
 *   samplesPerPrompt 1        k &gt; 1: k responses per prompt with a leave-one-out score baseline ({@link #withSamplesPerPrompt})
 *   baseline CRITIC           the value model and GAE; GROUP: no critic, leave-one-out baseline ({@link #withGroupBaseline})
 * </pre>
 */
public record PpoConfig(long steps, int rolloutBatch, int miniBatch, int ppoEpochs, int maxNewTokens, double temperature,
                        int topK, PolicyLoss.Config policyLoss, ValueLoss.Config valueLoss, double vfCoef, double entCoef,
                        double klLossCoef, float klBeta, KlShaping.Estimator klEstimator, float missingEosPenalty,
                        double klTarget, double klHorizon, float gamma, float lambda, boolean whitenAdvantages,
                        OptimConfig optim, long evalEvery, long checkpointEvery, long seed, int samplesPerPrompt,
                        Baseline baseline) {
    public PpoConfig {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (rolloutBatch < 1) throw new IllegalArgumentException("rolloutBatch must be >= 1, got " + rolloutBatch);
        if (miniBatch < 1 || miniBatch > rolloutBatch)
            throw new IllegalArgumentException("miniBatch must be in [1, rolloutBatch = " + rolloutBatch + "], got " + miniBatch);
        if (ppoEpochs < 1) throw new IllegalArgumentException("ppoEpochs must be >= 1, got " + ppoEpochs);
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        if (!(temperature > 0) || Double.isInfinite(temperature))
            throw new IllegalArgumentException("temperature must be > 0 and finite for PPO rollouts, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        if (policyLoss == null || valueLoss == null) throw new IllegalArgumentException("policyLoss and valueLoss must not be null");
        if (!(vfCoef >= 0) || !(entCoef >= 0) || !(klLossCoef >= 0))
            throw new IllegalArgumentException("vfCoef, entCoef and klLossCoef must be >= 0");
        if (!(klBeta >= 0) || Float.isInfinite(klBeta)) throw new IllegalArgumentException("klBeta must be >= 0 and finite, got " + klBeta);
        if (klEstimator == null) throw new IllegalArgumentException("klEstimator must not be null");
        if (!(missingEosPenalty >= 0)) throw new IllegalArgumentException("missingEosPenalty must be >= 0, got " + missingEosPenalty);
        if (!(klTarget >= 0)) throw new IllegalArgumentException("klTarget must be >= 0 (0: fixed β), got " + klTarget);
        if (!(klHorizon > 0)) throw new IllegalArgumentException("klHorizon must be > 0, got " + klHorizon);
        if (!(gamma >= 0 && gamma <= 1) || !(lambda >= 0 && lambda <= 1))
            throw new IllegalArgumentException("gamma and lambda must be in [0, 1], got " + gamma + ", " + lambda);
        if (optim == null) throw new IllegalArgumentException("optim must not be null");
        if (evalEvery < 0 || checkpointEvery < 0) throw new IllegalArgumentException("evalEvery and checkpointEvery must be >= 0");
        if (samplesPerPrompt < 1 || rolloutBatch % samplesPerPrompt != 0)
            throw new IllegalArgumentException("samplesPerPrompt must be >= 1 and divide rolloutBatch = " + rolloutBatch + ", got "
                    + samplesPerPrompt);
        if (baseline == null) baseline = Baseline.CRITIC; // a config saved before the field existed
        if (baseline == Baseline.GROUP && samplesPerPrompt < 2)
            throw new IllegalArgumentException("baseline GROUP needs samplesPerPrompt >= 2 (the other responses to a prompt are "
                    + "the baseline), got " + samplesPerPrompt);
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
        return new PpoConfig(100, 32, 16, 4, 16, 1.0, 0, PolicyLoss.Config.DEFAULT, ValueLoss.Config.DEFAULT, 0.1, 0.0, 0.0,
                KlShaping.Config.DEFAULT_BETA, KlShaping.Estimator.K1, 0f, 0, 10000, Gae.DEFAULT_GAMMA, Gae.DEFAULT_LAMBDA, true,
                OptimConfig.constant(3e-5, 0), 10, 0, 42, 1, Baseline.CRITIC);
    }

    public PpoConfig withSteps(long s) {
        return new PpoConfig(s, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withBatches(int rollout, int mini, int epochs) {
        return new PpoConfig(steps, rollout, mini, epochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef, entCoef,
                klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withGeneration(int maxNew, double temp, int k) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNew, temp, k, policyLoss, valueLoss, vfCoef, entCoef,
                klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withKl(float beta, KlShaping.Estimator est, double target) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, beta, est, missingEosPenalty, target, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withKlHorizon(double horizon) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, horizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withLosses(PolicyLoss.Config pl, ValueLoss.Config vl, double vf, double ent, double klLoss) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, pl, vl, vf, ent, klLoss,
                klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim, evalEvery,
                checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withMissingEosPenalty(float p) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, p, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim, evalEvery,
                checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withGae(float g, float l, boolean whiten) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, g, l, whiten, optim, evalEvery,
                checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withOptim(OptimConfig o) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, o,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withSchedule(long evalEvery, long checkpointEvery) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, baseline);
    }

    public PpoConfig withSeed(long s) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, s, samplesPerPrompt, baseline);
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
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, k, baseline);
    }

    /**
     * {@code k} responses per prompt with the critic-free group baseline ({@link Baseline#GROUP}): RLOO's advantage,
     * PPO's clipped updates. {@code k >= 2}.
     */
    public PpoConfig withGroupBaseline(int k) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, k, Baseline.GROUP);
    }

    /** The same settings with {@code b} as the baseline (see {@link Baseline}). */
    public PpoConfig withBaseline(Baseline b) {
        return new PpoConfig(steps, rolloutBatch, miniBatch, ppoEpochs, maxNewTokens, temperature, topK, policyLoss, valueLoss, vfCoef,
                entCoef, klLossCoef, klBeta, klEstimator, missingEosPenalty, klTarget, klHorizon, gamma, lambda, whitenAdvantages, optim,
                evalEvery, checkpointEvery, seed, samplesPerPrompt, b);
    }
}
