package dev.align4j.eval;

import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedSft;
import dev.align4j.data.tasks.Task;
import dev.align4j.kernels.AdamW;
import dev.align4j.model.Gpt;
import dev.align4j.model.LmAdamW;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.ByteTokenizer;
import java.util.List;

/** Tiny byte-level models for evaluation tests: a random one, and one overfit on a few tasks. */
public final class TinyModels {
    private TinyModels() {}

    public static final ByteTokenizer TOKENIZER = new ByteTokenizer();

    /** 2 layers, 32 wide, context 64, byte vocabulary. */
    public static final GptConfig CONFIG = new GptConfig(2, 2, 32, 64, TOKENIZER.vocabSize());

    public static Encoder encoder() {
        return new Encoder(TOKENIZER, CONFIG.nCtx());
    }

    public static Gpt random(long seed) {
        return Gpt.create(CONFIG, Device.cpu(), seed);
    }

    /**
     * A model trained full-batch on the SFT examples of {@code tasks} until its loss is below 0.01 (at most
     * {@code maxSteps} steps); memorising a handful of short examples takes a few hundred steps.
     */
    public static Gpt overfit(List<Task> tasks, long seed, int maxSteps) {
        Encoder enc = encoder();
        int b = tasks.size(), t = 0;
        TokenizedSft[] ex = new TokenizedSft[b];
        for (int i = 0; i < b; i++) {
            ex[i] = enc.encode(tasks.get(i).toSft());
            t = Math.max(t, ex[i].length() - 1);
        }
        int[] in = new int[b * t], tg = new int[b * t];
        float[] mask = new float[b * t];
        java.util.Arrays.fill(in, TOKENIZER.padId());
        java.util.Arrays.fill(tg, TOKENIZER.padId());
        for (int i = 0; i < b; i++)
            for (int j = 0; j + 1 < ex[i].length(); j++) {
                in[i * t + j] = ex[i].tokens()[j];
                tg[i * t + j] = ex[i].tokens()[j + 1];
                mask[i * t + j] = ex[i].trained()[j + 1];
            }
        Gpt m = random(seed);
        try (LmAdamW opt = new LmAdamW(m)) {
            AdamW.Config cfg = new AdamW.Config(1e-2f, 0.9f, 0.95f, 1e-8f, 0f);
            for (int s = 0; s < maxSteps; s++) {
                m.zeroGrad();
                float loss = m.forward(in, tg, mask, b, t);
                if (loss < 0.01f) break;
                m.backward();
                opt.step(cfg, 1f);
            }
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }
}
