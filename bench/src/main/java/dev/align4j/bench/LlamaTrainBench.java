package dev.align4j.bench;

import dev.align4j.kernels.AdamW;
import dev.align4j.kernels.Matmul;
import dev.align4j.model.Llama;
import dev.align4j.model.LlamaConfig;
import dev.align4j.model.LmAdamW;
import dev.align4j.model.LoraConfig;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Training throughput and memory of a Llama-family model (default: SmolLM2-135M's shape with random weights, see
 * {@link LlamaBenchSupport}): tokens/s of one full step — forward with the mean LM loss, backward, global-norm
 * clipping to 1.0, AdamW (β 0.9/0.95, weight decay 0.1 on 2-D tensors) — the step of bench/torch_llama_peer.py
 * {@code train}. Prints each step, then one {@code RESULT} line (bench/llama_summary.py reads it).
 *
 * <pre>java -Xmx1g -cp bench/target/benchmarks.jar dev.align4j.bench.LlamaTrainBench [--B 4] [--T 512]
 *      [--chunk 0] [--steps 3] [--warmup 1] [--lora-r 0] [--lora-targets all-linear] [--layers 30 --hidden 576 --heads 9 --kv-heads 3 --ffn 1536 --vocab 49152]</pre>
 * {@code --lora-r R} freezes the base and trains LoRA adapters of rank R (alpha 2R) on {@code --lora-targets}.
 * {@code --chunk R} runs the LM head on R rows of the B·T at a time ({@code setLogitsChunkRows}; 0: the full
 * [B, T, V] logits). Set {@code OMP_WAIT_POLICY=PASSIVE} (bench/run-llama.sh does): idle OpenMP threads otherwise
 * spin against OpenBLAS's.
 *
 * <p>Memory: the model's own count ({@code activationBytes()}; parameters, gradients and the two AdamW moments at
 * 4 bytes each) and the process's resident memory: before the model exists (the JVM), and its peak (VmHWM) after
 * the last step. The floor is the parameters ×4 plus the activations the backward needs.
 */
