package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.kernels.Rope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** config.json of the Llama family: the golden models, stories260K, Llama 3.2's rope_scaling, and refusals. */
class LlamaConfigTest {
    static Path golden(String name) throws Exception {
        return Path.of(LlamaConfigTest.class.getResource("/llama_golden/" + name + "/config.json").toURI());
    }

    @Test
    void familiesDifferWhereTheyShould() throws Exception {
        LlamaConfig llama = LlamaConfig.read(golden("llama"));
        assertEquals(6, llama.headDim());
        assertEquals(2, llama.groupSize());
        assertFalse(llama.tieWordEmbeddings() || llama.attentionBias() || llama.qkNorm());
        LlamaConfig qwen2 = LlamaConfig.read(golden("qwen2"));
        assertTrue(qwen2.attentionBias() && qwen2.tieWordEmbeddings() && !qwen2.qkNorm());
        assertEquals(1e6, qwen2.ropeTheta());
        LlamaConfig qwen3 = LlamaConfig.read(golden("qwen3"));
        assertEquals(8, qwen3.headDim());  // head_dim given, not hidden / heads = 6
        assertTrue(qwen3.qkNorm() && !qwen3.attentionBias());
        assertNull(qwen3.ropeScaling());
        assertEquals(4, qwen3.invFreq().length);
    }

    @Test
    void stories260K() throws IOException {
        Path p = Path.of("../shared/models/stories260K/config.json");
        Assumptions.assumeTrue(Files.exists(p), "../shared/models/stories260K is absent");
        LlamaConfig c = LlamaConfig.read(p);
        assertEquals(new LlamaConfig("llama", 512, 64, 172, 5, 8, 4, 8, 1e-5, 10000.0, null, true, false, false, 512), c);
    }

    @Test
    void llama3RopeScaling(@TempDir Path dir) throws IOException {
        Path p = write(dir, base().replace("\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"rope_scaling\": {"
                + "\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                + "\"original_max_position_embeddings\": 8192}"));
        LlamaConfig c = LlamaConfig.read(p);
        assertEquals(Rope.Llama3Scaling.LLAMA_3_2, c.ropeScaling());
        assertArrayEquals(Rope.invFreq(64, 500000.0, Rope.Llama3Scaling.LLAMA_3_2), c.invFreq());
    }

    @Test
    void refusalsNameTheFileAndKey(@TempDir Path dir) throws IOException {
        fails(dir, base().replace("\"model_type\": \"llama\"", "\"model_type\": \"gpt2\""), "model_type 'gpt2' is not a Llama-family model");
        fails(dir, base().replace("\"hidden_size\": 256,", ""), "missing key 'hidden_size'");
        fails(dir, base().replace("\"hidden_size\": 256", "\"hidden_size\": \"256\""), "hidden_size must be an integer, got \"256\"");
        fails(dir, base().replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"), "num_attention_heads = 4 is not a multiple of num_key_value_heads = 3");
        fails(dir, base().replace("\"silu\"", "\"gelu\""), "hidden_act 'gelu' is not silu");
        fails(dir, base().replace("\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}"),
                "rope_scaling type 'yarn' is not supported");
        fails(dir, base().replace("\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}"),
                "rope_scaling (llama3) lacks 'low_freq_factor'");
        fails(dir, base().replace("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 0"), "rms_norm_eps must be finite and > 0");
        fails(dir, base().replace("\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"head_dim\": 7"), "head_dim = 7 is odd");
        fails(dir, base().replace("\"rope_theta\": 500000.0", "\"rope_theta\": 500000.0, \"mlp_bias\": true"), "mlp_bias is true");
        fails(dir, "{\"model_type\": \"llama\",\n \"hidden_size\": }", "config.json:2:", "not valid JSON");
    }

    static String base() {
        return "{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 256, \"intermediate_size\": 512, "
                + "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
                + "\"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"hidden_act\": \"silu\"}";
    }

    static Path write(Path dir, String json) throws IOException {
        return Files.writeString(dir.resolve("config.json"), json);
    }

    static void fails(Path dir, String json, String... fragments) throws IOException {
        Path p = write(dir, json);
        IOException e = assertThrows(IOException.class, () -> LlamaConfig.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
    }
}
