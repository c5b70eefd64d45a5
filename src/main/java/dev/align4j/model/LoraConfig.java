package dev.align4j.model;

import java.util.List;

/**
 * The settings of LoRA adapters (Hu et al. 2021), with PEFT's {@code LoraConfig} names: on each targeted linear
 * module {@code y = x·Wᵀ + b} becomes {@code y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ} with {@code A [r, in]}, {@code B [out, r]}
 * and the scaling {@code s = alpha / r}, or {@code alpha / √r} with rsLoRA (Kalajdzievski 2023).
 *
 * @param r       the rank (&ge; 1)
 * @param alpha   {@code lora_alpha} (&gt; 0)
 * @param dropout {@code lora_dropout}, kept for the file: align4j applies no dropout (PEFT's applies only in
 *                training); its trainers refuse to train with it above 0 ({@link #requireNoDropout})
 * @param rslora  {@code use_rslora}: scale by {@code alpha / √r}
 * @param targets {@code target_modules}: module names matched as PEFT matches them (the whole module path, or its
 *                last components after a dot: {@code q_proj}, {@code attn.c_proj}), or the one entry
 *                {@value #ALL_LINEAR}; empty: PEFT's default for the family ({@link #defaultTargets})
 */
public record LoraConfig(int r, double alpha, double dropout, boolean rslora, List<String> targets) {
    /** Every linear module of the trunk (not the LM head), as PEFT's {@code target_modules="all-linear"}. */
    public static final String ALL_LINEAR = "all-linear";

    public LoraConfig {
        if (r < 1) throw new IllegalArgumentException("LoRA rank r must be >= 1, got " + r);
        if (!(alpha > 0) || Double.isInfinite(alpha)) throw new IllegalArgumentException("LoRA alpha must be > 0 and finite, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
        targets = targets == null ? List.of() : List.copyOf(targets);
        for (String t : targets)
            if (t.isBlank()) throw new IllegalArgumentException("LoRA target module names must not be blank: " + targets);
        if (targets.contains(ALL_LINEAR) && targets.size() > 1)
            throw new IllegalArgumentException("LoRA targets: '" + ALL_LINEAR + "' stands alone, got " + targets);
    }

    /** Throws when {@link #dropout} is above 0: align4j trains without dropout (its models have none either). */
    public void requireNoDropout() {
        if (dropout != 0)
            throw new IllegalArgumentException("LoRA dropout " + dropout + " is not implemented: align4j trains without dropout"
                    + " (as its models); use 0");
    }

    /** PEFT's defaults: r 8, alpha 8, no dropout, no rsLoRA, the family's default targets. */
    public static LoraConfig defaults(int r) {
        return new LoraConfig(r, 8, 0, false, List.of());
    }

    public LoraConfig withAlpha(double a) {
        return new LoraConfig(r, a, dropout, rslora, targets);
    }

    public LoraConfig withRslora(boolean on) {
        return new LoraConfig(r, alpha, dropout, on, targets);
    }

    public LoraConfig withTargets(List<String> t) {
        return new LoraConfig(r, alpha, dropout, rslora, t);
    }

    /** {@code alpha / r}, or {@code alpha / √r} with rsLoRA. */
    public double scaling() {
        return rslora ? alpha / Math.sqrt(r) : alpha / r;
    }

    /**
     * PEFT's default targets of a family (its {@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING}): GPT-2's
     * fused {@code c_attn}; the Llama family's {@code q_proj} and {@code v_proj}.
     */
    public static List<String> defaultTargets(LmConfig config) {
        return config instanceof GptConfig ? List.of("c_attn") : List.of("q_proj", "v_proj");
    }

    /** Whether {@code target} names {@code module} as PEFT matches: equal, or a suffix after a dot. */
    static boolean matches(String target, String module) {
        return module.equals(target) || module.endsWith("." + target);
    }
}
