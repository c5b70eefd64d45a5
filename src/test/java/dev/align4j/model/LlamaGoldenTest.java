package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.kernels.AdamW;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@link Llama}'s training path against PyTorch (tools/llama_golden.py: Llama with GQA and an untied head, Qwen2
 * with q/k/v biases and a tied head, Qwen3 with q/k norms and head_dim != hidden / heads): the masked mean loss,
 * the gradient of every parameter, and the loss before each of eight torch.optim.AdamW steps, on every backend
 * and with the LM head both whole and in chunks. The tolerances are GPT-2's golden test's.
 */
class LlamaGoldenTest {
    @DeviceTest
    void lossGradientsAndAdamWMatchPyTorch(Device device) throws Exception {
        for (String name : new String[] {"llama", "qwen2", "qwen3"})
            for (int chunk : new int[] {0, 5}) check(name, chunk, device);
    }

    private static void check(String name, int chunkRows, Device device) throws Exception {
        Path dir = LlamaTest.golden(name);
        String what = name + (chunkRows == 0 ? "" : " (head in chunks of " + chunkRows + ")") + " on " + device;
        try (Llama m = Llama.load(dir, device); SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("golden.safetensors"))) {
            m.setLogitsChunkRows(chunkRows);
            long[] bt = f.info("tokens").shape();
            int b = (int) bt[0], t = (int) bt[1];
            int[] tokens = f.ints("tokens", b, t), targets = f.ints("targets", b, t);
            float[] mask = f.floats("mask", b, t);
            float[] start = m.params().toFloatArray();
            float loss = m.forward(tokens, targets, mask, b, t);
            Close.assertClose(what + ": loss", f.floats("loss", 1)[0], loss, 0, 1e-4);
            assertEquals(Llama.activationBytes(m.config(), b, t, chunkRows), m.activationBytes(), what + ": activation bytes");
            m.zeroGrad();
            m.backward();
            Map<String, float[]> grads = new LinkedHashMap<>();
            for (ParamLayout.Entry e : m.layout().entries()) grads.put(e.name(), m.grad(e.name()).toFloatArray());
            for (Map.Entry<String, float[]> e : grads.entrySet())
                Close.assertClose(what + ": grad " + e.getKey(), GptGoldenTest.toDouble(f.floats("grad." + e.getKey())),
                        e.getValue(), 1e-5, 1e-3);

            // AdamW from the same start: the loss before each step follows torch.optim.AdamW's trajectory
            m.params().copyFrom(start);
            float[] hp = f.floats("adamw.hparams", 5);
            float clip = f.floats("adamw.clip", 1)[0];
            float[] expected = f.floats("adamw.losses");
            AdamW.Config c = new AdamW.Config(hp[0], hp[1], hp[2], hp[3], hp[4]);
            try (LmAdamW opt = new LmAdamW(m)) {
                for (int s = 0; s < expected.length; s++) {
                    m.zeroGrad();
                    float l = m.forward(tokens, targets, mask, b, t);
                    Close.assertClose(what + ": AdamW loss before step " + (s + 1), expected[s], l, 1e-5, 1e-3);
                    m.backward();
                    opt.step(c, clip);
                }
            }
        }
    }
}