public final class LlamaTrainBench {
    public static void main(String[] args) {
        Map<String, String> o = LlamaBenchSupport.options(args, LlamaBenchSupport.withModelDefaults(Map.of(
                "B", "4", "T", "512", "chunk", "0", "steps", "3", "warmup", "1", "device", "cpu", "lora-r", "0",
                "lora-targets", LoraConfig.ALL_LINEAR)));
        int loraR = Integer.parseInt(o.get("lora-r"));
        int b = Integer.parseInt(o.get("B")), t = Integer.parseInt(o.get("T")), chunk = Integer.parseInt(o.get("chunk"));
        int steps = Integer.parseInt(o.get("steps")), warmup = Integer.parseInt(o.get("warmup"));
        Device dev = Device.parse(o.get("device"));
        LlamaConfig config = LlamaBenchSupport.config(o);
        int threads = dev.isCpu() ? Matmul.cpuThreads() : 0;
        LlamaBenchSupport.sgemmReport(dev, threads, b * t, config);

        Random rnd = new Random(1);
        int[] tokens = new int[b * t], targets = new int[b * t];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(config.vocabSize());
            targets[i] = rnd.nextInt(config.vocabSize());
        }
        AdamW.Config opt = AdamW.Config.gpt2(3e-4f);
        System.gc();
        long rssBefore = Memory.rssBytes();
        try (Llama m = Llama.create(config, dev, 1)) {
          // LoRA: the base frozen (no gradient buffer, no moments), adapters of rank r on --lora-targets
          if (loraR > 0) m.attachLora(LoraConfig.defaults(loraR).withAlpha(2 * loraR)
                  .withTargets(java.util.List.of(o.get("lora-targets").split(","))), 2);
          try (LmAdamW adam = new LmAdamW(m)) {
            m.setLogitsChunkRows(chunk);
            long n = m.params().numel();
            double[] ms = new double[steps], fwd = new double[steps], bwd = new double[steps], upd = new double[steps];
            double[] cpu = new double[steps], cpuFwd = new double[steps], cpuBwd = new double[steps], cpuUpd = new double[steps];
            for (int s = 0; s < warmup + steps; s++) {
                long c0 = LlamaBenchSupport.cpuNanos();
                long t0 = System.nanoTime();
                m.zeroGrad();
                float loss = m.forward(tokens, targets, null, b, t);
                BenchAccess.synchronize(dev);
                long t1 = System.nanoTime(), c1 = LlamaBenchSupport.cpuNanos();
                m.backward();
                BenchAccess.synchronize(dev);
                long t2 = System.nanoTime(), c2 = LlamaBenchSupport.cpuNanos();
                adam.step(opt, 1.0f);
                BenchAccess.synchronize(dev);
                long t3 = System.nanoTime(), c3 = LlamaBenchSupport.cpuNanos();
                double cpuMs = (c3 - c0) / 1e6;
                System.out.printf("step %d: loss %.4f, %.0f ms (forward %.0f, backward %.0f, clip+AdamW %.0f), CPU %.0f ms%n",
                        s, loss, (t3 - t0) / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, cpuMs);
                if (s >= warmup) {
                    cpu[s - warmup] = cpuMs;
                    cpuFwd[s - warmup] = (c1 - c0) / 1e6;
                    cpuBwd[s - warmup] = (c2 - c1) / 1e6;
                    cpuUpd[s - warmup] = (c3 - c2) / 1e6;
                    ms[s - warmup] = (t3 - t0) / 1e6;
                    fwd[s - warmup] = (t1 - t0) / 1e6;
                    bwd[s - warmup] = (t2 - t1) / 1e6;
                    upd[s - warmup] = (t3 - t2) / 1e6;
                }
            }
            double median = LlamaBenchSupport.median(ms);
            long acts = m.activationBytes();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("bench", "train");
            r.put("impl", (chunk == 0 ? "align4j" : "align4j-chunk" + chunk) + (loraR > 0 ? "-lora" + loraR : ""));
            r.put("B", b);
            r.put("T", t);
            r.put("chunk", chunk);
            r.put("threads", threads);
            r.put("params", n);
            r.put("step_ms", ms);
            r.put("median_ms", median);
            r.put("tokens_per_s", b * t / (median / 1e3));
            r.put("forward_ms", LlamaBenchSupport.median(fwd));
            r.put("backward_ms", LlamaBenchSupport.median(bwd));
            r.put("update_ms", LlamaBenchSupport.median(upd));
            r.put("cpu_ms", cpu);
            r.put("median_cpu_ms", LlamaBenchSupport.median(cpu));
            r.put("cpu_forward_ms", LlamaBenchSupport.median(cpuFwd));
            r.put("cpu_backward_ms", LlamaBenchSupport.median(cpuBwd));
            r.put("cpu_update_ms", LlamaBenchSupport.median(cpuUpd));
            r.put("activation_bytes", acts);
            r.put("activation_bytes_predicted", Llama.activationBytes(config, b, t, chunk));
            // parameters 4 B each; gradients and the two AdamW moments 4 B each per trainable parameter
            long trainable = m.lora() != null ? m.lora().size() : n;
            r.put("trainable_params", trainable);
            long paramBytes = 4 * (n + (m.lora() != null ? trainable : 0));
            r.put("param_bytes", paramBytes);
            r.put("grad_bytes", 4 * trainable);
            r.put("optimizer_bytes", 8 * trainable);
            r.put("state_bytes", paramBytes + 12 * trainable);
            r.put("rss_before_mb", rssBefore / 1048576.0);
            r.put("peak_rss_mb", Memory.peakBytes() / 1048576.0);
            LlamaBenchSupport.emit(r);
          }
        }
    }
}
