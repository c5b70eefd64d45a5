package dev.align4j.model;

import dev.align4j.config.Knob;

/**
 * Options of {@link Generator#generate}: at most {@code maxNewTokens} (≥ 1) tokens per sequence; the sampling
 * distribution of {@link Sampler} ({@code temperature} ≥ 0, 0 = greedy; {@code topK} ≥ 0, 0 = off; {@code topP}
 * in (0, 1], 1 = off); {@code eosId} stops a sequence once sampled (−1: no EOS); {@code padId} fills the
 * returned tokens after each sequence's end; {@code seed} seeds the RNG (runs are reproducible).
 */
public record GenerationConfig(@Knob(name = "max-new", doc = "new tokens at most") int maxNewTokens,
                               @Knob(doc = "sampling temperature; 0 = greedy", label = "T") double temperature,
                               @Knob(doc = "top-k sampling (0: off)", label = "K") int topK,
                               @Knob(doc = "nucleus sampling (1: off)", label = "P") double topP,
                               int eosId, int padId,
                               @Knob(doc = "seed of the sampling") long seed) {
    public GenerationConfig {
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        Sampler.checkTemperature(temperature);
        Sampler.checkTopK(topK);
        Sampler.checkTopP(topP);
        if (eosId < -1) throw new IllegalArgumentException("eosId must be a token id or -1 (none), got " + eosId);
        if (padId < 0) throw new IllegalArgumentException("padId must be a token id (>= 0), got " + padId);
    }

    /** Greedy decoding (temperature 0). */
    public static GenerationConfig greedy(int maxNewTokens, int eosId, int padId) {
        return new GenerationConfig(maxNewTokens, 0, 0, 1, eosId, padId, 0);
    }

    /** Plain sampling at temperature 1 (no top-k, no top-p). */
    public static GenerationConfig sampling(int maxNewTokens, int eosId, int padId, long seed) {
        return new GenerationConfig(maxNewTokens, 1, 0, 1, eosId, padId, seed);
    }

    public GenerationConfig withTemperature(double t) {
        return new GenerationConfig(maxNewTokens, t, topK, topP, eosId, padId, seed);
    }

    public GenerationConfig withTopK(int k) {
        return new GenerationConfig(maxNewTokens, temperature, k, topP, eosId, padId, seed);
    }

    public GenerationConfig withTopP(double p) {
        return new GenerationConfig(maxNewTokens, temperature, topK, p, eosId, padId, seed);
    }

    public GenerationConfig withSeed(long s) {
        return new GenerationConfig(maxNewTokens, temperature, topK, topP, eosId, padId, s);
    }

    public GenerationConfig withEos(int eos) {
        return new GenerationConfig(maxNewTokens, temperature, topK, topP, eos, padId, seed);
    }
}
