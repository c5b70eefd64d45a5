package dev.align4j.rl;

import dev.align4j.config.Knob;
import dev.align4j.train.OptimConfig;
import dev.align4j.train.Schedule;
import dev.align4j.train.TrainerConfig;

/**
 * Settings of {@link GrpoTrainer}, under TRL's {@code GRPOConfig} names where it has one. {@link #defaults()}
 * (TRL's defaults where they fit a tiny model):
 * <pre>
 *   schedule    steps 100 (one generation batch each), evalEvery 10, checkpointEvery 0 (at the end), seed 42
 *   optim       lr 1e-5 constant after 0 warmup, no weight decay, clip 1.0
 *   generation  prompts 8 per step × numGenerations 8 (G) = 64 completions; miniBatch 64 completions per optimizer
 *               step (one update per generation, as TRL by default), microBatch 64 rows per forward/backward;
 *               numIterations 1; maxCompletionLength 16, temperature 1.0, topK 0 (off), topP 1.0 (off)
 *   loss        lossType dapo, importanceSamplingLevel token, epsilon 0.2, epsilonHigh 0.2 (DAPO's clip-higher:
 *               e.g. 0.28), GSPO's own sequenceEpsilon 3e-4 / sequenceEpsilonHigh 4e-4, beta 0 (no reference
 *               model), scaleRewards group, maskTruncatedCompletions false, overlongBuffer 0 (no soft overlong
 *               punishment), overlongPenalty 1.0
 *   sampling    dynamicSampling false, maxGenerationBatches 4
 * </pre>
 */
