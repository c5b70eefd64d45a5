package dev.align4j.bench;

import dev.align4j.kernels.AdamW;
import dev.align4j.model.Gpt;
import dev.align4j.model.LmAdamW;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import java.util.Arrays;
import java.util.Random;

/**
 * Training throughput of the GPT model: tokens/s of one full step (forward with the LM loss, backward, global-norm
 * clipping, AdamW) on random byte-level data. Default: 6 layers, 384 wide, 6 heads, T = 256, B = 8, vocabulary
 * 256 (the CPU comparison; the PyTorch peer is bench/torch_gpt_peer.py with the same shape).
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.align4j.bench.GptTrainBench [--device cpu|cuda] [--layers 6]
 *      [--width 384] [--heads 6] [--T 256] [--B 8] [--vocab 256] [--steps 10] [--warmup 2]</pre>
 *
 * <p>CPU: the step alternates OpenBLAS GEMMs with OpenMP kernels, and libgomp's idle threads spin (busy-wait)
 * after each kernel, competing with OpenBLAS's threads. On a 2-core machine {@code GOMP_SPINCOUNT=0} (or
 * {@code OMP_WAIT_POLICY=PASSIVE}) in the environment made the step ~20-30% faster; libgomp reads them only at
 * start-up, so they must be set before the JVM starts.
 */
public final class GptTrainBench {
    public static void main(String[] args) {
        String device = "cpu";
        int layers = 6, width = 384, heads = 6, t = 256, b = 8, vocab = 256, steps = 10, warmup = 2;
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--device" -> device = v;
                case "--layers" -> layers = Integer.parseInt(v);
                case "--width" -> width = Integer.parseInt(v);
                case "--heads" -> heads = Integer.parseInt(v);
                case "--T" -> t = Integer.parseInt(v);
                case "--B" -> b = Integer.parseInt(v);
                case "--vocab" -> vocab = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Device dev = device.equals("cuda") ? Device.cuda(0) : Device.cpu();
        GptConfig config = new GptConfig(layers, heads, width, t, vocab);
        Random rnd = new Random(1);
        int[] tokens = new int[b * t], targets = new int[b * t];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(vocab);
            targets[i] = rnd.nextInt(vocab);
        }
        AdamW.Config opt = AdamW.Config.gpt2(3e-4f);
        try (Gpt m = Gpt.create(config, dev, 1); LmAdamW adam = new LmAdamW(m)) {
            double[] ms = new double[steps];
            double fwd = 0, bwd = 0, upd = 0;
            for (int s = 0; s < warmup + steps; s++) {
                long t0 = System.nanoTime();
                m.zeroGrad();
                float loss = m.forward(tokens, targets, null, b, t);
                long t1 = System.nanoTime();
                m.backward();
                dev.synchronize();
                long t2 = System.nanoTime();
                adam.step(opt, 1.0f);
                dev.synchronize();
                long t3 = System.nanoTime();
                if (s >= warmup) {
                    ms[s - warmup] = (t3 - t0) / 1e6;
                    fwd += (t1 - t0) / 1e6;
                    bwd += (t2 - t1) / 1e6;
                    upd += (t3 - t2) / 1e6;
                }
                System.out.printf("step %d: loss %.4f, %.1f ms%n", s, loss, (t3 - t0) / 1e6);
            }
            Arrays.sort(ms);
            double median = ms[steps / 2];
            System.out.printf("GPT %d layers, %d wide, %d heads, V=%d, B=%d, T=%d on %s (%d params, %d CPU threads): "
                            + "median step %.1f ms = %.0f tokens/s; mean forward %.1f ms, backward %.1f ms, AdamW %.1f ms%n",
                    layers, width, heads, vocab, b, t, dev, m.params().numel(), Runtime.getRuntime().availableProcessors(),
                    median, b * t / (median / 1e3), fwd / steps, bwd / steps, upd / steps);
        }
    }
}
