package dev.align4j.model;

import static dev.align4j.model.ConfigJson.bool;
import static dev.align4j.model.ConfigJson.integer;
import static dev.align4j.model.ConfigJson.number;
import static dev.align4j.model.ConfigJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.align4j.kernels.Rope;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The shape of a Llama-family model, read from Hugging Face's {@code config.json}: {@code model_type} llama (Llama
 * 2/3, SmolLM2, TinyLlama), mistral, qwen2 (Qwen2/2.5) or qwen3. What the families differ in is explicit here:
 * {@code attentionBias} (q/k/v biases: always in Qwen2, {@code attention_bias} elsewhere), {@code qkNorm} (Qwen3's
 * per-head RMSNorm of q and k before RoPE), {@code headDim} ({@code head_dim} where the config gives it, else
 * hidden / heads), {@code ropeScaling} (null, or Llama 3.1/3.2's "llama3" frequencies) and {@code tieWordEmbeddings}.
 *
 * <p>What the model cannot run is refused with the key and its value, never approximated: an activation other
 * than silu, {@code mlp_bias}, a {@code rope_scaling} type other than llama3 or default, a partial rotary factor,
 * heads not a multiple of the key/value heads, an odd head_dim. The shape keys have no defaults (a guess would
 * not match the weights).
 */
public record LlamaConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, double rmsNormEps, double ropeTheta,
                          Rope.Llama3Scaling ropeScaling, boolean tieWordEmbeddings, boolean attentionBias,
                          boolean qkNorm, int maxPositionEmbeddings) {
    public static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2", "qwen3");
    private static final List<String> SHAPE_KEYS = List.of("vocab_size", "hidden_size", "intermediate_size",
            "num_hidden_layers", "num_attention_heads");

    public LlamaConfig {
        if (!MODEL_TYPES.contains(modelType))
            throw new IllegalArgumentException("model_type '" + modelType + "' is not one of " + MODEL_TYPES);
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numHeads % numKvHeads != 0)
            throw new IllegalArgumentException("num_attention_heads = " + numHeads + " is not a multiple of num_key_value_heads = "
                    + numKvHeads + " (grouped-query attention shares each key/value head among a whole number of query heads)");
        if (headDim % 2 != 0) throw new IllegalArgumentException("head_dim = " + headDim + " is odd (RoPE rotates pairs)");
        if (!(rmsNormEps > 0) || !Double.isFinite(rmsNormEps))
            throw new IllegalArgumentException("rms_norm_eps must be finite and > 0, got " + rmsNormEps);
        if (!(ropeTheta > 0) || !Double.isFinite(ropeTheta))
            throw new IllegalArgumentException("rope_theta must be finite and > 0, got " + ropeTheta);
    }

    private static void positive(String key, int v) {
        if (v < 1) throw new IllegalArgumentException(key + " must be >= 1, got " + v);
    }

    /** Query heads per key/value head. */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** The RoPE frequencies of this model, inv_freq[headDim / 2] (rope_theta and rope_scaling applied). */
    public float[] invFreq() {
        return Rope.invFreq(headDim, ropeTheta, ropeScaling);
    }

    /** Reads {@code path} (a config.json); every error names the file and the key. */
    public static LlamaConfig read(Path path) throws IOException {
        JsonNode root = ConfigJson.read(path);
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IOException(path + ": " + e.getMessage(), e);
        }
    }

    static LlamaConfig fromJson(JsonNode root) {
        String type = text(root, "model_type", null);
        if (type == null) throw new IllegalArgumentException("missing key 'model_type'");
        if (!MODEL_TYPES.contains(type))
            throw new IllegalArgumentException("model_type '" + type + "' is not a Llama-family model " + MODEL_TYPES);
        List<String> missing = new ArrayList<>();
        for (String key : SHAPE_KEYS) if (!root.hasNonNull(key)) missing.add("'" + key + "'");
        if (!missing.isEmpty())
            throw new IllegalArgumentException("missing key" + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing)
                    + " (the model's shape is not defaulted: the weights would not match)");
        String act = text(root, "hidden_act", "silu");
        if (!act.equals("silu")) throw new IllegalArgumentException("hidden_act '" + act + "' is not silu (SwiGLU)");
        if (bool(root, "mlp_bias", false)) throw new IllegalArgumentException("mlp_bias is true; not supported");
        if (number(root, "partial_rotary_factor", 1.0) != 1.0)
            throw new IllegalArgumentException("partial_rotary_factor = " + root.get("partial_rotary_factor") + "; only 1 is supported");
        int hidden = integer(root, "hidden_size", 0), heads = integer(root, "num_attention_heads", 0);
        if (heads > 0 && !root.hasNonNull("head_dim") && hidden % heads != 0)
            throw new IllegalArgumentException("hidden_size = " + hidden + " is not a multiple of num_attention_heads = "
                    + heads + " and head_dim is not given");
        int headDim = root.hasNonNull("head_dim") ? integer(root, "head_dim", 0) : heads > 0 ? hidden / heads : 0;
        // Qwen2's attention always has q/k/v biases (its config has no attention_bias key); the others read the key.
        boolean bias = type.equals("qwen2") || bool(root, "attention_bias", false);
        return new LlamaConfig(type, integer(root, "vocab_size", 0), hidden, integer(root, "intermediate_size", 0),
                integer(root, "num_hidden_layers", 0), heads, integer(root, "num_key_value_heads", heads), headDim,
                number(root, "rms_norm_eps", 1e-6), number(root, "rope_theta", 10000.0), ropeScaling(root),
                bool(root, "tie_word_embeddings", false), bias, type.equals("qwen3"),
                integer(root, "max_position_embeddings", 2048));
    }

    /**
     * A {@code config.json} for this shape, as transformers writes one (for a model that did not come with its own; a
     * model loaded from a folder keeps that folder's config, with its token ids and other keys). {@link #read} gives
     * this record back. {@code torch_dtype} is left to the writer ({@link HfCheckpointWriter}).
     */
    public String toJson() {
        ObjectNode o = ConfigJson.JSON.createObjectNode();
        o.putArray("architectures").add(switch (modelType) {
            case "mistral" -> "MistralForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            case "qwen3" -> "Qwen3ForCausalLM";
            default -> "LlamaForCausalLM";
        });
        o.put("model_type", modelType);
        o.put("vocab_size", vocabSize);
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_hidden_layers", numLayers);
        o.put("num_attention_heads", numHeads);
        o.put("num_key_value_heads", numKvHeads);
        if (qkNorm || headDim * numHeads != hiddenSize) o.put("head_dim", headDim);
        o.put("hidden_act", "silu");
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("rope_theta", ropeTheta);
        if (ropeScaling == null) {
            o.putNull("rope_scaling");
        } else {
            ObjectNode s = o.putObject("rope_scaling");
            s.put("rope_type", "llama3");
            s.put("factor", ropeScaling.factor());
            s.put("low_freq_factor", ropeScaling.lowFreqFactor());
            s.put("high_freq_factor", ropeScaling.highFreqFactor());
            s.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
        }
        o.put("tie_word_embeddings", tieWordEmbeddings);
        // Qwen2 always has q/k/v biases and its config has no such key; the others say it.
        if (!modelType.equals("qwen2")) o.put("attention_bias", attentionBias);
        else if (!attentionBias) throw new IllegalStateException("a qwen2 config always has attention biases");
        if (!modelType.equals("qwen3") && qkNorm)
            throw new IllegalStateException("q/k norms are Qwen3's; model_type '" + modelType + "' cannot say it has them");
        if (modelType.equals("qwen3") && !qkNorm)
            throw new IllegalStateException("a qwen3 config always has q/k norms");
        return o.toString();
    }

    private static Rope.Llama3Scaling ropeScaling(JsonNode root) {
        JsonNode s = root.get("rope_scaling");
        if (s == null || s.isNull()) return null;
        if (!s.isObject()) throw new IllegalArgumentException("rope_scaling must be an object or null, got " + s);
        String type = s.hasNonNull("rope_type") ? text(s, "rope_type", null) : text(s, "type", "default");
        if (type.equals("default")) return null;
        if (!type.equals("llama3"))
            throw new IllegalArgumentException("rope_scaling type '" + type + "' is not supported (llama3 or default)");
        for (String k : List.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"))
            if (!s.hasNonNull(k)) throw new IllegalArgumentException("rope_scaling (llama3) lacks '" + k + "'");
        return new Rope.Llama3Scaling(number(s, "factor", 0), number(s, "low_freq_factor", 0),
                number(s, "high_freq_factor", 0), integer(s, "original_max_position_embeddings", 0));
    }
}
