package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.reference.LlamaReference;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Llama}'s forward on the kernels against PyTorch's logits (the golden folders of tools/llama_golden.py:
 * Llama with GQA and an untied head, Qwen2 with q/k/v biases, Qwen3 with q/k norms and head_dim != hidden / heads)
 * and against llama2.c's greedy decoding of stories260K (skipped when ../shared/models/stories260K is absent), on
 * every backend; and the load errors (missing, mis-shaped, unexpected tensor).
 */
class LlamaTest {
    static final Path STORIES = Path.of("../shared/models/stories260K");

    @DeviceTest
    void matchesPyTorchGoldens(Device device) throws Exception {
        for (String name : new String[] {"llama", "qwen2", "qwen3"}) {
            Path dir = golden(name);
            try (Llama m = Llama.load(dir, device); Scope s = new Scope();
                 SafeTensorsFile g = SafeTensorsFile.open(dir.resolve("golden.safetensors"))) {
                long[] shape = g.info("tokens").shape();
                int b = (int) shape[0], t = (int) shape[1], v = m.config().vocabSize();
                float[] want = g.floats("logits", b, t, v);
                Tensor logits = m.logits(s, g.ints("tokens"), b, t);
                assertArrayEquals(new long[] {b, t, v}, logits.shape(), name + " logits shape");
                Close.assertClose(name + " logits on " + device, GptGoldenTest.toDouble(want), logits.toFloatArray(), 1e-4, 1e-4);
                // a single row, T = 1 and a prefix: the same logits as the full batch at those positions
                int[] tokens = g.ints("tokens");
                Tensor one = m.logits(s, Arrays.copyOfRange(tokens, t, t + 3), 1, 3);
                Close.assertClose(name + " row 1 prefix", GptGoldenTest.toDouble(Arrays.copyOfRange(want, t * v, (t + 3) * v)),
                        one.toFloatArray(), 1e-4, 1e-4);
            }
        }
    }

