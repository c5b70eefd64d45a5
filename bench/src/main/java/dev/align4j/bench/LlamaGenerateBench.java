package dev.align4j.bench;

import dev.align4j.kernels.Matmul;
import dev.align4j.model.Decoder;
import dev.align4j.model.Llama;
import dev.align4j.model.LlamaConfig;
import dev.align4j.model.Sampler;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Greedy KV-cache generation of a Llama-family model (default SmolLM2-135M's shape, random weights): B random
 * prompts of {@code --prompt} tokens, then {@code --new} tokens each, the loop of {@code Generator.generate}
 * (prefill, then per step the logits [B, V] read to the host, a greedy {@link Sampler} pick per sequence, one
 * {@link Decoder#step}); no EOS, so every sequence runs to the end. Reports the prefill time and decode tokens/s
 * (B·(new − 1) tokens over the steps after the prefill), as bench/torch_llama_peer.py {@code gen} does. Warm-up
 * runs generate at most 8 tokens. Also measures the read bandwidth ({@link Floor}, 256 MiB: far beyond the caches): a batch-1 step must read
 * every weight once, so 4·N bytes over it is the decode floor.
 *
 * <p>{@code --naive true}: the baseline without a cache: each new token re-runs the full forward over the whole
 * prefix ({@code model.forward} without targets, logits of the last position), O(T²) work per sequence.
 *
 * <pre>java -Xmx1g -cp bench/target/benchmarks.jar dev.align4j.bench.LlamaGenerateBench [--B 1] [--prompt 64]
 *      [--new 128] [--reps 1] [--warmup 1] [--naive false]</pre>
 */
public final class LlamaGenerateBench {
    public static void main(String[] args) {
        Map<String, String> o = LlamaBenchSupport.options(args, LlamaBenchSupport.withModelDefaults(Map.of(
                "B", "1", "prompt", "64", "new", "128", "reps", "1", "warmup", "1", "naive", "false", "device", "cpu")));
        int b = Integer.parseInt(o.get("B")), p = Integer.parseInt(o.get("prompt"));
        int newTokens = Integer.parseInt(o.get("new"));
        int reps = Integer.parseInt(o.get("reps")), warmup = Integer.parseInt(o.get("warmup"));
        boolean naive = Boolean.parseBoolean(o.get("naive"));
        Device dev = Device.parse(o.get("device"));
        LlamaConfig config = LlamaBenchSupport.config(o);
        int v = config.vocabSize(), threads = dev.isCpu() ? Matmul.cpuThreads() : 0;
        Random rnd = new Random(2);
        int[][] prompts = new int[b][p];
        for (int[] row : prompts) for (int i = 0; i < p; i++) row[i] = rnd.nextInt(v);
        Sampler greedy = new Sampler(0, 0, 1);
        double gbs = Double.NaN;
        if (!naive) {
            LlamaBenchSupport.sgemmReport(dev, threads, b, config);
            try (Floor floor = new Floor(dev, 256L << 20)) {
                gbs = floor.gbPerSecond(false, 1, 5);
            }
            System.out.printf("read bandwidth (256 MiB, every core): %.1f GB/s%n", gbs);
        }
        double[] pre = new double[reps], dec = new double[reps], preCpu = new double[reps], decCpu = new double[reps];
        try (Llama m = Llama.create(config, dev, 1)) {
            for (int r = 0; r < warmup + reps; r++) {
                int nNew = r < warmup ? Math.min(8, newTokens) : newTokens;  // warm-up runs: a short generation
                int[][] ids = new int[b][nNew];
                long c0 = LlamaBenchSupport.cpuNanos(), c1 = 0, t0 = System.nanoTime(), t1;
                if (!naive) {
                    try (Decoder cache = m.decoder(b, p + nNew - 1)) {
                        pick(cache.prefill(prompts), greedy, ids, 0, v);
                        t1 = System.nanoTime();
                        c1 = LlamaBenchSupport.cpuNanos();
                        for (int s = 1; s < nNew; s++) {
                            int[] next = new int[b];
                            for (int i = 0; i < b; i++) next[i] = ids[i][s - 1];
                            pick(cache.step(next), greedy, ids, s, v);
                        }
                    }
                } else {
                    t1 = 0;
                    for (int s = 0; s < nNew; s++) {
                        int len = p + s;
                        int[] tok = new int[b * len];
                        for (int i = 0; i < b; i++) {
                            System.arraycopy(prompts[i], 0, tok, i * len, p);
                            System.arraycopy(ids[i], 0, tok, i * len + p, s);
                        }
                        m.forward(tok, null, null, b, len);
                        Tensor logits = m.logits();  // [B, len, V]: the last position of each sequence
                        float[] last = new float[b * v];
                        for (int i = 0; i < b; i++)
                            System.arraycopy(logits.view(((long) i * len + len - 1) * v, v).toFloatArray(), 0, last, i * v, v);
                        for (int i = 0; i < b; i++) ids[i][s] = greedy.sample(last, i * v, v, null).token();
                        if (s == 0) {
                            t1 = System.nanoTime();
                            c1 = LlamaBenchSupport.cpuNanos();
                        }
                    }
                }
                BenchAccess.synchronize(dev);
                long t2 = System.nanoTime(), c2 = LlamaBenchSupport.cpuNanos();
                System.out.printf("run %d: prefill %.0f ms (CPU %.0f), %d decode steps %.0f ms (CPU %.0f; %.1f tokens/s), "
                                + "first ids %s%n", r, (t1 - t0) / 1e6, (c1 - c0) / 1e6, nNew - 1, (t2 - t1) / 1e6,
                        (c2 - c1) / 1e6, b * (nNew - 1) / ((t2 - t1) / 1e9),
                        Arrays.toString(Arrays.copyOf(ids[0], Math.min(8, nNew))));
                if (r >= warmup) {
                    pre[r - warmup] = (t1 - t0) / 1e6;
                    dec[r - warmup] = (t2 - t1) / 1e6;
                    preCpu[r - warmup] = (c1 - c0) / 1e6;
                    decCpu[r - warmup] = (c2 - c1) / 1e6;
                }
            }
        }
        double preMs = LlamaBenchSupport.median(pre), decMs = LlamaBenchSupport.median(dec);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("bench", "gen");
        r.put("impl", naive ? "align4j-nocache" : "align4j");
        r.put("B", b);
        r.put("prompt", p);
        r.put("new", newTokens);
        r.put("threads", threads);
        r.put("prefill_ms", preMs);
        r.put("decode_ms", decMs);
        r.put("decode_tokens_per_s", b * (newTokens - 1) / (decMs / 1e3));
        r.put("total_tokens_per_s", b * newTokens / ((preMs + decMs) / 1e3));
        r.put("prefill_cpu_ms", LlamaBenchSupport.median(preCpu));
        r.put("decode_cpu_ms", LlamaBenchSupport.median(decCpu));
        r.put("peak_rss_mb", Memory.peakBytes() / 1048576.0);
        r.put("read_gbs", gbs);
        r.put("param_bytes", 4 * config.numParameters());
        LlamaBenchSupport.emit(r);
    }

    /** ids[i][s] = the greedy token of row i of {@code logits [B, V]}. */
    private static void pick(Tensor logits, Sampler greedy, int[][] ids, int s, int v) {
        float[] host = logits.toFloatArray();
        for (int i = 0; i < ids.length; i++) ids[i][s] = greedy.sample(host, i * v, v, null).token();
    }
}
