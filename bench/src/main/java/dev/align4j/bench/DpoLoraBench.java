package dev.align4j.bench;

import dev.align4j.data.TokenizedPair;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Llama;
import dev.align4j.model.LlamaConfig;
import dev.align4j.model.LoraConfig;
import dev.align4j.tensor.Device;
import dev.align4j.train.DpoConfig;
import dev.align4j.train.DpoTrainer;
import dev.align4j.train.OptimConfig;
import dev.align4j.train.Schedule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The resident memory of DPO on a Llama-family model (default SmolLM2-135M's shape, random weights, saved to a temporary
 * folder and loaded back as a user's model would be) in three set-ups, one per process: {@code full} (every weight
 * trains, the reference a separate frozen copy: TRL without PEFT), {@code lora-copy} (LoRA adapters, the reference still
 * a separate copy of the base) and {@code lora-off} (LoRA adapters, the reference the policy with its adapters off:
 * no second model). Runs the reference pass over the pairs (DpoTrainer.create caches it) and {@code --steps} DPO steps;
 * prints one {@code RESULT} line with the peak RSS (VmHWM), the model's parameter, gradient and AdamW bytes, and the
 * step time.
 *
 * <pre>java -Xmx1g -cp bench/target/benchmarks.jar dev.align4j.bench.DpoLoraBench --mode lora-off [--pairs 8] [--T 256]
 *      [--batch 2] [--steps 2] [--lora-r 8]</pre>
 */
public final class DpoLoraBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> o = LlamaBenchSupport.options(args, LlamaBenchSupport.withModelDefaults(Map.of(
                "mode", "lora-off", "pairs", "8", "T", "256", "batch", "2", "steps", "2", "lora-r", "8")));
        String mode = o.get("mode");
        if (!List.of("full", "lora-copy", "lora-off").contains(mode)) throw new IllegalArgumentException("--mode full|lora-copy|lora-off");
        int t = Integer.parseInt(o.get("T")), n = Integer.parseInt(o.get("pairs")), batch = Integer.parseInt(o.get("batch"));
        int steps = Integer.parseInt(o.get("steps")), r = Integer.parseInt(o.get("lora-r"));
        LlamaConfig config = LlamaBenchSupport.config(o);
        Path dir = Files.createTempDirectory("a4j-dpo-bench");
        try (Llama m = Llama.create(config, Device.cpu(), 1)) {
            m.save(dir.resolve("base"));
        }
        Random rnd = new Random(2);
        List<TokenizedPair> pairs = new ArrayList<>();
        int half = t / 2;
        for (int i = 0; i < n; i++) pairs.add(new TokenizedPair(ids(rnd, half, config), ids(rnd, half, config), ids(rnd, half, config)));
        System.gc();
        long rssBefore = Memory.rssBytes();
        long t0 = System.nanoTime();
        try (CausalLm policy = CausalLm.load(dir.resolve("base"), Device.cpu());
             CausalLm ref = mode.equals("lora-off") ? null : policy.copy()) {
            if (!mode.equals("full")) policy.attachLora(LoraConfig.defaults(r).withAlpha(2 * r).withTargets(List.of(LoraConfig.ALL_LINEAR)), 3);
            DpoConfig cfg = DpoConfig.defaults().withBatch(batch, 1).withSchedule(new Schedule(steps + 1, 0, 0, 4))
                    .withOptim(OptimConfig.constant(1e-4, 0));
            try (DpoTrainer tr = DpoTrainer.create(policy, ref, cfg, pairs, List.of(), 0, dir.resolve("run"))) {
                long t1 = System.nanoTime();
                double[] ms = new double[steps];
                for (int s = 0; s < steps; s++) {
                    long a = System.nanoTime();
                    tr.step(); // steps + 1 scheduled: no checkpoint is written
                    ms[s] = (System.nanoTime() - a) / 1e6;
                }
                long total = policy.layout().size(), trainable = policy.lora() != null ? policy.lora().size() : total;
                Map<String, Object> res = new LinkedHashMap<>();
                res.put("bench", "dpo-memory");
                res.put("mode", mode);
                res.put("params", total);
                res.put("trainable_params", trainable);
                res.put("reference_model_bytes", ref != null ? 4 * total : 0);
                res.put("grad_bytes", 4 * trainable);
                res.put("optimizer_bytes", 8 * trainable);
                res.put("reference_pass_ms", (t1 - t0) / 1e6);
                res.put("step_ms", ms);
                res.put("median_step_ms", LlamaBenchSupport.median(ms));
                res.put("rss_before_mb", rssBefore / 1048576.0);
                res.put("peak_rss_mb", Memory.peakBytes() / 1048576.0);
                LlamaBenchSupport.emit(res);
            }
        } finally {
            try (var w = Files.walk(dir)) {
                w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static int[] ids(Random rnd, int len, LlamaConfig c) {
        int[] x = new int[len];
        for (int i = 0; i < len; i++) x[i] = 3 + rnd.nextInt(c.vocabSize() - 3);
        return x;
    }
}
