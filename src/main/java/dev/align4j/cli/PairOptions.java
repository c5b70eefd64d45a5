package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedPair;
import dev.align4j.model.CausalLm;
import dev.align4j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The model the preference-pair commands (rm, dpo) start from, and how they get and encode their pairs: a picocli mixin
 * beside {@link DataOptions}.
 */
public final class PairOptions {
    @Option(names = "--init", paramLabel = "MODEL", required = true, description = "the model to start from (an SFT policy); "
            + "--tasks samples its pairs from it")
    Path init;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "default: inferred from the vocabulary")
    String tokenizer;

    @Option(names = "--samples", paramLabel = "K", description = "--tasks: samples per prompt (default 4)")
    int samples = 4;

    @Option(names = "--pairs-per-prompt", paramLabel = "M", description = "--tasks: up to M pairs per prompt, one per distinct "
            + "wrong sample (default 1; the demo's reward model uses 8 with --samples 8)")
    int pairsPerPrompt = 1;

    @Option(names = "--max-new", paramLabel = "N", description = "--tasks: generation limit of the samples (default 16)")
    int maxNew = 16;

    @Option(names = "--max-tokens", paramLabel = "N", description = "truncate pairs to N tokens (default: the model's context)")
    Integer maxTokens;

    /** The encoder for {@code policy}'s context (or --max-tokens). */
    Encoder encoder(Tokenizer tok, CausalLm policy) {
        return new Encoder(tok, Data.maxTokens(maxTokens, policy.config().nCtx()));
    }

    /** The train and held-out pairs: from --data, or sampled from {@code policy} on --tasks prompts. */
    Data.Split2<TokenizedPair> read(BaseCommand cmd, DataOptions data, double holdout, long seed, CausalLm policy, Encoder enc)
            throws IOException {
        return Data.pairs(cmd, data, holdout, seed, policy, enc, samples, pairsPerPrompt, maxNew);
    }
}