    @DeviceTest
    void reproducesLlama2cOnStories260K(Device device) throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(STORIES), "../shared/models/stories260K is absent");
        JsonNode ref = new ObjectMapper().readTree(STORIES.resolve("reference_greedy.json").toFile());
        int[] prompt = ints(ref.get("prompt"));
        int[] want = ints(ref.get("greedy_continuation"));
        // the emulated GPU is slow: its run checks the first 16 tokens (the CPU all 64)
        int n = device.isCuda() && Boolean.getBoolean("align4j.onlyCuda") ? Math.min(16, want.length) : want.length;
        int[] seq = Arrays.copyOf(prompt, prompt.length + n);
        int[] got = new int[n];
        double maxErr = 0;
        try (Llama m = Llama.load(STORIES, device)) {
            int v = m.config().vocabSize();
            for (int i = 0; i < n; i++) {
                int len = prompt.length + i;
                float[] last;
                try (Scope s = new Scope()) {
                    float[] all = m.logits(s, Arrays.copyOf(seq, len), 1, len).toFloatArray();
                    last = Arrays.copyOfRange(all, (len - 1) * v, len * v);
                }
                double[] logp = LlamaReference.logSoftmax(GptGoldenTest.toDouble(last));
                int best = 0;
                for (int j = 1; j < v; j++) if (logp[j] > logp[best]) best = j;
                got[i] = best;
                seq[len] = best;
                maxErr = Math.max(maxErr, Math.abs(logp[best] - ref.get("logprob_of_each").get(i).asDouble()));
            }
        }
        assertArrayEquals(Arrays.copyOf(want, n), got, "greedy continuation of BOS on " + device);
        assertEquals(0.0, maxErr, 1e-4, "max |log-prob - llama2.c's| over " + n + " tokens on " + device);
    }

    /**
     * The KV-cache decoder's logits equal a full forward's at every step, for prompts of different lengths (left
     * padding, RoPE at slot positions: see LlamaKvCache) on each golden model: the prefill's last-token logits, then
     * three steps. Rows 3 and 4 repeat the prompts of rows 1 and 0 (prefilled once, see KvDecoder) and continue
     * with tokens of their own. After the first step the decoder keeps rows 1, 2 and 4 only ({@link Decoder#retain}).
     */
    @DeviceTest
    void kvCacheMatchesTheFullForward(Device device) throws Exception {
        for (String name : new String[] {"llama", "qwen2", "qwen3"}) {
            try (Llama m = Llama.load(golden(name), device)) {
                KvCacheTest.poisonDecoderMemory(m, 5, 9); // the decoder below re-uses this memory
                Decoder dec = m.decoder(5, 9);
                int v = m.config().vocabSize();
                int[][] seqs = {{1, 5, 9, 2, 7}, {3}, {4, 4, 8}, {3}, {1, 5, 9, 2, 7}};
                Tensor logits = dec.prefill(seqs);
                for (int step = 0; step < 4; step++) {
                    float[] got = logits.toFloatArray();
                    int[] next = new int[seqs.length];
                    for (int i = 0; i < seqs.length; i++) {
                        try (Scope s = new Scope()) {
                            int n = seqs[i].length;
                            float[] all = m.logits(s, seqs[i], 1, n).toFloatArray();
                            Close.assertClose(name + " sequence " + i + " step " + step + " on " + device,
                                    GptGoldenTest.toDouble(Arrays.copyOfRange(all, (n - 1) * v, n * v)),
                                    Arrays.copyOfRange(got, i * v, (i + 1) * v), 1e-5, 1e-4);
                        }
                        next[i] = (7 * step + 3 * i + 1) % v;
                        seqs[i] = Arrays.copyOf(seqs[i], seqs[i].length + 1);
                        seqs[i][seqs[i].length - 1] = next[i];
                    }
                    if (step == 1) {
                        dec.retain(new int[] {1, 2, 4});
                        seqs = new int[][] {seqs[1], seqs[2], seqs[4]};
                        next = new int[] {next[1], next[2], next[4]};
                    }
                    if (step < 3) logits = dec.step(next);
                }
                assertEquals(8, dec.length());
                assertEquals(3, dec.batch());
                dec.close();
            }
        }
    }

    @Test
    void loadErrorsNameTheTensor(@TempDir Path tmp) throws Exception {
        String w = "model.layers.1.self_attn.k_proj.weight";
        IOException e = assertThrows(IOException.class, () -> Llama.load(edited(tmp.resolve("missing"), m -> m.remove(w)),
                Device.cpu()));
        assertTrue(e.getMessage().contains(w) && e.getMessage().contains("missing"), e.getMessage());

        e = assertThrows(IOException.class, () -> Llama.load(edited(tmp.resolve("shape"),
                m -> m.put(w, new Shaped(new float[13 * 24], new long[] {13, 24}))), Device.cpu()));
        assertTrue(e.getMessage().contains(w) && e.getMessage().contains("[13, 24]"), e.getMessage());

        String extra = "model.layers.0.self_attn.o_proj.bias";
        e = assertThrows(IOException.class, () -> Llama.load(edited(tmp.resolve("extra"),
                m -> m.put(extra, new Shaped(new float[24], new long[] {24}))), Device.cpu()));
        assertTrue(e.getMessage().contains(extra) && e.getMessage().contains("unexpected"), e.getMessage());

        // rotary_emb.inv_freq buffers (older checkpoints) are accepted and ignored
        Path inv = edited(tmp.resolve("invfreq"), m -> m.put("model.layers.0.self_attn.rotary_emb.inv_freq",
                new Shaped(new float[3], new long[] {3})));
        try (Llama m = Llama.load(inv, Device.cpu())) {
            assertEquals(2, m.config().numLayers());
        }
    }

    @Test
    void badInputs() throws Exception {
        Llama m = Llama.load(golden("qwen2"), Device.cpu());
        try (m; Scope s = new Scope()) {
            assertThrows(IllegalArgumentException.class, () -> m.logits(s, new int[] {1, 37}, 1, 2));
            assertThrows(IllegalArgumentException.class, () -> m.logits(s, new int[] {1, -1}, 1, 2));
            assertThrows(IllegalArgumentException.class, () -> m.logits(s, new int[] {1, 2, 3}, 1, 2));
            assertThrows(IllegalArgumentException.class, () -> m.logits(s, new int[0], 0, 0));
            assertEquals(0, s.liveCount());
        }
        assertThrows(IllegalStateException.class, () -> m.logits(new Scope(), new int[] {1}, 1, 1));
    }

    private record Shaped(float[] data, long[] shape) {}

    /** A copy of the llama golden folder in {@code dir} with its tensors edited by {@code edit}. */
    private static Path edited(Path dir, Consumer<Map<String, Shaped>> edit) throws Exception {
        Path src = golden("llama");
        Files.createDirectories(dir);
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        Map<String, Shaped> tensors = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(src.resolve("model.safetensors"))) {
            for (String n : f.names()) tensors.put(n, new Shaped(f.floats(n), f.info(n).shape()));
        }
        edit.accept(tensors);
        SafeTensorsWriter wr = new SafeTensorsWriter();
        for (Map.Entry<String, Shaped> t : tensors.entrySet()) wr.putFloats(t.getKey(), t.getValue().data(), t.getValue().shape());
        wr.write(dir.resolve("model.safetensors"));
        return dir;
    }

    static Path golden(String name) throws Exception {
        return Path.of(LlamaTest.class.getResource("/llama_golden/" + name + "/config.json").toURI()).getParent();
    }


    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }
}
