package dev.align4j.model;

import static dev.align4j.model.SafeTensorsTestFiles.assertFails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A tiny GPT-2 (2 layers, C = 8, 2 heads, context 16, vocabulary 11) in Hugging Face's checkpoint layout. */
class HfGpt2LayoutTest {
    static final GptConfig TINY = new GptConfig(2, 2, 8, 16, 11);

    @TempDir
    Path dir;

    static Map<String, float[]> randomParams(GptConfig c, Random rnd) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (HfGpt2Layout.Param p : HfGpt2Layout.params(c)) {
            float[] a = new float[p.numel()];
            for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            m.put(p.name(), a);
        }
        return m;
    }

    @Test
    void layoutNamesAndShapes() {
        List<HfGpt2Layout.Param> ps = HfGpt2Layout.params(TINY);
        assertEquals(2 + 12 * 2 + 2, ps.size());
        Map<String, String> shapes = new LinkedHashMap<>();
        for (HfGpt2Layout.Param p : ps) shapes.put(p.name(), java.util.Arrays.toString(p.shape()));
        assertEquals("[11, 8]", shapes.get("wte.weight"));
        assertEquals("[16, 8]", shapes.get("wpe.weight"));
        assertEquals("[8]", shapes.get("h.1.ln_1.weight"));
        assertEquals("[8, 24]", shapes.get("h.1.attn.c_attn.weight"));
        assertEquals("[24]", shapes.get("h.1.attn.c_attn.bias"));
        assertEquals("[8, 8]", shapes.get("h.0.attn.c_proj.weight"));
        assertEquals("[8, 32]", shapes.get("h.0.mlp.c_fc.weight"));
        assertEquals("[32]", shapes.get("h.0.mlp.c_fc.bias"));
        assertEquals("[32, 8]", shapes.get("h.0.mlp.c_proj.weight"));
        assertEquals("[8]", shapes.get("h.0.mlp.c_proj.bias"));
        assertEquals("[8]", shapes.get("ln_f.bias"));
        assertEquals(List.of("wte.weight", "wpe.weight", "h.0.ln_1.weight"), shapes.keySet().stream().limit(3).toList());
        assertEquals(124_439_808L, HfGpt2Layout.numParameters(GptConfig.gpt2()), "GPT-2 small's published count");
    }

    @Test
    void saveLoadRoundTrip() throws IOException {
        long seed = System.nanoTime();
        Map<String, float[]> params = randomParams(TINY, new Random(seed));
        Path out = dir.resolve("ckpt/step-1"); // created
        HfGpt2Layout.save(out, TINY, params, Map.of("step", "1"));
        HfGpt2Checkpoint ck = HfGpt2Layout.load(out);
        assertEquals(TINY, ck.config());
        assertEquals(List.copyOf(params.keySet()), List.copyOf(ck.params().keySet()));
        for (String k : params.keySet()) assertArrayEquals(params.get(k), ck.param(k), k + " seed " + seed);
        assertEquals(Map.of(), ck.extras());
        try (SafeTensorsFile f = SafeTensorsFile.open(out.resolve(HfGpt2Layout.WEIGHTS_FILE))) {
            assertEquals("pt", f.metadata().get("format"), "transformers requires format=pt");
            assertEquals("1", f.metadata().get("step"));
            for (HfGpt2Layout.Param p : HfGpt2Layout.params(TINY)) f.require(p.name(), SafeTensorsDType.F32, p.longShape());
            assertEquals(params.size(), f.names().size(), "no prefix, nothing else");
        }
        try (var s = Files.list(out)) {
            assertEquals(List.of("config.json", "model.safetensors"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    /** A file as GPT2LMHeadModel's state dict writes it: "transformer." prefix, mask buffers, tied lm_head. */
    @Test
    void toleratesPrefixBuffersAndTiedHead() throws IOException {
        Random rnd = new Random(System.nanoTime());
        Map<String, float[]> params = randomParams(TINY, rnd);
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        for (HfGpt2Layout.Param p : HfGpt2Layout.params(TINY))
            w.putFloats(HfGpt2Layout.PREFIX + p.name(), params.get(p.name()), p.longShape());
        for (int i = 0; i < TINY.nLayer(); i++) {
            w.putFloats("transformer.h." + i + ".attn.bias", new float[16 * 16], 1, 1, 16, 16);
            w.putFloats("transformer.h." + i + ".attn.masked_bias", new float[] {-1e4f});
        }
        w.putFloats("lm_head.weight", params.get("wte.weight"), 11, 8);
        w.putFloats("v_head.weight", new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 8);
        writeDir(w, TINY);
        HfGpt2Checkpoint ck = HfGpt2Layout.load(dir);
        for (String k : params.keySet()) assertArrayEquals(params.get(k), ck.param(k), k);
        assertEquals(List.of("v_head.weight"), List.copyOf(ck.extras().keySet()));
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, ck.extras().get("v_head.weight"));
    }

    @Test
    void untiedHeadIsRefused() throws IOException {
        Map<String, float[]> params = randomParams(TINY, new Random(System.nanoTime()));
        SafeTensorsWriter w = layoutWriter(params, null);
        float[] head = params.get("wte.weight").clone();
        head[5] += 1;
        w.putFloats("lm_head.weight", head, 11, 8);
        writeDir(w, TINY);
        assertFails(() -> HfGpt2Layout.load(dir), "tensor 'lm_head.weight'", "differs from wte.weight");
    }

    @Test
    void missingOrMisshapedTensorIsNamed() throws IOException {
        Map<String, float[]> params = randomParams(TINY, new Random(System.nanoTime()));
        writeDir(layoutWriter(params, "h.1.mlp.c_fc.bias"), TINY);
        assertFails(() -> HfGpt2Layout.load(dir), "model.safetensors", "missing tensor 'h.1.mlp.c_fc.bias'", "[32]");

        // nn.Linear layout [out, in] instead of Conv1D [in, out]
        SafeTensorsWriter w = layoutWriter(params, "h.0.mlp.c_fc.weight");
        w.putFloats("h.0.mlp.c_fc.weight", params.get("h.0.mlp.c_fc.weight"), 32, 8);
        writeDir(w, TINY);
        assertFails(() -> HfGpt2Layout.load(dir), "tensor 'h.0.mlp.c_fc.weight'", "expected shape [8, 32], got [32, 8]");

        // a config that does not match the weights (vocabulary 12)
        writeDir(layoutWriter(params, null), new GptConfig(2, 2, 8, 16, 12));
        assertFails(() -> HfGpt2Layout.load(dir), "tensor 'wte.weight'", "expected shape [12, 8], got [11, 8]");

        // wrong dtype
        SafeTensorsWriter wi = layoutWriter(params, "ln_f.bias");
        wi.putInts("ln_f.bias", new int[8], 8);
        writeDir(wi, TINY);
        assertFails(() -> HfGpt2Layout.load(dir), "tensor 'ln_f.bias'", "floating dtype", "I32");

        // the same parameter twice, with and without prefix
        SafeTensorsWriter wd = layoutWriter(params, null);
        wd.putFloats("transformer.ln_f.bias", params.get("ln_f.bias"), 8);
        writeDir(wd, TINY);
        assertFails(() -> HfGpt2Layout.load(dir), "ln_f.bias", "same parameter");

        // an unknown non-float tensor
        SafeTensorsWriter wu = layoutWriter(params, null);
        wu.putLongs("position_ids", new long[16], 1, 16);
        writeDir(wu, TINY);
        assertFails(() -> HfGpt2Layout.load(dir), "unexpected tensor 'position_ids'", "I64");
    }

    /** A NaN or infinite weight anywhere (a layout tensor, the tied head, an extra) is refused, naming file and tensor. */
    @Test
    void nonFiniteWeightsAreRefused() throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        List<HfGpt2Layout.Param> ps = HfGpt2Layout.params(TINY);
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            Map<String, float[]> params = randomParams(TINY, rnd);
            HfGpt2Layout.Param p = ps.get(rnd.nextInt(ps.size()));
            int at = rnd.nextInt(p.numel());
            params.get(p.name())[at] = bad;
            // the writer refuses to save it (HfCheckpointWriter), so the file is written directly for the loader
            Path refused = dir.resolveSibling("refused");
            IllegalArgumentException se = assertThrows(IllegalArgumentException.class,
                    () -> HfGpt2Layout.save(refused, TINY, params));
            assertTrue(se.getMessage().contains("'" + p.name() + "'"), se.getMessage());
            writeDir(layoutWriter(params, null), TINY);
            String tag = p.name() + "[" + at + "] = " + bad + ", seed " + seed;
            SafeTensorsException e = assertFails(() -> HfGpt2Layout.load(dir), dir.resolve(HfGpt2Layout.WEIGHTS_FILE).toString(),
                    "tensor '" + p.name() + "'", "element " + at + " is " + bad);
            assertEquals(1, e.getMessage().lines().count(), tag);
            assertFails(() -> Gpt.load(dir, dev.align4j.tensor.Device.cpu()), "tensor '" + p.name() + "'", bad + "");
        }
        Map<String, float[]> params = randomParams(TINY, rnd);
        SafeTensorsWriter w = layoutWriter(params, null);
        w.putFloats("v_head.weight", new float[] {1, 2, Float.NaN, 4, 5, 6, 7, 8}, 1, 8);
        writeDir(w, TINY);
        assertFails(() -> HfGpt2Layout.load(dir), "tensor 'v_head.weight'", "element 2 is NaN");
        // a scalar head (the reward model's score layer) likewise
        Path head = dir.resolve("score.safetensors");
        new SafeTensorsWriter().putFloats("score.weight", new float[] {1, Float.POSITIVE_INFINITY, 3}, 1, 3)
                .putFloats("score.bias", new float[] {0}, 1).write(head);
        assertFails(() -> ScalarHead.load(head, 3, dev.align4j.tensor.Device.cpu()), head.toString(), "tensor 'score.weight'",
                "element 1 is Infinity");
        new SafeTensorsWriter().putFloats("score.weight", new float[] {1, 2, 3}, 1, 3)
                .putFloats("score.bias", new float[] {Float.NaN}, 1).write(head);
        assertFails(() -> ScalarHead.load(head, 3, dev.align4j.tensor.Device.cpu()), "tensor 'score.bias'", "element 0 is NaN");
    }

    /** A BF16 checkpoint (e.g. saved with torch_dtype=bfloat16) loads, widened exactly. */
    @Test
    void halfPrecisionCheckpointLoads() throws IOException {
        List<HfGpt2Layout.Param> ps = HfGpt2Layout.params(TINY);
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        List<byte[]> parts = new ArrayList<>();
        Random rnd = new Random(System.nanoTime());
        Map<String, float[]> want = new LinkedHashMap<>();
        long off = 0;
        for (HfGpt2Layout.Param p : ps) {
            int[] bits = rnd.ints(p.numel(), 0, 0x10000).map(b -> b & 0xbfff).toArray(); // no inf/NaN (exponent < max)
            float[] f = new float[bits.length];
            for (int i = 0; i < bits.length; i++) f[i] = SafeTensorsDType.bfloat16ToFloat(bits[i]);
            want.put(p.name(), f);
            header.append(",\"").append(p.name()).append("\":{\"dtype\":\"BF16\",\"shape\":")
                    .append(java.util.Arrays.toString(p.shape()).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(off).append(',').append(off + 2L * bits.length).append("]}");
            off += 2L * bits.length;
            parts.add(SafeTensorsTestFiles.u16(bits));
        }
        header.append('}');
        SafeTensorsTestFiles.write(dir, HfGpt2Layout.WEIGHTS_FILE,
                SafeTensorsTestFiles.file(header.toString(), SafeTensorsTestFiles.concat(parts.toArray(new byte[0][]))));
        TINY.write(dir.resolve(HfGpt2Layout.CONFIG_FILE));
        HfGpt2Checkpoint ck = HfGpt2Layout.load(dir);
        for (String k : want.keySet()) assertArrayEquals(want.get(k), ck.param(k), k);
    }

    @Test
    void conv1dLinearTransposes() {
        Map<String, float[]> hf = randomParams(TINY, new Random(System.nanoTime()));
        Map<String, float[]> lin = HfGpt2Layout.conv1dToLinear(TINY, hf);
        // Conv1D y = x W (W [in, out]) equals Linear y = x W^T (W [out, in]) element by element
        float[] conv = hf.get("h.0.mlp.c_fc.weight"), linear = lin.get("h.0.mlp.c_fc.weight");
        for (int in = 0; in < 8; in++)
            for (int o = 0; o < 32; o++) assertEquals(conv[in * 32 + o], linear[o * 8 + in]);
        assertSame(hf.get("wte.weight"), lin.get("wte.weight"), "non-Conv1D tensors are shared");
        assertNotSame(conv, linear);
        Map<String, float[]> back = HfGpt2Layout.linearToConv1d(TINY, lin);
        for (String k : hf.keySet()) assertArrayEquals(hf.get(k), back.get(k), k);
        // odd, non-square, larger than one 32x32 tile
        float[] a = new float[37 * 70];
        for (int i = 0; i < a.length; i++) a[i] = i;
        float[] t = HfGpt2Layout.transpose(a, 37, 70);
        for (int r = 0; r < 37; r++)
            for (int c = 0; c < 70; c++) assertEquals(a[r * 70 + c], t[c * 37 + r]);
        assertArrayEquals(a, HfGpt2Layout.transpose(t, 70, 37));
    }

    @Test
    void saveValidatesParams() {
        Map<String, float[]> params = randomParams(TINY, new Random(1));
        params.remove("h.0.ln_2.bias");
        assertMessage(() -> HfGpt2Layout.save(dir, TINY, params), "missing 'h.0.ln_2.bias'");
        params.put("h.0.ln_2.bias", new float[7]);
        assertMessage(() -> HfGpt2Layout.save(dir, TINY, params), "'h.0.ln_2.bias' has 7 elements");
        params.put("h.0.ln_2.bias", new float[8]);
        params.put("lm_head.weight", new float[88]);
        assertMessage(() -> HfGpt2Layout.save(dir, TINY, params), "unexpected 'lm_head.weight'");
        assertTrue(!Files.exists(dir.resolve(HfGpt2Layout.WEIGHTS_FILE)), "nothing written");
    }

    @Test
    void loadNamesMissingFiles() throws IOException {
        IOException e = assertThrows(IOException.class, () -> HfGpt2Layout.load(dir));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        TINY.write(dir.resolve(HfGpt2Layout.CONFIG_FILE));
        Files.writeString(dir.resolve("pytorch_model.bin"), "x");
        e = assertThrows(IOException.class, () -> HfGpt2Layout.load(dir));
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("pytorch_model.bin"), e.getMessage());
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable body, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, body);
        assertTrue(e.getMessage().contains(fragment), "'" + fragment + "' in: " + e.getMessage());
    }

    /** A writer holding every layout tensor except {@code skip}. */
    private static SafeTensorsWriter layoutWriter(Map<String, float[]> params, String skip) {
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        for (HfGpt2Layout.Param p : HfGpt2Layout.params(TINY))
            if (!p.name().equals(skip)) w.putFloats(p.name(), params.get(p.name()), p.longShape());
        return w;
    }

    private void writeDir(SafeTensorsWriter w, GptConfig c) throws IOException {
        w.write(dir.resolve(HfGpt2Layout.WEIGHTS_FILE));
        c.write(dir.resolve(HfGpt2Layout.CONFIG_FILE));
    }
}
