package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.kernels.AdamW;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.GpuTest;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Parity with PyTorch (llm.c's test_gpt2 pattern): src/test/resources/gpt2_tiny_golden.safetensors, written by
 * tools/gpt2_golden.py from a tiny GPT-2 in plain torch with fixed weights, holds inputs, logits, the loss,
 * every parameter gradient and the loss trajectory of 10 AdamW steps. fp32: logits and loss within 1e-4
 * relative, gradients within 1e-3, the AdamW trajectory within 1e-3.
 */
class GptGoldenTest {
    @Test
    void cpu() throws Exception {
        check(Device.cpu());
    }

    @GpuTest
    void cuda() throws Exception {
        check(Device.cuda(0));
    }

    static void check(Device device) throws Exception {
        try (SafeTensorsFile f = SafeTensorsFile.open(golden())) {
            int[] cfg = f.ints("config", 5);
            GptConfig config = new GptConfig(cfg[0], cfg[1], cfg[2], cfg[3], cfg[4]);
            long[] bt = f.info("tokens").shape();
            int b = (int) bt[0], t = (int) bt[1];
            int[] tokens = f.ints("tokens", b, t), targets = f.ints("targets", b, t);
            float[] mask = f.floats("mask", b, t);
            Map<String, float[]> params = new LinkedHashMap<>(), grads = new LinkedHashMap<>();
            for (HfGpt2Layout.Param p : HfGpt2Layout.params(config)) {
                params.put(p.name(), f.floats("param." + p.name(), p.longShape()));
                grads.put(p.name(), f.floats("grad." + p.name(), p.longShape()));
            }
            try (Gpt m = new Gpt(config, device)) {
                m.loadHf(params);
                float loss = m.forward(tokens, targets, mask, b, t);
                Close.assertClose("golden logits", toDouble(f.floats("logits", b, t, config.vocabSize())),
                        m.logits().toFloatArray(), 1e-6, 1e-4);
                Close.assertClose("golden loss", f.floats("loss", 1)[0], loss, 0, 1e-4);
                m.zeroGrad();
                m.backward();
                Map<String, float[]> mine = new LinkedHashMap<>();
                for (ParamLayout.Entry e : m.layout().entries()) mine.put(e.name(), m.grad(e.name()).toFloatArray());
                Map<String, float[]> mineHf = HfGpt2Layout.linearToConv1d(config, mine);
                for (Map.Entry<String, float[]> e : grads.entrySet())
                    Close.assertClose("golden grad " + e.getKey(), toDouble(e.getValue()), mineHf.get(e.getKey()), 1e-5, 1e-3);

                // AdamW from the same start: the loss before each step follows torch.optim.AdamW's trajectory
                m.loadHf(params);
                float[] hp = f.floats("adamw.hparams", 5);
                float clip = f.floats("adamw.clip", 1)[0];
                float[] expected = f.floats("adamw.losses");
                AdamW.Config c = new AdamW.Config(hp[0], hp[1], hp[2], hp[3], hp[4]);
                try (LmAdamW opt = new LmAdamW(m)) {
                    for (int s = 0; s < expected.length; s++) {
                        m.zeroGrad();
                        float l = m.forward(tokens, targets, mask, b, t);
                        Close.assertClose("golden AdamW loss before step " + (s + 1), expected[s], l, 1e-5, 1e-3);
                        m.backward();
                        opt.step(c, clip);
                    }
                    assertEquals(expected.length, opt.steps());
                }
            }
        }
    }

    static Path golden() throws URISyntaxException {
        var url = GptGoldenTest.class.getResource("/gpt2_tiny_golden.safetensors");
        if (url == null) throw new IllegalStateException("gpt2_tiny_golden.safetensors missing from the test resources");
        return Path.of(url.toURI());
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
