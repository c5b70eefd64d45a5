package dev.align4j.cli;

import dev.align4j.model.CausalLm;
import dev.align4j.model.GptConfig;
import dev.align4j.model.LmConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The model a training command starts from (a mixin): {@code --init MODEL} (a GPT-2 or Llama-family folder, see
 * {@link ModelPaths}), or a fresh GPT-2-style model of the size flags (GPT-2 init). {@code --tokenizer} picks the tokenizer (a fresh model: byte by default, vocabulary 320).
 * The size flags are checked against the maxima below before anything is built, and the memory a model needs
 * against the machine's ({@link MemoryBudget}).
 */
public final class ModelOptions {
    static final int LAYERS = 4, HEADS = 4, EMBD = 128, CTX = 128;
    /** Limits of the size flags: far beyond what trains here, small enough that no size overflows an int index. */
    static final int MAX_LAYERS = 1 << 10, MAX_EMBD = 1 << 14, MAX_CTX = 1 << 20;

    @Option(names = "--init", paramLabel = "MODEL", description = "start from this model directory or run folder (its latest checkpoint)")
    Path init;

    @Option(names = "--layers", paramLabel = "N", description = "fresh model: transformer blocks (default " + LAYERS + ")")
    Integer layers;

    @Option(names = "--heads", paramLabel = "N", description = "fresh model: attention heads (default " + HEADS + ")")
    Integer heads;

    @Option(names = "--embd", paramLabel = "N", description = "fresh model: width (default " + EMBD + ")")
    Integer embd;

    @Option(names = "--ctx", paramLabel = "N", description = "fresh model: context length (default " + CTX + ", at most " + MAX_CTX + ")")
    Integer ctx;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2",
            description = "tokenizer (default: byte for a fresh model, else inferred from the vocabulary: 259/320 byte, 50257 gpt2)")
    String tokenizer;

    /** The fresh model's shape (size flags given with --init are an error). */
    GptConfig freshConfig(Tokenizer tok) {
        return shape(layers, heads, embd, ctx, "--ctx", tok.vocabSize());
    }

    /** The starting model's shape, without allocating it: --init's config.json (weights not read), or the fresh one. */
    LmConfig config() throws IOException {
        if (init == null) return freshConfig(ModelPaths.freshTokenizer(tokenizer));
        if (layers != null || heads != null || embd != null || ctx != null)
            throw CliException.usage("--layers/--heads/--embd/--ctx describe a fresh model; they cannot be combined with --init");
        return ModelPaths.readConfig(init, "--init");
    }

    /** The flags that gave the model {@code c}, for messages: "--init DIR" or "--layers 4 --heads 4 --embd 128 --ctx 128". */
    String flags(LmConfig c) {
        return init != null ? "--init " + init : flags((GptConfig) c, "--ctx");
    }

    static String flags(GptConfig c, String ctxFlag) {
        return "--layers " + c.nLayer() + " --heads " + c.nHead() + " --embd " + c.nEmbd() + " " + ctxFlag + " " + c.nCtx();
    }

    /** The starting model: --init's, or a fresh one initialised with {@code seed}; refused when it cannot fit. */
    CausalLm model(Device device, long seed) throws IOException {
        LmConfig c = config();
        if (init != null) return ModelPaths.loadGpt(init, "--init", device);
        MemoryBudget.requireModel(c, device, flags(c));
        return CausalLm.create(c, device, seed);
    }

    /** The tokenizer of a model of shape {@code c} (see the class comment). */
    Tokenizer tokenizer(LmConfig c) {
        if (init == null && tokenizer == null) return ModelPaths.freshTokenizer(null);
        return ModelPaths.tokenizer(tokenizer, c.vocabSize());
    }

    /**
     * A fresh model's shape from its size flags (null: the default), each checked against its limit; the context's
     * flag is {@code ctxFlag} (train-lm calls it --seq).
     */
    static GptConfig shape(Integer layers, Integer heads, Integer embd, Integer ctx, String ctxFlag, int vocab) {
        int l = within("--layers", layers, LAYERS, MAX_LAYERS), c = within("--embd", embd, EMBD, MAX_EMBD);
        int h = within("--heads", heads, HEADS, MAX_EMBD), t = within(ctxFlag, ctx, CTX, MAX_CTX);
        if (c % h != 0) throw CliException.usage("--embd " + c + " must be a multiple of --heads " + h);
        try {
            return new GptConfig(l, h, c, t, vocab);
        } catch (IllegalArgumentException e) { // e.g. a context x width beyond an int index
            throw CliException.usage("--layers " + l + " --heads " + h + " --embd " + c + " " + ctxFlag + " " + t + ": " + e.getMessage());
        }
    }

    private static int within(String flag, Integer value, int dflt, int max) {
        int v = value != null ? value : dflt;
        if (v < 1 || v > max) throw CliException.usage(flag + " must be between 1 and " + max + ", got " + v);
        return v;
    }
}
