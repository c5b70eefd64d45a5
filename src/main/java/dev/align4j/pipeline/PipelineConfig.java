package dev.align4j.pipeline;

import dev.align4j.data.tasks.SampledPairs;
import dev.align4j.kernels.KlShaping;
import dev.align4j.model.GptConfig;
import dev.align4j.train.DpoConfig;
import dev.align4j.train.OptimConfig;
import dev.align4j.train.PpoConfig;
import dev.align4j.train.RewardConfig;
import dev.align4j.train.SftConfig;

/**
 * Everything {@link PostTrainingPipeline} runs: the model, the built-in task data, and each stage's config.
 *
 * @param model          the GPT (byte-level vocabulary; nCtx bounds prompt + response)
 * @param suiteLevel     difficulty of the built-in task suite (1 easy, 2 default, 3 hard)
 * @param families       the task families used (empty: every built-in family)
 * @param sftTasks       SFT examples (train split)
 * @param pairTasks      prompts sampled for preference pairs (train split, other seed than SFT)
 * @param ppoPrompts     prompts PPO rolls out on (train split)
 * @param testTasks      held-out tasks (test split) for gold accuracy, calibration and win rates
 * @param heldOutPairs   held-out preference pairs (test split) for reward-model accuracy
 * @param pairs          how pairs are sampled from the SFT policy and ranked by the gold checker
 * @param maxNewTokens   generation limit in evaluation
 * @param diversitySamples samples per prompt for entropy / distinct-n
 * @param overOptBeta    β of a second PPO run with a weak KL penalty (the over-optimisation curve); < 0 skips it
 */
public record PipelineConfig(GptConfig model, int suiteLevel, java.util.List<String> families, int sftTasks, int pairTasks, int ppoPrompts, int testTasks,
                             int heldOutPairs, SftConfig sft, SampledPairs.Options pairs, RewardConfig rm, PpoConfig ppo,
                             double overOptBeta, DpoConfig dpo, DpoConfig simpo, int maxNewTokens, int diversitySamples,
                             long seed) {
    public PipelineConfig {
        if (model == null || sft == null || pairs == null || rm == null || ppo == null || dpo == null || simpo == null)
            throw new IllegalArgumentException("model and every stage config must be given");
        families = families == null ? java.util.List.of() : java.util.List.copyOf(families);
        if (suiteLevel < 1 || suiteLevel > 3) throw new IllegalArgumentException("suiteLevel must be 1, 2 or 3, got " + suiteLevel);
        if (sftTasks < 1 || pairTasks < 1 || ppoPrompts < 1 || testTasks < 1 || heldOutPairs < 1)
            throw new IllegalArgumentException("task counts must be >= 1");
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        if (diversitySamples < 2) throw new IllegalArgumentException("diversitySamples must be >= 2, got " + diversitySamples);
    }

    /**
     * The configuration measured for the CPU (see the README): a 4-layer, 128-wide byte-level GPT; nine level-1
     * task families (capital and next are left out: they test recall across phrasings, not skills); SFT stopped
     * while still learning (480 steps) so that preference training has room; pairs from 4 samples per prompt with
     * both fallbacks; PPO with 256 rollouts per step; DPO and SimPO with an RPO-style NLL term on chosen (without
     * it, on these tiny models, both raised the margin by pushing every response down and lowered gold accuracy).
     */
    public static PipelineConfig small(long seed) {
        GptConfig m = new GptConfig(4, 4, 128, 64, 259);
        SftConfig sft = SftConfig.defaults().withSteps(480).withBatch(32, 1).withSchedule(0, 0)
                .withOptim(OptimConfig.cosine(2e-3, 2e-4, 20)).withSeed(seed);
        SampledPairs.Options pairs = SampledPairs.Options.defaults().withSamples(4).withFallbacks(true, true);
        RewardConfig rm = RewardConfig.defaults().withSteps(300).withSchedule(0, 0).withSeed(seed);
        PpoConfig ppo = PpoConfig.defaults().withSteps(25).withBatches(256, 64, 4).withGeneration(12, 1.0, 0)
                .withKl(0.05f, KlShaping.Estimator.K1, 0).withOptim(OptimConfig.constant(5e-5, 0)).withSchedule(5, 0)
                .withGae(1.0f, 1.0f, true).withSeed(seed);
        OptimConfig pref = OptimConfig.cosine(1e-4, 1e-5, 10).withWeightDecay(0);
        DpoConfig dpo = DpoConfig.defaults().withSteps(200).withOptim(pref).withNllCoef(1.0).withSchedule(0, 0).withSeed(seed);
        DpoConfig simpo = DpoConfig.simpo().withSteps(200).withOptim(pref).withNllCoef(1.0).withSchedule(0, 0).withSeed(seed);
        return new PipelineConfig(m, 1, java.util.List.of("last", "length", "max", "repeat", "reverse", "sort", "upper", "add", "sub"),
                3000, 512, 512, 300, 200, sft, pairs, rm, ppo, 0.0, dpo, simpo, 12, 8, seed);
    }

    public PipelineConfig withModel(GptConfig m) {
        return new PipelineConfig(m, suiteLevel, families, sftTasks, pairTasks, ppoPrompts, testTasks, heldOutPairs, sft, pairs, rm, ppo,
                overOptBeta, dpo, simpo, maxNewTokens, diversitySamples, seed);
    }

    public PipelineConfig withStages(SftConfig s, RewardConfig r, PpoConfig p, DpoConfig d, DpoConfig si) {
        return new PipelineConfig(model, suiteLevel, families, sftTasks, pairTasks, ppoPrompts, testTasks, heldOutPairs, s, pairs, r, p,
                overOptBeta, d, si, maxNewTokens, diversitySamples, seed);
    }

    public PipelineConfig withData(int level, int sftN, int pairN, int ppoN, int testN, int heldOutN) {
        return new PipelineConfig(model, level, families, sftN, pairN, ppoN, testN, heldOutN, sft, pairs, rm, ppo, overOptBeta, dpo, simpo,
                maxNewTokens, diversitySamples, seed);
    }

    public PipelineConfig withFamilies(String... names) {
        return new PipelineConfig(model, suiteLevel, java.util.List.of(names), sftTasks, pairTasks, ppoPrompts, testTasks,
                heldOutPairs, sft, pairs, rm, ppo, overOptBeta, dpo, simpo, maxNewTokens, diversitySamples, seed);
    }

    public PipelineConfig withOverOptBeta(double b) {
        return new PipelineConfig(model, suiteLevel, families, sftTasks, pairTasks, ppoPrompts, testTasks, heldOutPairs, sft, pairs, rm, ppo,
                b, dpo, simpo, maxNewTokens, diversitySamples, seed);
    }

    public PipelineConfig withPairs(SampledPairs.Options p) {
        return new PipelineConfig(model, suiteLevel, families, sftTasks, pairTasks, ppoPrompts, testTasks, heldOutPairs, sft, p, rm, ppo,
                overOptBeta, dpo, simpo, maxNewTokens, diversitySamples, seed);
    }
}
