package dev.align4j.model;

import static dev.align4j.model.ConfigJson.bool;
import static dev.align4j.model.ConfigJson.integer;
import static dev.align4j.model.ConfigJson.number;
import static dev.align4j.model.ConfigJson.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.align4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Shape of a GPT-2-architecture model: {@code nLayer} blocks of {@code nHead}-head causal attention and a 4x
 * MLP over width {@code nEmbd}, learned positions for {@code nCtx} tokens, {@code vocabSize} tokens with tied
 * input/output embeddings, LayerNorm epsilon {@code layerNormEps} (GPT-2: 1e-5), GELU in GPT-2's tanh form.
 *
 * <p>Reads and writes Hugging Face's {@code config.json} for {@code GPT2LMHeadModel}. The keys that shape the
 * weights ({@link #SHAPE_KEYS}, and {@code n_positions} or {@code n_ctx}) are required: {@code GPT2Config} would
 * default them to the 124M model's shape, but {@code save_pretrained} always writes them, and a default would
 * only move the error to some tensor's shape, far from the missing key. Other absent keys take
 * {@code GPT2Config}'s defaults; {@code n_positions} is the context ({@code n_ctx} only when {@code n_positions}
 * is absent). Configurations this architecture would
 * compute differently are refused rather than silently approximated: another {@code model_type}, an MLP width
 * other than 4C ({@code n_inner}), a GELU other than the tanh form, untied embeddings, cross-attention,
 * attention scaled by layer index.
 */
public record GptConfig(int nLayer, int nHead, int nEmbd, int nCtx, int vocabSize, double layerNormEps)
        implements LmConfig {
    /** GPT-2's LayerNorm epsilon. */
    public static final double DEFAULT_LAYER_NORM_EPS = 1e-5;
    /** The config.json keys that must be present (besides the context, {@code n_positions} or {@code n_ctx}). */
    public static final List<String> SHAPE_KEYS = List.of("n_embd", "n_layer", "n_head", "vocab_size");

    private static final ObjectMapper JSON = ConfigJson.JSON;

    public GptConfig {
        positive("nLayer", nLayer);
        positive("nHead", nHead);
        positive("nEmbd", nEmbd);
        positive("nCtx", nCtx);
        positive("vocabSize", vocabSize);
        if (nEmbd % nHead != 0)
            throw new IllegalArgumentException("nEmbd (" + nEmbd + ") must be a multiple of nHead (" + nHead + ")");
        if (!(layerNormEps > 0) || Double.isInfinite(layerNormEps))
            throw new IllegalArgumentException("layerNormEps must be positive and finite, got " + layerNormEps);
        // 4C MLP and 3C attention weights must index with int, and wte (V x C) must fit a float[]
        if ((long) nEmbd * nEmbd * 4 > Integer.MAX_VALUE || (long) vocabSize * nEmbd > Integer.MAX_VALUE
                || (long) nCtx * nEmbd > Integer.MAX_VALUE)
            throw new IllegalArgumentException("config too large for int-indexed arrays: " + nEmbd + " wide, vocab "
                    + vocabSize + ", context " + nCtx);
    }

    /** A config with GPT-2's LayerNorm epsilon. */
    public GptConfig(int nLayer, int nHead, int nEmbd, int nCtx, int vocabSize) {
        this(nLayer, nHead, nEmbd, nCtx, vocabSize, DEFAULT_LAYER_NORM_EPS);
    }

    /** GPT-2 small (124M), the shape of HF's {@code gpt2}. */
    public static GptConfig gpt2() {
        return new GptConfig(12, 12, 768, 1024, 50257);
    }

    /** Width of one attention head. */
    @Override
    public String modelType() {
        return "gpt2";
    }

    @Override
    public int hiddenSize() {
        return nEmbd;
    }

    @Override
    public long numParameters() {
        return HfGpt2Layout.numParameters(this);
    }

    @Override
    public long activationBytes(int b, int t, int chunkRows) {
        return Gpt.activationBytes(this, b, t, chunkRows);
    }

    @Override
    public String describe() {
        return "gpt2, " + nLayer + " layers x " + nEmbd + " wide, " + nHead + " heads, context " + nCtx + ", vocabulary "
                + vocabSize;
    }

    public int headSize() {
        return nEmbd / nHead;
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, got " + v);
    }

    // ------------------------------------------------------------------------------------------ config.json

    /** Parses HF's config.json from {@code path}; errors name the file and the key. */
    public static GptConfig read(Path path) throws IOException {
        JsonNode root = ConfigJson.read(path);
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IOException(path + ": " + e.getMessage(), e);
        }
    }

    /** Parses HF config.json text. */
    public static GptConfig fromJson(String json) {
        try {
            return fromJson(JSON.readTree(json));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static GptConfig fromJson(JsonNode root) {
        if (root == null || !root.isObject()) throw new IllegalArgumentException("config must be a JSON object");
        String type = text(root, "model_type", "gpt2");
        if (!type.equals("gpt2")) throw new IllegalArgumentException("model_type is '" + type + "', expected 'gpt2'");
        List<String> missing = new ArrayList<>();
        for (String key : SHAPE_KEYS) if (!root.hasNonNull(key)) missing.add("'" + key + "'");
        if (!root.hasNonNull("n_positions") && !root.hasNonNull("n_ctx")) missing.add("'n_positions'");
        if (!missing.isEmpty())
            throw new IllegalArgumentException("missing key" + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing)
                    + " (the model's shape is not defaulted: the weights would not match)");
        int nEmbd = integer(root, "n_embd", 0);
        int nCtx = root.hasNonNull("n_positions") ? integer(root, "n_positions", 0) : integer(root, "n_ctx", 0);
        if (root.hasNonNull("n_inner") && integer(root, "n_inner", 0) != 4 * nEmbd)
            throw new IllegalArgumentException("n_inner = " + root.get("n_inner") + " is not 4 * n_embd; only the 4x MLP is supported");
        String act = text(root, "activation_function", "gelu_new");
        if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh"))
            throw new IllegalArgumentException("activation_function '" + act + "' is not GPT-2's tanh GELU (gelu_new)");
        if (!bool(root, "tie_word_embeddings", true))
            throw new IllegalArgumentException("tie_word_embeddings is false; only tied input/output embeddings are supported");
        if (bool(root, "add_cross_attention", false))
            throw new IllegalArgumentException("add_cross_attention is true; cross-attention is not supported");
        if (bool(root, "scale_attn_by_inverse_layer_idx", false))
            throw new IllegalArgumentException("scale_attn_by_inverse_layer_idx is true; not supported");
        if (!bool(root, "scale_attn_weights", true))
            throw new IllegalArgumentException("scale_attn_weights is false; not supported");
        double eps = number(root, "layer_norm_epsilon", DEFAULT_LAYER_NORM_EPS);
        return new GptConfig(integer(root, "n_layer", 0), integer(root, "n_head", 0), nEmbd, nCtx,
                integer(root, "vocab_size", 0), eps);
    }

    /** HF config.json text (keys sorted, 2-space indent, as {@code save_pretrained} writes). */
    public String toJson() {
        return toJson(Map.of());
    }

    /**
     * HF config.json text with extra keys (e.g. {@code bos_token_id}, {@code eos_token_id} from the
     * tokenizer); an extra key may not override one this config defines.
     */
    @Override
    public String toJson(Map<String, ?> extra) {
        ObjectNode o = JSON.createObjectNode();
        o.put("model_type", "gpt2");
        o.putArray("architectures").add("GPT2LMHeadModel");
        o.put("n_layer", nLayer);
        o.put("n_head", nHead);
        o.put("n_embd", nEmbd);
        o.put("n_positions", nCtx);
        o.put("n_ctx", nCtx);
        o.put("vocab_size", vocabSize);
        o.put("layer_norm_epsilon", layerNormEps);
        o.putNull("n_inner");
        o.put("activation_function", "gelu_new");
        o.put("tie_word_embeddings", true);
        o.put("torch_dtype", "float32");
        return ConfigJson.toText(o, extra);
    }

    /** Writes HF config.json to {@code path} atomically. */
    public void write(Path path) throws IOException {
        AtomicFiles.writeString(path, toJson());
    }

    /** Writes HF config.json with extra keys to {@code path} atomically. */
    public void write(Path path, Map<String, ?> extra) throws IOException {
        AtomicFiles.writeString(path, toJson(extra));
    }
}
