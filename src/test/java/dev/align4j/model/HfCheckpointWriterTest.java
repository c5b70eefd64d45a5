package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.kernels.Rope;
import dev.align4j.testing.Rand;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hugging Face folders written by {@link HfCheckpointWriter}: read back bit for bit (F32) or as the rounded values
 * (BF16, F16), single-file and sharded, with the index and config transformers expects; refusals name the tensor
 * and write nothing; a save replaces the folder as a whole. With Debian's torch present, an independent Python
 * parser checks the files and torch's own rounding of the same values.
 */
class HfCheckpointWriterTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String CONFIG = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 8, "
            + "\"bos_token_id\": 1, \"eos_token_id\": 2, \"torch_dtype\": \"float32\"}";

    @TempDir
    Path tmp;

    /** A model's worth of odd shapes, in a fixed order, never zeros; a scalar and an empty tensor among them. */
    static Map<String, HfCheckpointWriter.Weight> weights(long seed) {
        Random r = new Random(seed);
        Map<String, HfCheckpointWriter.Weight> w = new LinkedHashMap<>();
        long[][] shapes = {{37, 8}, {8}, {3, 8, 5}, {129}, {}, {0, 4}, {8, 40}, {1, 1}, {300}};
        int i = 0;
        for (long[] s : shapes) {
            int n = 1;
            for (long d : s) n *= (int) d;
            float[] a = Rand.normal(r, n, 0.05);
            if (n > 3) { // a few values across the dynamic range, including subnormals of both halves
                a[0] = 1234.5678f;
                a[1] = -3.0e-6f;
                a[2] = 1e-40f;
            }
            w.put("model.layers." + i++ + ".w", new HfCheckpointWriter.Weight(s, a));
        }
        return w;
    }

    static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    static float expected(float x, SafeTensorsDType dtype) {
        return switch (dtype) {
            case BF16 -> SafeTensorsDType.bfloat16ToFloat(SafeTensorsDType.floatToBfloat16(x));
            case F16 -> SafeTensorsDType.halfToFloat(SafeTensorsDType.floatToHalf(x));
            default -> x;
        };
    }

    /** Every tensor reads back from the folder with its shape and dtype, equal bit for bit to the rounded input. */
    static void assertReadsBack(Path dir, Map<String, HfCheckpointWriter.Weight> w, SafeTensorsDType dtype) throws IOException {
        try (SafeTensorsCheckpoint c = SafeTensorsCheckpoint.open(dir)) {
            assertEquals(new ArrayList<>(w.keySet()).stream().sorted().collect(Collectors.toList()),
                    c.names().stream().sorted().collect(Collectors.toList()));
            for (Map.Entry<String, HfCheckpointWriter.Weight> e : w.entrySet()) {
                SafeTensorsFile.TensorInfo info = c.info(e.getKey());
                assertEquals(dtype, info.dtype(), e.getKey());
                assertArrayEquals(e.getValue().shape(), info.shape(), e.getKey());
                float[] got = c.floats(e.getKey(), e.getValue().shape());
                float[] in = e.getValue().data();
                for (int i = 0; i < in.length; i++)
                    assertEquals(Float.floatToRawIntBits(expected(in[i], dtype)), Float.floatToRawIntBits(got[i]),
                            e.getKey() + "[" + i + "] of " + in[i]);
            }
            for (SafeTensorsFile f : c.files()) assertEquals(Map.of("format", "pt"), f.metadata(), f.path().toString());
        }
        JsonNode config = JSON.readTree(Files.readString(dir.resolve("config.json")));
        assertEquals(HfCheckpointWriter.torchDtype(dtype), config.get("torch_dtype").textValue());
    }

    @Test
    void singleFileF32IsBitIdentical() throws IOException {
        Map<String, HfCheckpointWriter.Weight> w = weights(1);
        Path out = tmp.resolve("out");
        HfCheckpointWriter.Saved s = HfCheckpointWriter.save(out, CONFIG, w, SafeTensorsDType.F32);
        assertFalse(s.sharded());
        assertEquals(List.of("config.json", "model.safetensors"), listing(out));
        assertEquals(List.of("out"), listing(tmp)); // no temporary sibling left behind
        assertReadsBack(out, w, SafeTensorsDType.F32);
        JsonNode config = JSON.readTree(Files.readString(out.resolve("config.json")));
        assertEquals(1, config.get("bos_token_id").intValue()); // the caller's keys are kept
        assertEquals("LlamaForCausalLM", config.get("architectures").get(0).textValue());
        long bytes = 0;
        for (HfCheckpointWriter.Weight x : w.values()) bytes += 4L * x.data().length;
        assertEquals(bytes, s.totalSize());
    }

    @Test
    void bf16AndF16ReadBackAsTheRoundedValues() throws IOException {
        for (SafeTensorsDType dtype : new SafeTensorsDType[] {SafeTensorsDType.BF16, SafeTensorsDType.F16}) {
            Map<String, HfCheckpointWriter.Weight> w = weights(2);
            Path out = tmp.resolve(dtype.name());
            HfCheckpointWriter.save(out, CONFIG, w, dtype);
            assertReadsBack(out, w, dtype);
            // the rounding is not the identity on these values: the test would pass with F32 data otherwise
            float[] a = w.get("model.layers.0.w").data();
            try (SafeTensorsCheckpoint c = SafeTensorsCheckpoint.open(out)) {
                float[] got = c.floats("model.layers.0.w", 37, 8);
                int differ = 0;
                for (int i = 0; i < a.length; i++) if (got[i] != a[i]) differ++;
                assertTrue(differ > a.length / 2, dtype + ": " + differ + " of " + a.length + " changed by rounding");
            }
        }
    }

    /** A tiny shard size forces save_pretrained's layout: numbered shards, an index with total_size and a sorted map. */
    @Test
    void shardsAndIndex() throws IOException {
        Map<String, HfCheckpointWriter.Weight> w = weights(3);
        Path out = tmp.resolve("sharded");
        // BF16: 37*8*2 = 592 bytes, 16, 240, 258, 2, 0, 640, 2, 600
        HfCheckpointWriter.Saved s = new HfCheckpointWriter(CONFIG).dtype(SafeTensorsDType.BF16).maxShardBytes(600)
                .tensors(w).write(out);
        assertTrue(s.sharded());
        // greedy in order: [592] [16 240 258 2 0] [640 alone: larger than the limit] [2 600]? 2 + 600 > 600 -> [2] [600]
        List<String> shardFiles = List.of("model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors",
                "model-00003-of-00005.safetensors", "model-00004-of-00005.safetensors", "model-00005-of-00005.safetensors");
        assertEquals(shardFiles, s.weightFiles());
        List<String> expectFiles = new ArrayList<>(shardFiles);
        expectFiles.add("config.json");
        expectFiles.add("model.safetensors.index.json");
        assertEquals(expectFiles.stream().sorted().collect(Collectors.toList()), listing(out));
        JsonNode index = JSON.readTree(Files.readString(out.resolve("model.safetensors.index.json")));
        long total = 0;
        for (HfCheckpointWriter.Weight x : w.values()) total += 2L * x.data().length;
        assertEquals(total, index.get("metadata").get("total_size").longValue());
        assertEquals(total, s.totalSize());
        List<String> keys = new ArrayList<>();
        for (Iterator<String> it = index.get("weight_map").fieldNames(); it.hasNext(); ) keys.add(it.next());
        assertEquals(keys.stream().sorted().collect(Collectors.toList()), keys);
        JsonNode map = index.get("weight_map");
        String[] expectShard = {"1", "2", "2", "2", "2", "2", "3", "4", "5"};
        for (int i = 0; i < 9; i++)
            assertEquals("model-0000" + expectShard[i] + "-of-00005.safetensors", map.get("model.layers." + i + ".w").textValue(),
                    "layer " + i);
        assertReadsBack(out, w, SafeTensorsDType.BF16);
        // one byte over the whole model's size: a single file again
        HfCheckpointWriter.Saved one = new HfCheckpointWriter(CONFIG).dtype(SafeTensorsDType.BF16).maxShardBytes(total)
                .tensors(w).write(out);
        assertFalse(one.sharded());
        assertEquals(List.of("config.json", "model.safetensors"), listing(out)); // the old shards and index are gone
        assertReadsBack(out, w, SafeTensorsDType.BF16);
    }

    @Test
    void nonFiniteAndOverflowingWeightsAreRefusedNamingTheElement() throws IOException {
        Path out = tmp.resolve("refused");
        float[] a = Rand.normal(new Random(4), 12, 1);
        a[7] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new HfCheckpointWriter(CONFIG)
                .tensor("ok", new float[] {1, 2}, 2).tensor("lm_head.weight", a, 3, 4).write(out));
        assertEquals("tensor 'lm_head.weight' element 7 [1, 3] = NaN is not finite; refusing to save it", e.getMessage());
        a[7] = Float.NEGATIVE_INFINITY;
        e = assertThrows(IllegalArgumentException.class, () -> new HfCheckpointWriter(CONFIG).tensor("w", a, 12).write(out));
        assertTrue(e.getMessage().contains("tensor 'w' element 7 [7] = -Infinity is not finite"), e.getMessage());
        a[7] = 70000f;
        e = assertThrows(IllegalArgumentException.class, () -> new HfCheckpointWriter(CONFIG).dtype(SafeTensorsDType.F16)
                .tensor("w", a, 2, 6).write(out));
        assertTrue(e.getMessage().contains("tensor 'w' element 7 [1, 1] = 70000.0 overflows F16 (largest finite 65504"), e.getMessage());
        a[7] = 65519f; // rounds to 65504: fine
        new HfCheckpointWriter(CONFIG).dtype(SafeTensorsDType.F16).tensor("w", a, 2, 6).write(tmp.resolve("f16ok"));
        a[7] = Float.MAX_VALUE;
        e = assertThrows(IllegalArgumentException.class, () -> new HfCheckpointWriter(CONFIG).dtype(SafeTensorsDType.BF16)
                .tensor("w", a, 12).write(out));
        assertTrue(e.getMessage().contains("overflows BF16"), e.getMessage());
        new HfCheckpointWriter(CONFIG).tensor("w", a, 12).write(tmp.resolve("f32ok")); // F32 holds it
        assertFalse(Files.exists(out));
        assertEquals(List.of("f16ok", "f32ok"), listing(tmp));
    }

    @Test
    void badArgumentsAreNamed() {
        assertFails(() -> new HfCheckpointWriter("{\"hidden_size\": 8}"), "needs a string \"model_type\"");
        assertFails(() -> new HfCheckpointWriter("{\"model_type\": \n"), "not valid JSON at 2:");
        assertFails(() -> new HfCheckpointWriter("[1]"), "must be a JSON object");
        HfCheckpointWriter w = new HfCheckpointWriter(CONFIG);
        assertFails(() -> w.dtype(SafeTensorsDType.I32), "F32, BF16 or F16, not I32");
        assertFails(() -> w.maxShardBytes(0), "maxShardBytes must be >= 1");
        assertFails(() -> w.tensor("a", new float[6], 4, 2), "tensor 'a': shape [4, 2] does not match the array's 6 elements");
        assertFails(() -> w.tensor("a", new float[6], 2, -3), "negative dimension");
        assertFails(() -> w.tensor("__metadata__", new float[1], 1), "reserved");
        w.tensor("a", new float[] {1}, 1);
        assertFails(() -> w.tensor("a", new float[] {1}, 1), "tensor 'a' added twice");
        assertFails(() -> w.file("model-00001-of-00002.safetensors", new byte[0]), "written by the checkpoint writer itself");
        assertFails(() -> w.file("config.json", new byte[0]), "written by the checkpoint writer itself");
        assertFails(() -> w.file("../tokenizer.json", new byte[0]), "not a plain file name");
        assertFails(() -> w.metadata("format", "np"), "always \"pt\"");
        assertFails(() -> new HfCheckpointWriter(CONFIG).write(tmp.resolve("x")), "no tensors to save");
    }

    static void assertFails(org.junit.jupiter.api.function.Executable call, String part) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should contain '" + part + "'");
    }

    /** A folder with files this save would not write is left alone; files added with file() are written and replaced. */
    @Test
    void replacesOnlyWhatItOwns() throws IOException {
        Path out = tmp.resolve("model");
        new HfCheckpointWriter(CONFIG).tensor("a", new float[] {1, 2}, 2)
                .file("tokenizer.json", "{\"v\": 1}".getBytes(StandardCharsets.UTF_8)).write(out);
        assertEquals("{\"v\": 1}", Files.readString(out.resolve("tokenizer.json")));
        // saving without the tokenizer would delete it: refused, nothing changes
        IOException e = assertThrows(IOException.class, () -> new HfCheckpointWriter(CONFIG).tensor("a", new float[] {3, 4}, 2).write(out));
        assertTrue(e.getMessage().contains("holds tokenizer.json, which this save would not write back"), e.getMessage());
        assertReadsBack(out, Map.of("a", new HfCheckpointWriter.Weight(new long[] {2}, new float[] {1, 2})), SafeTensorsDType.F32);
        new HfCheckpointWriter(CONFIG).tensor("a", new float[] {3, 4}, 2)
                .file("tokenizer.json", "{\"v\": 2}".getBytes(StandardCharsets.UTF_8)).write(out);
        assertEquals("{\"v\": 2}", Files.readString(out.resolve("tokenizer.json")));
        assertReadsBack(out, Map.of("a", new HfCheckpointWriter.Weight(new long[] {2}, new float[] {3, 4})), SafeTensorsDType.F32);
        assertEquals(List.of("model"), listing(tmp));
        Files.writeString(tmp.resolve("file"), "x");
        e = assertThrows(IOException.class, () -> new HfCheckpointWriter(CONFIG).tensor("a", new float[] {3, 4}, 2).write(tmp.resolve("file")));
        assertTrue(e.getMessage().contains("exists and is not a directory"), e.getMessage());
    }

    /** The config keeps every key of the caller's, with torch_dtype (and the newer dtype key, where present) set. */
    @Test
    void configDtypeKeys() throws IOException {
        String cfg = "{\"model_type\": \"qwen3\", \"dtype\": \"float32\", \"rope_scaling\": null, \"layer_types\": [\"full\"]}";
        Path out = tmp.resolve("m");
        new HfCheckpointWriter(cfg).dtype(SafeTensorsDType.F16).tensor("a", new float[] {1}, 1).write(out);
        String text = Files.readString(out.resolve("config.json"));
        JsonNode c = JSON.readTree(text);
        assertEquals("float16", c.get("torch_dtype").textValue());
        assertEquals("float16", c.get("dtype").textValue());
        assertTrue(c.get("rope_scaling").isNull());
        assertEquals("full", c.get("layer_types").get(0).textValue());
        assertTrue(text.startsWith("{\n  \"model_type\": \"qwen3\",\n"), text);
        assertTrue(text.endsWith("}\n"));
    }

    /** LlamaConfig.toJson goes through the writer and reads back as the same record, for each family. */
    @Test
    void llamaConfigRoundTrips() throws IOException {
        List<LlamaConfig> configs = List.of(
                new LlamaConfig("llama", 512, 64, 172, 5, 8, 4, 8, 1e-5, 10000.0, null, true, false, false, 512),
                new LlamaConfig("llama", 128256, 2048, 8192, 16, 32, 8, 64, 1e-5, 500000.0, Rope.Llama3Scaling.LLAMA_3_2, true,
                        false, false, 131072),
                new LlamaConfig("mistral", 32000, 4096, 14336, 32, 32, 8, 128, 1e-5, 1e6, null, false, false, false, 32768),
                new LlamaConfig("qwen2", 151936, 896, 4864, 24, 14, 2, 64, 1e-6, 1e6, null, true, true, false, 32768),
                new LlamaConfig("qwen3", 151936, 1024, 3072, 28, 16, 8, 128, 1e-6, 1e6, null, true, false, true, 40960));
        int i = 0;
        for (LlamaConfig c : configs) {
            Path out = tmp.resolve("c" + i++);
            new HfCheckpointWriter(c.toJson(java.util.Map.of())).dtype(SafeTensorsDType.BF16).tensor("a", new float[] {1}, 1).write(out);
            assertEquals(c, LlamaConfig.read(out.resolve("config.json")));
        }
    }

    // ------------------------------------------------------------------ an independent check with Debian's torch

    static final Path PYTHON = Path.of("/usr/bin/python3");

    static boolean hasTorch() {
        if (!Files.isExecutable(PYTHON)) return false;
        try {
            Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import torch").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /**
     * tools/check_hf_checkpoint.py parses each folder from the format's definition (not with align4j's reader),
     * checks config, index and shards as transformers would find them, and compares every tensor with torch's own
     * rounding of the F32 values before saving ({@code ref.to(torch.bfloat16)}), bit for bit.
     */
    @Test
    void torchReadsWhatWasWritten() throws Exception {
        Assumptions.assumeTrue(hasTorch(), "/usr/bin/python3 with torch is absent");
        Map<String, HfCheckpointWriter.Weight> w = weights(5);
        Random r = new Random(6);
        float[] big = Rand.normal(r, 64 * 96, 0.02);
        for (int i = 0; i < 200; i++) big[r.nextInt(big.length)] = (float) (r.nextGaussian() * 300); // outliers
        w.put("model.embed_tokens.weight", new HfCheckpointWriter.Weight(new long[] {64, 96}, big));
        SafeTensorsWriter ref = new SafeTensorsWriter();
        for (Map.Entry<String, HfCheckpointWriter.Weight> e : w.entrySet())
            ref.putFloats(e.getKey(), e.getValue().data(), e.getValue().shape());
        Path refFile = tmp.resolve("reference.safetensors");
        ref.write(refFile);
        List<String> dirs = new ArrayList<>();
        for (SafeTensorsDType dtype : new SafeTensorsDType[] {SafeTensorsDType.F32, SafeTensorsDType.BF16, SafeTensorsDType.F16}) {
            for (long shard : new long[] {HfCheckpointWriter.DEFAULT_MAX_SHARD_BYTES, 700}) {
                Path out = tmp.resolve(dtype + "-" + shard);
                new HfCheckpointWriter(CONFIG).dtype(dtype).maxShardBytes(shard).tensors(w).write(out);
                dirs.add(out.toString());
            }
        }
        String output = python(dirs, refFile);
        assertTrue(output.startsWith("0\n"), output);
        assertEquals(6, output.lines().filter(l -> l.equals("OK")).count(), output);
        assertEquals(3, output.lines().filter(l -> l.startsWith("index: ")).count(), output);
        // the check can fail: one reference value moved by one bfloat16 step no longer matches the saved one
        Path stale = tmp.resolve("stale");
        new HfCheckpointWriter(CONFIG).dtype(SafeTensorsDType.BF16).tensor("model.embed_tokens.weight", big, 64, 96).write(stale);
        float[] moved = big.clone();
        moved[4321] = SafeTensorsDType.bfloat16ToFloat(SafeTensorsDType.floatToBfloat16(big[4321]) + 1);
        new SafeTensorsWriter().putFloats("model.embed_tokens.weight", moved, 64, 96).write(refFile);
        output = python(List.of(stale.toString()), refFile);
        assertTrue(output.startsWith("1\n") && output.contains("model.embed_tokens.weight[45, 1]: saved"), output);
    }

    /** The exit code, a newline, then the output of tools/check_hf_checkpoint.py on {@code dirs}. */
    private static String python(List<String> dirs, Path reference) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(PYTHON.toString(), Path.of("tools/check_hf_checkpoint.py").toAbsolutePath().toString()));
        cmd.addAll(dirs);
        cmd.addAll(List.of("--reference", reference.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "check_hf_checkpoint.py timed out");
        return p.exitValue() + "\n" + output;
    }
}
