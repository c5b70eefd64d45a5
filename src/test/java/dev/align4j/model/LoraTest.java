package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.reference.GptReference;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.FiniteDifference;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA ({@link LoraAdapters}, {@link PeftAdapter}): against PyTorch (tools/lora_golden.py: a PEFT-format adapter with
 * random A and B on every linear module of a tiny GPT-2 and of a tiny Llama with GQA and rsLoRA), against a double
 * reference with finite differences, and in the properties the trainers rely on: a fresh adapter and adapters-off
 * compute the base bit for bit, a frozen base gets no gradient, merging gives the adapter model's logits.
 */
class LoraTest {
    static Path golden(String family) throws Exception {
        return Path.of(LoraTest.class.getResource("/lora_golden/" + family + "/config.json").toURI()).getParent();
    }

    @DeviceTest
    void matchesPyTorchAndPeftsFormat(Device device) throws Exception {
        for (String family : new String[] {"gpt2", "llama"}) {
            Path dir = golden(family);
            String what = family + " on " + device;
            try (CausalLm base = CausalLm.load(dir, device);
                 CausalLm m = PeftAdapter.load(dir.resolve("adapter"), CausalLm.load(dir, device), device);
                 SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("golden.safetensors"))) {
                long[] bt = f.info("tokens").shape();
                int b = (int) bt[0], t = (int) bt[1];
                int[] tokens = f.ints("tokens", b, t), targets = f.ints("targets", b, t);
                float[] mask = f.floats("mask", b, t);
                assertEquals(f.floats("scaling", 1)[0], m.lora().scaling(), 0f, what + ": scaling");

                float loss = m.forward(tokens, targets, mask, b, t);
                Close.assertClose(what + ": loss", f.floats("loss", 1)[0], loss, 0, 1e-4);
                Close.assertClose(what + ": logits", GptGoldenTest.toDouble(f.floats("logits")), m.logits().toFloatArray(), 1e-4, 1e-4);
                m.zeroGrad();
                m.backward();
                String prefix = PeftAdapter.keyPrefix(m);
                for (ParamLayout.Entry e : m.lora().layout().entries())
                    Close.assertClose(what + ": grad " + e.name(), GptGoldenTest.toDouble(f.floats("grad." + prefix + e.name())),
                            m.lora().layout().view(m.lora().grads(), e.name()).toFloatArray(), 1e-5, 1e-3);
                // the frozen base has no gradient buffer at all
                assertTrue(((CausalLmBase<?>) m).trainsBase() == false, what);

                // adapters off: the base's own kernels, bit for bit
                base.forward(tokens, targets, mask, b, t);
                float[] baseLogits = base.logits().toFloatArray();
                CausalLm off = m.adaptersOff();
                off.forward(tokens, targets, mask, b, t);
                assertArrayEquals(baseLogits, off.logits().toFloatArray(), what + ": adapters off");
                Close.assertClose(what + ": base logits", GptGoldenTest.toDouble(f.floats("base_logits")), baseLogits, 1e-5, 1e-4);
                assertTrue(m.lora().enabled(), what + ": adapters back on after the reference forward");
                assertThrows(UnsupportedOperationException.class, off::backward);

                // merged = base + s·B·A, the merged weights PyTorch computed, and the adapter model's logits
                try (CausalLm merged = PeftAdapter.merge(m)) {
                    assertNull(merged.lora());
                    for (LoraAdapters.Site s : m.lora().sites()) {
                        String w = s.module() + ".weight";
                        float[] mine = merged.param(w).toFloatArray();
                        double[] want = GptGoldenTest.toDouble(f.floats("merged." + w));
                        if (family.equals("gpt2")) want = transpose(want, (int) s.in(), (int) s.out()); // Conv1D [in, out]
                        Close.assertClose(what + ": merged " + w, want, mine, 1e-5, 1e-4);
                    }
                    merged.forward(tokens, targets, mask, b, t);
                    m.forward(tokens, targets, mask, b, t);
                    Close.assertClose(what + ": merged logits", GptGoldenTest.toDouble(m.logits().toFloatArray()),
                            merged.logits().toFloatArray(), 1e-4, 1e-4);
                }
            }
        }
    }

    @Test
    void savedAdaptersHavePeftsNamesShapesAndConfig(@TempDir Path tmp) throws Exception {
        ObjectMapper json = new ObjectMapper();
        for (String family : new String[] {"gpt2", "llama"}) {
            Path dir = golden(family), adapter = dir.resolve("adapter"), out = tmp.resolve(family);
            try (CausalLm m = CausalLm.load(adapter, Device.cpu())) {
                assertEquals(dir.toAbsolutePath().normalize(), m.source(), family + ": the base pointer resolves");
                m.save(out);
                try (CausalLm back = CausalLm.load(out, Device.cpu())) {
                    assertArrayEquals(m.lora().params().toFloatArray(), back.lora().params().toFloatArray(), family);
                    assertArrayEquals(m.params().toFloatArray(), back.params().toFloatArray(), family);
                }
            }
            assertEquals(shapes(adapter.resolve(PeftAdapter.WEIGHTS)), shapes(out.resolve(PeftAdapter.WEIGHTS)), family + ": keys and shapes");
            JsonNode want = json.readTree(adapter.resolve(PeftAdapter.CONFIG).toFile()), got = json.readTree(out.resolve(PeftAdapter.CONFIG).toFile());
            for (String k : List.of("peft_type", "r", "lora_alpha", "lora_dropout", "use_rslora", "target_modules", "fan_in_fan_out", "bias", "task_type"))
                assertEquals(want.get(k), got.get(k), family + ": adapter_config " + k);
            assertEquals(dir.toAbsolutePath().normalize().toString(), got.get("base_model_name_or_path").textValue());
        }
    }

    private static Map<String, List<Long>> shapes(Path file) throws IOException {
        Map<String, List<Long>> m = new TreeMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            for (SafeTensorsFile.TensorInfo i : f.infos()) m.put(i.name(), java.util.Arrays.stream(i.shape()).boxed().toList());
            assertEquals("pt", f.metadata().get("format"));
        }
        return m;
    }

    /**
     * GPT-2 with adapters on every linear module, random A and B: the loss against the double reference on the merged
     * weights W + s·B·A, and every A and B gradient (samples of each) against its central differences.
     */
    @DeviceTest
    void gradientsMatchFiniteDifferences(Device device) throws Exception {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        String tag = "seed " + seed + " on " + device;
        GptConfig c = GptTest.TINY;
        int b = GptTest.B, t = GptTest.T;
        try (Gpt m = Gpt.create(c, device, seed)) {
            LoraAdapters lora = m.attachLora(new LoraConfig(3, 5, 0, rnd.nextBoolean(), List.of(LoraConfig.ALL_LINEAR)), seed);
            float[] ab = new float[(int) lora.size()];
            for (int i = 0; i < ab.length; i++) ab[i] = (float) (0.3 * rnd.nextGaussian());
            lora.params().copyFrom(ab);
            int[] tokens = GptTest.randomTokens(rnd, b * t), targets = GptTest.randomTokens(rnd, b * t);
            float[] mask = new float[b * t];
            for (int i = 0; i < mask.length; i++) mask[i] = rnd.nextDouble() < 0.7 ? 1f : 0f;
            mask[0] = 1f;
            m.zeroGrad();
            float loss = m.forward(tokens, targets, mask, b, t);
            Map<String, double[]> base = GptReference.params(m), ad = new HashMap<>();
            for (ParamLayout.Entry e : lora.layout().entries()) ad.put(e.name(), GptGoldenTest.toDouble(lora.layout().view(lora.params(), e.name()).toFloatArray()));
            java.util.function.DoubleSupplier objective = () -> GptReference.forward(c.nLayer(), c.nHead(), c.nEmbd(), c.vocabSize(),
                    c.layerNormEps(), merged(base, ad, lora), tokens, targets, mask, b, t).loss();
            Close.assertClose(tag + " loss", objective.getAsDouble(), loss, 1e-5, 1e-4);
            m.backward();
            float[] grads = lora.grads().toFloatArray();
            for (ParamLayout.Entry e : lora.layout().entries()) {
                double[] x = ad.get(e.name());
                for (int s = 0; s < 3; s++) {
                    int i = rnd.nextInt(x.length);
                    double fd = FiniteDifference.at(x, i, 1e-5, objective);
                    Close.assertClose(tag + " dloss/d" + e.name() + "[" + i + "]", fd, grads[(int) (e.offset() + i)], 2e-5, 2e-3);
                }
            }
        }
    }

    /** The base's weights with {@code W += s·B·A} on each adapted module, in double. */
    private static Map<String, double[]> merged(Map<String, double[]> base, Map<String, double[]> ad, LoraAdapters lora) {
        Map<String, double[]> p = new HashMap<>(base);
        int r = lora.config().r();
        double s = lora.scaling();
        for (LoraAdapters.Site site : lora.sites()) {
            double[] a = ad.get(LoraAdapters.aName(site.module())), bm = ad.get(LoraAdapters.bName(site.module()));
            double[] w = base.get(site.module() + ".weight").clone();
            int in = (int) site.in(), out = (int) site.out();
            for (int o = 0; o < out; o++)
                for (int i = 0; i < in; i++) {
                    double d = 0;
                    for (int k = 0; k < r; k++) d += bm[o * r + k] * a[k * in + i];
                    w[o * in + i] += s * d;
                }
            p.put(site.module() + ".weight", w);
        }
        return p;
    }

    /** A fresh adapter (B = 0) computes the base bit for bit, in the training forward and in the decoders. */
    @DeviceTest
    void aFreshAdapterChangesNothing(Device device) throws Exception {
        for (String family : new String[] {"gpt2", "llama"}) {
            Path dir = golden(family);
            try (CausalLm base = CausalLm.load(dir, device); CausalLm m = CausalLm.load(dir, device);
                 SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("golden.safetensors"))) {
                m.attachLora(LoraConfig.defaults(4).withTargets(List.of(LoraConfig.ALL_LINEAR)), 7);
                assertFalse(java.util.Arrays.equals(new float[(int) m.lora().size()], m.lora().params().toFloatArray()), "A is drawn");
                long[] bt = f.info("tokens").shape();
                int b = (int) bt[0], t = (int) bt[1];
                int[] tokens = f.ints("tokens", b, t);
                base.forward(tokens, null, null, b, t);
                m.forward(tokens, null, null, b, t);
                assertArrayEquals(base.logits().toFloatArray(), m.logits().toFloatArray(), family);
            }
        }
    }

    /** Generation with adapters: the decoder's last-position logits equal the full forward's (adapters included). */
    @DeviceTest
    void decodersApplyTheAdapters(Device device) throws Exception {
        for (String family : new String[] {"gpt2", "llama"}) {
            Path dir = golden(family);
            try (CausalLm m = CausalLm.load(dir.resolve("adapter"), device);
                 SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("golden.safetensors"))) {
                long[] bt = f.info("tokens").shape();
                int b = (int) bt[0], t = (int) bt[1];
                int[] tokens = f.ints("tokens", b, t);
                float[] want = f.floats("logits");
                int v = m.config().vocabSize();
                try (Decoder d = m.decoder(b, t)) {
                    int[][] first = new int[b][];
                    for (int i = 0; i < b; i++) first[i] = java.util.Arrays.copyOfRange(tokens, i * t, i * t + t - 1);
                    d.prefill(first);
                    int[] last = new int[b];
                    for (int i = 0; i < b; i++) last[i] = tokens[i * t + t - 1];
                    float[] got = d.step(last).toFloatArray();
                    for (int i = 0; i < b; i++) {
                        double[] row = GptGoldenTest.toDouble(java.util.Arrays.copyOfRange(want, (i * t + t - 1) * v, (i * t + t) * v));
                        Close.assertClose(family + " row " + i, row, java.util.Arrays.copyOfRange(got, i * v, (i + 1) * v), 1e-4, 1e-4);
                    }
                }
            }
        }
    }

    @Test
    void badInputFailsNamingIt(@TempDir Path tmp) throws Exception {
        Path dir = golden("gpt2");
        try (CausalLm m = CausalLm.load(dir, Device.cpu())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.attachLora(LoraConfig.defaults(4).withTargets(List.of("q_proj")), 1));
            assertTrue(e.getMessage().contains("'q_proj'") && e.getMessage().contains("c_attn"), e.getMessage());
            assertNull(m.lora());
            m.attachLora(LoraConfig.defaults(4), 1);
            assertThrows(IllegalStateException.class, () -> m.attachLora(LoraConfig.defaults(4), 1));
        }
        assertThrows(IllegalArgumentException.class, () -> new LoraConfig(0, 8, 0, false, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new LoraConfig(4, -1, 0, false, List.of()));
        // a tensor that the config does not target, and a mis-shaped one
        Path bad = tmp.resolve("bad");
        Files.createDirectories(bad);
        Files.writeString(bad.resolve(PeftAdapter.CONFIG), Files.readString(dir.resolve("adapter").resolve(PeftAdapter.CONFIG))
                .replace("\"c_fc\",", "").replace("\"..\"", "\"" + dir.toAbsolutePath() + "\""));
        Files.copy(dir.resolve("adapter").resolve(PeftAdapter.WEIGHTS), bad.resolve(PeftAdapter.WEIGHTS));
        IOException e = assertThrows(IOException.class, () -> CausalLm.load(bad, Device.cpu()));
        assertTrue(e.getMessage().contains("mlp.c_fc.lora_") && e.getMessage().contains(PeftAdapter.WEIGHTS), e.getMessage());
        Files.writeString(bad.resolve(PeftAdapter.CONFIG), Files.readString(bad.resolve(PeftAdapter.CONFIG)).replace("\"r\": 4", "\"r\": 5"));
        e = assertThrows(IOException.class, () -> CausalLm.load(bad, Device.cpu()));
        assertTrue(e.getMessage().contains("lora_A"), e.getMessage());
        Files.writeString(bad.resolve(PeftAdapter.CONFIG), "{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"], "
                + "\"base_model_name_or_path\": \"openai-community/gpt2\"}");
        e = assertThrows(IOException.class, () -> CausalLm.load(bad, Device.cpu()));
        assertTrue(e.getMessage().contains("base_model_name_or_path") && e.getMessage().contains("hub id"), e.getMessage());
    }

    private static double[] transpose(double[] x, int rows, int cols) {
        double[] y = new double[x.length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) y[j * rows + i] = x[i * cols + j];
        return y;
    }
}