public record GrpoConfig(Schedule schedule, OptimConfig optim, Generation generation, Loss loss, Sampling sampling)
        implements TrainerConfig<GrpoConfig> {
    public GrpoConfig {
        if (schedule == null || optim == null || generation == null || loss == null || sampling == null)
            throw new IllegalArgumentException("schedule, optim, generation, loss and sampling must not be null");
        if (loss.overlongBuffer() >= generation.maxCompletionLength())
            throw new IllegalArgumentException("overlongBuffer (" + loss.overlongBuffer() + ") must be below maxCompletionLength ("
                    + generation.maxCompletionLength() + ")");
    }

    /**
     * How completions are sampled and cut into updates. A step samples {@code prompts × numGenerations} completions
     * (more with dynamic sampling), then makes {@code numIterations} passes over them; each pass is split into
     * optimizer steps of {@code miniBatch} completions, each accumulated over forwards of {@code microBatch} rows.
     */
    public record Generation(@Knob(doc = "prompts per step (each sampled --num-generations times)") int prompts,
                             @Knob(doc = "completions per prompt (G), the group of the relative advantage", label = "G")
                             int numGenerations,
                             @Knob(doc = "completions per optimizer step") int miniBatch,
                             @Knob(doc = "rows per forward/backward (gradients accumulate over a minibatch; at most the minibatch)") int microBatch,
                             @Knob(doc = "passes over each generation batch (PPO-style reuse; 1: on-policy)", label = "K")
                             int numIterations,
                             @Knob(name = "max-completion-length", aliases = "max-new", doc = "completion length limit")
                             int maxCompletionLength,
                             @Knob(doc = "sampling temperature", label = "T") double temperature,
                             @Knob(doc = "top-k sampling (0: off)", label = "K") int topK,
                             @Knob(doc = "top-p sampling (1: off)", label = "P") double topP) {
        public Generation {
            if (prompts < 1) throw new IllegalArgumentException("prompts must be >= 1, got " + prompts);
            if (numGenerations < 2)
                throw new IllegalArgumentException("numGenerations must be >= 2 (the group is the baseline), got " + numGenerations);
            if (miniBatch < 1) throw new IllegalArgumentException("miniBatch must be >= 1, got " + miniBatch);
            // a minibatch smaller than microBatch is one forward, so --mini-batch alone never conflicts with the default
            if (microBatch < 1) throw new IllegalArgumentException("microBatch must be >= 1, got " + microBatch);
            if (numIterations < 1) throw new IllegalArgumentException("numIterations must be >= 1, got " + numIterations);
            if (maxCompletionLength < 1)
                throw new IllegalArgumentException("maxCompletionLength must be >= 1, got " + maxCompletionLength);
            if (!(temperature > 0) || Double.isInfinite(temperature))
                throw new IllegalArgumentException("temperature must be > 0 and finite, got " + temperature);
            if (topK < 0) throw new IllegalArgumentException("topK must be >= 0, got " + topK);
            if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
    }

    /** The policy loss. */
    public record Loss(@Knob(doc = "aggregation: grpo (mean of sequence means), bnpo (token mean of a micro-batch), "
                               + "dr-grpo (token sum / (rows × max-completion-length)), dapo (token sum / the minibatch's tokens)")
                       LossType lossType,
                       @Knob(doc = "the importance ratio per token, or per sequence (GSPO: the length-normalised "
                               + "sequence ratio, clipped with --sequence-epsilon)") Level importanceSamplingLevel,
                       @Knob(doc = "lower clip of the token ratio", label = "EPS") float epsilon,
                       @Knob(doc = "upper clip of the token ratio (DAPO's clip-higher: above --epsilon)", label = "EPS")
                       float epsilonHigh,
                       @Knob(doc = "lower clip of GSPO's sequence ratio", label = "EPS") float sequenceEpsilon,
                       @Knob(doc = "upper clip of GSPO's sequence ratio", label = "EPS") float sequenceEpsilonHigh,
                       @Knob(doc = "coefficient of the k3 KL to the reference model in the loss (0: no reference model)",
                               label = "B") float beta,
                       @Knob(doc = "divide the group-centred rewards by the std of the group, of the batch, or none "
                               + "(Dr. GRPO)") Scale scaleRewards,
                       @Knob(doc = "leave completions cut at the length limit out of the loss (DAPO)")
                       boolean maskTruncatedCompletions,
                       @Knob(doc = "soft overlong punishment: the last N tokens before the limit are penalised "
                               + "linearly (DAPO; 0: off)", label = "N") int overlongBuffer,
                       @Knob(doc = "the soft overlong punishment at the limit", label = "P") float overlongPenalty) {
        public Loss {
            if (lossType == null || importanceSamplingLevel == null || scaleRewards == null)
                throw new IllegalArgumentException("lossType, importanceSamplingLevel and scaleRewards must not be null");
            if (!(epsilon >= 0 && epsilon <= 1)) throw new IllegalArgumentException("epsilon must be in [0, 1], got " + epsilon);
            if (!(epsilonHigh >= 0) || Float.isInfinite(epsilonHigh))
                throw new IllegalArgumentException("epsilonHigh must be >= 0 and finite, got " + epsilonHigh);
            if (!(sequenceEpsilon >= 0 && sequenceEpsilon <= 1))
                throw new IllegalArgumentException("sequenceEpsilon must be in [0, 1], got " + sequenceEpsilon);
            if (!(sequenceEpsilonHigh >= 0) || Float.isInfinite(sequenceEpsilonHigh))
                throw new IllegalArgumentException("sequenceEpsilonHigh must be >= 0 and finite, got " + sequenceEpsilonHigh);
            if (!(beta >= 0) || Float.isInfinite(beta)) throw new IllegalArgumentException("beta must be >= 0 and finite, got " + beta);
            if (overlongBuffer < 0) throw new IllegalArgumentException("overlongBuffer must be >= 0, got " + overlongBuffer);
            if (!(overlongPenalty >= 0) || Float.isInfinite(overlongPenalty))
                throw new IllegalArgumentException("overlongPenalty must be >= 0 and finite, got " + overlongPenalty);
        }

        /** The clip range of the ratio at {@link #importanceSamplingLevel}: {epsLow, epsHigh}. */
        public float[] clip() {
            return importanceSamplingLevel == Level.SEQUENCE ? new float[] {sequenceEpsilon, sequenceEpsilonHigh}
                    : new float[] {epsilon, epsilonHigh};
        }
    }

    /** DAPO's dynamic sampling: groups whose rewards are all equal teach nothing and are replaced by new prompts. */
    public record Sampling(@Knob(doc = "drop groups whose rewards are all equal and refill from more prompts (DAPO)")
                           boolean dynamicSampling,
                           @Knob(doc = "generation batches a step may draw to refill (the first included)", label = "N")
                           int maxGenerationBatches) {
        public Sampling {
            if (maxGenerationBatches < 1)
                throw new IllegalArgumentException("maxGenerationBatches must be >= 1, got " + maxGenerationBatches);
        }
    }

    /** TRL's {@code loss_type}. */
    public enum LossType {
        GRPO, BNPO, DR_GRPO, DAPO
    }

    /** TRL's {@code importance_sampling_level}. */
    public enum Level {
        TOKEN, SEQUENCE
    }

    /** TRL's {@code scale_rewards}. */
    public enum Scale {
        NONE, GROUP, BATCH
    }

    public static GrpoConfig defaults() {
        return new GrpoConfig(new Schedule(100, 10, 0, 42), OptimConfig.constant(1e-5, 0),
                new Generation(8, 8, 64, 64, 1, 16, 1.0, 0, 1.0),
                new Loss(LossType.DAPO, Level.TOKEN, 0.2f, 0.2f, 3e-4f, 4e-4f, 0f, Scale.GROUP, false, 0, 1.0f),
                new Sampling(false, 4));
    }

    @Override
    public GrpoConfig withSchedule(Schedule s) {
        return new GrpoConfig(s, optim, generation, loss, sampling);
    }

    @Override
    public GrpoConfig withOptim(OptimConfig o) {
        return new GrpoConfig(schedule, o, generation, loss, sampling);
    }

    public GrpoConfig withGeneration(Generation g) {
        return new GrpoConfig(schedule, optim, g, loss, sampling);
    }

    public GrpoConfig withLoss(Loss l) {
        return new GrpoConfig(schedule, optim, generation, l, sampling);
    }

    public GrpoConfig withSampling(Sampling s) {
        return new GrpoConfig(schedule, optim, generation, loss, s);
    }

    /** {@code prompts} per step × {@code g} completions, optimizer steps of {@code miniBatch}; the micro-batch is kept. */
    public GrpoConfig withBatches(int prompts, int g, int miniBatch, int numIterations) {
        Generation x = generation;
        return withGeneration(new Generation(prompts, g, miniBatch, x.microBatch(), numIterations, x.maxCompletionLength(),
                x.temperature(), x.topK(), x.topP()));
    }

    /** Forwards/backwards of {@code microBatch} rows (gradients accumulate over each minibatch). */
    public GrpoConfig withMicroBatch(int microBatch) {
        Generation x = generation;
        return withGeneration(new Generation(x.prompts(), x.numGenerations(), x.miniBatch(), microBatch, x.numIterations(),
                x.maxCompletionLength(), x.temperature(), x.topK(), x.topP()));
    }

    public GrpoConfig withDecoding(int maxCompletionLength, double temperature, int topK, double topP) {
        Generation x = generation;
        return withGeneration(new Generation(x.prompts(), x.numGenerations(), x.miniBatch(), x.microBatch(), x.numIterations(),
                maxCompletionLength, temperature, topK, topP));
    }
}
