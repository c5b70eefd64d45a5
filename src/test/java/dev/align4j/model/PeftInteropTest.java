package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.tensor.Device;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * align4j → PEFT: adapter folders that align4j writes ({@link PeftAdapter#save}) are read by
 * tools/check_peft_adapter.py, which follows PEFT's own loading rules (adapter_config.json's peft_type, r, lora_alpha,
 * use_rslora, target_modules and fan_in_fan_out; PEFT's key names, module paths and shapes), wraps the modules in
 * plain PyTorch and must reproduce the logits align4j computed. {@link LoraTest} checks the other direction (PEFT's
 * files read by align4j). Skipped without Debian's /usr/bin/python3 with torch.
 */
class PeftInteropTest {
    private static final Path SCRIPT = Path.of("tools/check_peft_adapter.py");

    @TempDir
    Path tmp;

    /** A written adapter (random A and B on every linear module), with the logits align4j computes with it. */
    private record Written(Path base, Path adapter, Path expected) {}

    private Written write(String family, LoraConfig config, long seed) throws Exception {
        Path base = LoraTest.golden(family), dir = tmp.resolve(family);
        Random rnd = new Random(seed);
        try (CausalLm m = CausalLm.load(base, Device.cpu())) {
            LoraAdapters lora = m.attachLora(config, seed);
            // B nonzero (a fresh adapter's B is zero, which would make the check vacuous), A and B of similar size
            float[] ab = new float[Math.toIntExact(lora.size())];
            for (int i = 0; i < ab.length; i++) ab[i] = (float) (0.2 * rnd.nextGaussian());
            lora.params().copyFrom(ab);
            m.save(dir.resolve("adapter"));

            int b = 3, t = Math.min(8, m.config().nCtx()), v = m.config().vocabSize();
            int[] tokens = new int[b * t];
            for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(v);
            m.forward(tokens, null, null, b, t);
            float[] logits = m.logits().toFloatArray();
            assertEquals((long) b * t * v, logits.length, family + ": logits [B, T, V]");
            Path expected = dir.resolve("expected.safetensors");
            new SafeTensorsWriter().metadata("format", "pt").putInts("tokens", tokens, b, t)
                    .putFloats("logits", logits, b, t, v).write(expected);
            // the check must see adapters that matter: the base alone computes other logits
            m.adaptersOff().forward(tokens, null, null, b, t);
            float[] off = m.logits().toFloatArray();
            double moved = 0;
            for (int i = 0; i < off.length; i++) moved = Math.max(moved, Math.abs(off[i] - logits[i]));
            assertTrue(moved > 0.1, family + ": the adapters move the logits by only " + moved);
        }
        return new Written(base, dir.resolve("adapter"), dir.resolve("expected.safetensors"));
    }

    /** GPT-2 (Conv1D, fan_in_fan_out, a fractional alpha) and Llama (GQA, rsLoRA), every linear module adapted. */
    @Test
    void peftReadsWhatAlign4jWrites() throws Exception {
        Assumptions.assumeTrue(HfCheckpointWriterTest.hasTorch(), "/usr/bin/python3 with torch is absent");
        List<String> all = List.of(LoraConfig.ALL_LINEAR);
        Written gpt2 = write("gpt2", new LoraConfig(2, 6.5, 0, false, all), 11);
        Written llama = write("llama", new LoraConfig(3, 5, 0, true, all), 12);
        for (Written w : List.of(gpt2, llama)) {
            Result r = check(w.base(), w.adapter(), w.expected());
            assertEquals(0, r.exit(), r.output());
            assertTrue(r.output().contains("OK: max abs error"), r.output());
            r.output().lines().filter(l -> l.contains("max abs error")).forEach(l -> System.out.println(w.base().getFileName() + ": " + l));
        }
    }

    /**
     * The check can fail: one lora_B value moved by 0.5 in a copy of the written adapter gives other logits (exit 1),
     * and a key with the adapter's name in it (PEFT's in-memory name, not its file name) is a format error (exit 2).
     */
    @Test
    void theCheckCanFail() throws Exception {
        Assumptions.assumeTrue(HfCheckpointWriterTest.hasTorch(), "/usr/bin/python3 with torch is absent");
        Written w = write("gpt2", new LoraConfig(4, 8, 0, false, List.of(LoraConfig.ALL_LINEAR)), 13);
        Result ok = check(w.base(), w.adapter(), w.expected());
        assertEquals(0, ok.exit(), ok.output());

        String moved;
        try (SafeTensorsFile f = SafeTensorsFile.open(w.adapter().resolve(PeftAdapter.WEIGHTS))) {
            moved = f.names().stream().filter(n -> n.endsWith(".lora_B.weight")).sorted().reduce((x, y) -> y).orElseThrow();
        }
        Path corrupt = copyAdapter(w.adapter(), tmp.resolve("corrupt"), moved, moved, 0.5f);
        Result bad = check(w.base(), corrupt, w.expected());
        assertEquals(1, bad.exit(), moved + " moved: " + bad.output());
        assertTrue(bad.output().contains("FAIL: max abs error"), bad.output());

        String renamed = moved.replace(".lora_B.weight", ".lora_B.default.weight");
        Path misnamed = copyAdapter(w.adapter(), tmp.resolve("misnamed"), moved, renamed, 0f);
        Result format = check(w.base(), misnamed, w.expected());
        assertEquals(2, format.exit(), format.output());
        assertTrue(format.output().contains("FORMAT ERROR") && format.output().contains(renamed), format.output());
        for (Result r : List.of(bad, format))
            r.output().lines().filter(l -> l.startsWith("FAIL") || l.startsWith("FORMAT ERROR")).forEach(System.out::println);
    }

    /** A copy of {@code adapter} in {@code to} whose tensor {@code key} is stored as {@code newKey}, its first value + {@code delta}. */
    private static Path copyAdapter(Path adapter, Path to, String key, String newKey, float delta) throws Exception {
        Files.createDirectories(to);
        Files.copy(adapter.resolve(PeftAdapter.CONFIG), to.resolve(PeftAdapter.CONFIG));
        SafeTensorsWriter out = new SafeTensorsWriter().metadata("format", "pt");
        try (SafeTensorsFile f = SafeTensorsFile.open(adapter.resolve(PeftAdapter.WEIGHTS))) {
            for (SafeTensorsFile.TensorInfo i : f.infos()) {
                float[] x = f.floats(i.name(), i.shape());
                if (i.name().equals(key)) x[0] += delta;
                out.putFloats(i.name().equals(key) ? newKey : i.name(), x, i.shape());
            }
        }
        out.write(to.resolve(PeftAdapter.WEIGHTS));
        return to;
    }

    private record Result(int exit, String output) {}

    /** tools/check_peft_adapter.py BASE ADAPTER EXPECTED, run from the repository root (the test run's directory). */
    private static Result check(Path base, Path adapter, Path expected) throws Exception {
        Path root = Path.of("").toAbsolutePath();
        List<String> cmd = new ArrayList<>(List.of(HfCheckpointWriterTest.PYTHON.toString(), root.resolve(SCRIPT).toString(),
                base.toString(), adapter.toString(), expected.toString()));
        Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "check_peft_adapter.py timed out");
        return new Result(p.exitValue(), String.join(" ", cmd) + "\n" + output);
    }
}
