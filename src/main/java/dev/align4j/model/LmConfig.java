package dev.align4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The shape every causal LM shares, whatever its family: what the trainers, the generator and the CLI need to
 * know (vocabulary, context, hidden width for scalar heads, depth), plus the Hugging Face {@code config.json}
 * round trip. {@link GptConfig} (model_type gpt2) and {@link LlamaConfig} (llama, mistral, qwen2, qwen3) are
 * the two; {@link #read} picks one by {@code model_type}.
 */
public interface LmConfig {
    /** Hugging Face's {@code model_type}. */
    String modelType();

    int vocabSize();

    /** The longest sequence the model takes (GPT-2's n_positions, Llama's max_position_embeddings). */
    int nCtx();

    /** The width of the final hidden states (the input of the LM head and of a scalar head). */
    int hiddenSize();

    int nLayer();

    /** The number of parameters (a tied head counted once). */
    long numParameters();

    /**
     * The bytes of a model's activations after a forward on (B, T) with {@code chunkRows} rows per LM-head chunk,
     * computed without allocating ({@link CausalLm#activationBytes()} reports the same); Long.MAX_VALUE on overflow.
     */
    long activationBytes(int b, int t, int chunkRows);

    /** A short description of the shape: "gpt2, 2 layers x 32 wide, 2 heads, context 64, vocabulary 320". */
    String describe();

    /** Hugging Face config.json text, with {@code extra} keys (which may not override the model's own). */
    String toJson(Map<String, ?> extra);

    /** Reads a config.json of any supported family, chosen by its {@code model_type}; errors name the file and key. */
    static LmConfig read(Path path) throws IOException {
        JsonNode root = ConfigJson.read(path);
        JsonNode type = root.get("model_type");
        String t = type != null && type.isTextual() ? type.textValue() : null;
        if (t != null && LlamaConfig.MODEL_TYPES.contains(t)) return LlamaConfig.read(path);
        if (t == null || t.equals("gpt2")) return GptConfig.read(path);  // (GPT-2 defaults a missing model_type)
        throw new IOException(path + ": model_type '" + t + "' is not supported (gpt2, "
                + String.join(", ", new java.util.TreeSet<>(LlamaConfig.MODEL_TYPES)) + ")");
    }
}
