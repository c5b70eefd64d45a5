package dev.align4j.train;

import dev.align4j.config.Knob;

import dev.align4j.kernels.PreferenceLoss;

/**
 * Settings of {@link DpoTrainer}. {@link #defaults()} (DPO) and {@link #simpo()}:
 * <pre>
 *   loss          DPO: sigmoid, β 0.1 (TRL's DPOConfig)   SimPO: β 2.0, γ = 0.5·β = 1.0 (the SimPO paper's recipe)
 *                 any PreferenceLoss.Config: cDPO (label smoothing), robust, hinge, IPO, length-normalised DPO
 *   schedule      steps 300, evalEvery 100 (eval/ metrics on the held-out pairs), checkpointEvery 0 (only at the
 *                 end), seed 1234 (data order)
 *   optim         lr 3e-4 → 3e-5 cosine, warmup 10, weight decay 0, betas (0.9, 0.95), clip 1.0
 *   batchSize 8 pairs (16 rows: chosen then rejected), gradAccum 1
 *   nllCoef 0     α of an optional NLL term on the chosen responses (RPO-style):
 *                 L = L_pref + α·(−Σ ℓ⁺ / Σ|y⁺|) over the step's chosen tokens
 * </pre>
 * Why 3e-4 (measured on the tests' task: 64 generated pairs, a 2-layer 64-wide byte-level GPT from random init,
 * batch 16, the policy's initial weights as reference, 200 steps, two seeds; sequence log-probs start near −30):
 * <pre>
 *   lr     DPO train loss   DPO logps/chosen   DPO logps/rejected   SimPO train loss   SimPO logps/chosen
 *   1e-4   0.52..0.56       +0.5 .. +1.1       −2.4 .. −3.0         0.61..0.67         +0.5 .. +1.2
 *   3e-4   0.34..0.36       +2.9 .. +3.3       −5.5 .. −6.8         0.14..0.20         +2.2 .. +2.9
 *   1e-3   0.08            −1.2 .. −0.1       −29                  0.002..0.004       +1.4 .. +3.2
 *   3e-3   0.003           −25                −98                  ≈ 0                −5 .. −7
 * </pre>
 * 3e-4 is the largest of these rates at which DPO still RAISES the chosen responses' log-probs; from 1e-3 on the
 * margin grows by pushing every response down (the chosen ones too), DPO's known failure mode. Train-pair accuracy
 * reaches ≥ 0.95 within 50 steps at every rate, so it does not discriminate. TRL's default 1e-6 is for pretrained
 * models of 10⁸+ parameters: for a real model start near 5e-7..1e-6 ({@link #withOptim}). Weight decay is 0 as in
 * TRL: decay pulls the weights toward 0, not toward the reference.
 *
 * @param schedule        steps, evaluation and checkpoint cadence, seed of the epoch-wise shuffled order of the pairs
 * @param optim           AdamW, schedule and clipping
 * @param loss            the preference loss (type and β, ε, γ), see {@link PreferenceLoss.Config}
 * @param batchSize       pairs per micro-batch (each pair is two rows of the forward)
 * @param gradAccum       micro-batches per step; the step's loss is the mean over all its pairs
 * @param nllCoef         α >= 0 of the NLL term on the chosen responses (0: off)
 */
public record DpoConfig(Schedule schedule, OptimConfig optim, PreferenceLoss.Config loss,
                        @Knob(name = "batch", doc = "pairs per micro-batch") int batchSize,
                        @Knob(name = "accum", doc = "micro-batches per step (gradient accumulation)") int gradAccum,
                        @Knob(name = "nll", doc = "weight alpha of an NLL term on the chosen responses (RPO-style)", label = "ALPHA")
                        double nllCoef) implements TrainerConfig<DpoConfig> {
    /** The default peak rate (see the class comment for how it was chosen). */
    public static final double DEFAULT_LR = 3e-4;

    public DpoConfig {
        if (schedule == null || optim == null) throw new IllegalArgumentException("schedule and optim must not be null");
        if (loss == null) throw new IllegalArgumentException("loss must not be null");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (gradAccum < 1) throw new IllegalArgumentException("gradAccum must be >= 1, got " + gradAccum);
        if (!(nllCoef >= 0) || Double.isInfinite(nllCoef))
            throw new IllegalArgumentException("nllCoef must be >= 0 and finite, got " + nllCoef);
    }

    /** DPO (sigmoid, β 0.1) with the defaults of the class comment. */
    public static DpoConfig defaults() {
        return of(PreferenceLoss.Config.dpo());
    }

    /** SimPO (β 2.0, γ 1.0) with the defaults of the class comment. */
    public static DpoConfig simpo() {
        return of(PreferenceLoss.Config.simpo());
    }

    /** The defaults with {@code loss}. */
    public static DpoConfig of(PreferenceLoss.Config loss) {
        return new DpoConfig(new Schedule(300, 100, 0, 1234), OptimConfig.cosine(DEFAULT_LR, DEFAULT_LR / 10, 10).withWeightDecay(0.0),
                loss, 8, 1, 0.0);
    }

    @Override
    public DpoConfig withSchedule(Schedule s) {
        return new DpoConfig(s, optim, loss, batchSize, gradAccum, nllCoef);
    }

    @Override
    public DpoConfig withOptim(OptimConfig o) {
        return new DpoConfig(schedule, o, loss, batchSize, gradAccum, nllCoef);
    }

    public DpoConfig withLoss(PreferenceLoss.Config l) {
        return new DpoConfig(schedule, optim, l, batchSize, gradAccum, nllCoef);
    }

    public DpoConfig withBatch(int pairs, int accum) {
        return new DpoConfig(schedule, optim, loss, pairs, accum, nllCoef);
    }

    public DpoConfig withNllCoef(double alpha) {
        return new DpoConfig(schedule, optim, loss, batchSize, gradAccum, alpha);
    }
}
