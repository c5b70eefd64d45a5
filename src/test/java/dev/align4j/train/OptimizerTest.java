package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.kernels.AdamW;
import dev.align4j.model.Gpt;
import dev.align4j.model.LmAdamW;
import dev.align4j.model.GptConfig;
import dev.align4j.model.SafeTensorsFile;
import dev.align4j.model.SafeTensorsWriter;
import dev.align4j.model.ScalarHead;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OptimizerTest {
    static final GptConfig CFG = new GptConfig(1, 2, 8, 8, 13);

    static void randomGrads(Gpt m, ScalarHead h, Random r) {
        float[] g = new float[(int) m.grads().numel()];
        for (int i = 0; i < g.length; i++) g[i] = (float) r.nextGaussian();
        m.grads().copyFrom(g);
        float[] gh = new float[(int) h.grads().numel()];
        for (int i = 0; i < gh.length; i++) gh[i] = (float) (3 * r.nextGaussian());
        h.grads().copyFrom(gh);
    }

    @Test
    void oneGroupEqualsLmAdamW() {
        Random r = new Random(1);
        try (Gpt a = Gpt.create(CFG, Device.cpu(), 3); Gpt b = Gpt.create(CFG, Device.cpu(), 3); ScalarHead h = new ScalarHead(8, Device.cpu());
             LmAdamW ref = new LmAdamW(a); Optimizer opt = new Optimizer(List.of(Optimizer.group(b)))) {
            AdamW.Config c = AdamW.Config.gpt2(1e-2f);
            for (int s = 0; s < 3; s++) {
                randomGrads(a, h, r);
                b.grads().copyFrom(a.grads());
                float n1 = ref.step(c, 1.0f);
                float n2 = opt.clipNorm(1.0);
                opt.apply(c);
                Close.assertClose("norm", n1, n2, 1e-6, 1e-5);
                Close.assertClose("params", toDouble(a.params().toFloatArray()), b.params().toFloatArray(), 1e-7, 1e-6);
            }
        }
    }

    @Test
    void groupsShareOneGlobalNormAndStateRoundTrips(@TempDir Path dir) throws Exception {
        Random r = new Random(2);
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 4); ScalarHead h = new ScalarHead(8, Device.cpu());
             Optimizer opt = new Optimizer(List.of(Optimizer.group(m), Optimizer.group("head", h)))) {
            randomGrads(m, h, r);
            double sq = 0;
            for (float x : m.grads().toFloatArray()) sq += (double) x * x;
            for (float x : h.grads().toFloatArray()) sq += (double) x * x;
            float norm = opt.clipNorm(0.5);
            Close.assertClose("global norm", Math.sqrt(sq), norm, 1e-6, 1e-5);
            float[] h0 = h.params().toFloatArray();
            opt.apply(new AdamW.Config(0.1f, 0.9f, 0.999f, 1e-8f, 0f));
            // first Adam step moves each parameter by ≈ lr·sign(g) whatever the clip factor
            float[] h1 = h.params().toFloatArray(), g = h.grads().toFloatArray();
            for (int i = 0; i < h1.length; i++) Close.assertClose("head step " + i, -0.1 * Math.signum(g[i]), h1[i] - h0[i], 1e-4, 1e-3);
            Path f = dir.resolve("s.safetensors");
            SafeTensorsWriter w = new SafeTensorsWriter();
            opt.save(w, "adamw");
            w.write(f);
            try (Optimizer o2 = new Optimizer(List.of(Optimizer.group(m), Optimizer.group("head", h))); SafeTensorsFile sf = SafeTensorsFile.open(f)) {
                o2.load(sf, "adamw");
                assertEquals(1, o2.steps());
                assertArrayEquals(sf.floats("adamw.head.m"), readM(o2, f));
            }
        }
    }

    static float[] readM(Optimizer o, Path f) throws Exception {
        SafeTensorsWriter w = new SafeTensorsWriter();
        o.save(w, "x");
        Path g = f.resolveSibling("t.safetensors");
        w.write(g);
        try (SafeTensorsFile sf = SafeTensorsFile.open(g)) {
            return sf.floats("x.head.m");
        }
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
