package dev.align4j.cli;

import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The model a training command starts from (a mixin): {@code --init MODEL}, or a fresh GPT-2-style model of the
 * size flags (GPT-2 init). {@code --tokenizer} picks the tokenizer (a fresh model: byte by default, vocabulary 320).
 */
public final class ModelOptions {
    static final int LAYERS = 4, HEADS = 4, EMBD = 128, CTX = 128;

    @Option(names = "--init", paramLabel = "MODEL", description = "start from this model directory or run folder (its latest checkpoint)")
    Path init;

    @Option(names = "--layers", paramLabel = "N", description = "fresh model: transformer blocks (default " + LAYERS + ")")
    Integer layers;

    @Option(names = "--heads", paramLabel = "N", description = "fresh model: attention heads (default " + HEADS + ")")
    Integer heads;

    @Option(names = "--embd", paramLabel = "N", description = "fresh model: width (default " + EMBD + ")")
    Integer embd;

    @Option(names = "--ctx", paramLabel = "N", description = "fresh model: context length (default " + CTX + ")")
    Integer ctx;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2",
            description = "tokenizer (default: byte for a fresh model, else inferred from the vocabulary: 259/320 byte, 50257 gpt2)")
    String tokenizer;

    /** The fresh model's shape (size flags given with --init are an error). */
    GptConfig freshConfig(Tokenizer tok) {
        return new GptConfig(layers != null ? layers : LAYERS, heads != null ? heads : HEADS, embd != null ? embd : EMBD,
                ctx != null ? ctx : CTX, tok.vocabSize());
    }

    /** The starting model: --init's, or a fresh one initialised with {@code seed}. */
    Gpt model(Device device, long seed) throws IOException {
        if (init != null) {
            if (layers != null || heads != null || embd != null || ctx != null)
                throw CliException.usage("--layers/--heads/--embd/--ctx describe a fresh model; they cannot be combined with --init");
            return ModelPaths.loadGpt(init, "--init", device);
        }
        return Gpt.create(freshConfig(ModelPaths.freshTokenizer(tokenizer)), device, seed);
    }

    /** The tokenizer of {@code model} (see the class comment). */
    Tokenizer tokenizer(Gpt model) {
        if (init == null && tokenizer == null) return ModelPaths.freshTokenizer(null);
        return ModelPaths.tokenizer(tokenizer, model.config().vocabSize());
    }
}
