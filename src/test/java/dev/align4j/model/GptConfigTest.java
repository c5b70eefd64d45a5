package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GptConfigTest {
    @TempDir
    Path dir;

    /** The config.json of Hugging Face's "gpt2" (keys as published). */
    static final String HF_GPT2 = """
            {
              "activation_function": "gelu_new",
              "architectures": ["GPT2LMHeadModel"],
              "attn_pdrop": 0.1,
              "bos_token_id": 50256,
              "embd_pdrop": 0.1,
              "eos_token_id": 50256,
              "initializer_range": 0.02,
              "layer_norm_epsilon": 1e-05,
              "model_type": "gpt2",
              "n_ctx": 1024,
              "n_embd": 768,
              "n_head": 12,
              "n_layer": 12,
              "n_positions": 1024,
              "resid_pdrop": 0.1,
              "summary_activation": null,
              "summary_first_dropout": 0.1,
              "summary_proj_to_labels": true,
              "summary_type": "cls_index",
              "summary_use_proj": true,
              "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
              "vocab_size": 50257
            }
            """;

    /** A config.json of the tiny model (2 layers, 2 heads, C = 8, vocabulary 11) with {@code more} keys, no context key. */
    static String tiny(String more) {
        return "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"vocab_size\": 11" + (more.isEmpty() ? "" : ", " + more) + "}";
    }

    @Test
    void readsHfGpt2Config() {
        assertEquals(GptConfig.gpt2(), GptConfig.fromJson(HF_GPT2));
        assertEquals(64, GptConfig.gpt2().headSize());
        // absent keys that do not shape the weights take GPT2Config's defaults
        assertEquals(new GptConfig(2, 2, 8, 16, 11), GptConfig.fromJson(tiny("\"n_positions\": 16")));
    }

    /**
     * The keys that shape the weights are required although GPT2Config defaults them (save_pretrained always
     * writes them): a default would only move the error to a tensor's shape, far from the missing key.
     */
    @Test
    void shapeKeysAreRequired() throws IOException {
        for (String key : List.of("n_embd", "n_layer", "n_head", "vocab_size", "n_positions")) {
            ObjectNode o = (ObjectNode) new ObjectMapper().readTree(HF_GPT2);
            o.remove(key);
            if (key.equals("n_positions")) o.remove("n_ctx");
            Path p = Files.writeString(dir.resolve("config.json"), o.toString());
            IOException e = assertThrows(IOException.class, () -> GptConfig.read(p), key);
            assertTrue(e.getMessage().startsWith(p + ": missing key '" + key + "'"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
        IllegalArgumentException all = assertThrows(IllegalArgumentException.class, () -> GptConfig.fromJson("{}"));
        assertTrue(all.getMessage().contains("'n_embd', 'n_layer', 'n_head', 'vocab_size', 'n_positions'"), all.getMessage());

        // a checkpoint whose config.json lacks n_embd: the error is about config.json, not the weights
        Map<String, float[]> params = HfGpt2LayoutTest.randomParams(HfGpt2LayoutTest.TINY, new java.util.Random(1));
        HfGpt2Layout.save(dir, HfGpt2LayoutTest.TINY, params);
        ObjectNode o = (ObjectNode) new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        o.remove("n_embd");
        Files.writeString(dir.resolve("config.json"), o.toString());
        IOException e = assertThrows(IOException.class, () -> HfGpt2Layout.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("config.json") + ": missing key 'n_embd'"), e.getMessage());
    }

    @Test
    void roundTripAndHfKeys() throws IOException {
        GptConfig c = new GptConfig(2, 2, 8, 16, 11, 1e-6);
        Path p = dir.resolve("config.json");
        c.write(p, Map.of("eos_token_id", 10));
        assertEquals(c, GptConfig.read(p));
        JsonNode j = new ObjectMapper().readTree(Files.readString(p));
        assertEquals("gpt2", j.get("model_type").textValue());
        assertEquals("GPT2LMHeadModel", j.get("architectures").get(0).textValue());
        assertEquals(16, j.get("n_positions").intValue());
        assertEquals(16, j.get("n_ctx").intValue());
        assertEquals(11, j.get("vocab_size").intValue());
        assertEquals(1e-6, j.get("layer_norm_epsilon").doubleValue());
        assertEquals(10, j.get("eos_token_id").intValue());
        assertThrows(IllegalArgumentException.class, () -> c.toJson(Map.of("n_layer", 3)));
    }

    @Test
    void contextFromNPositionsThenNCtx() {
        assertEquals(256, GptConfig.fromJson(tiny("\"n_positions\": 256, \"n_ctx\": 128")).nCtx());
        assertEquals(128, GptConfig.fromJson(tiny("\"n_ctx\": 128")).nCtx());
    }

    @Test
    void refusesOtherArchitectures() throws IOException {
        assertRefused("{\"model_type\": \"llama\"}", "model_type");
        assertRefused(tiny("\"n_ctx\": 16, \"n_inner\": 100"), "n_inner");
        assertRefused(tiny("\"n_ctx\": 16, \"activation_function\": \"relu\""), "activation_function");
        assertRefused(tiny("\"n_ctx\": 16, \"tie_word_embeddings\": false"), "tie_word_embeddings");
        assertRefused(tiny("\"n_ctx\": 16, \"add_cross_attention\": true"), "add_cross_attention");
        assertRefused(tiny("\"n_ctx\": 16, \"scale_attn_by_inverse_layer_idx\": true"), "scale_attn_by_inverse_layer_idx");
        assertRefused(HF_GPT2.replace("\"n_head\": 12", "\"n_head\": 5"), "multiple of nHead");
        assertRefused(HF_GPT2.replace("\"n_layer\": 12", "\"n_layer\": 0"), "nLayer");
        assertRefused(HF_GPT2.replace("\"n_layer\": 12", "\"n_layer\": \"2\""), "n_layer");
        assertRefused(HF_GPT2.replace("\"n_layer\": 12", "\"n_layer\": 2.5"), "n_layer");
        assertRefused(tiny("\"n_ctx\": 16, \"layer_norm_epsilon\": -1"), "layerNormEps");
        assertRefused("[]", "object");
        assertRefused("{", "JSON");
        assertEquals(32, GptConfig.fromJson(tiny("\"n_ctx\": 16, \"n_inner\": 32")).nEmbd() * 4); // explicit 4C is fine
        Path p = Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\"}");
        IOException e = assertThrows(IOException.class, () -> GptConfig.read(p));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("model_type"), e.getMessage());
    }

    private static void assertRefused(String json, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GptConfig.fromJson(json));
        assertTrue(e.getMessage().contains(fragment), "'" + fragment + "' in: " + e.getMessage());
    }
}
