package dev.align4j.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * A run folder with plausible numbers for every stage, in the layout the pipeline writes (keys as the trainers
 * and PostTrainingPipeline.writeSummary spell them). {@code stages} picks which trainer folders exist.
 */
final class SyntheticRun {
    static final Set<String> ALL = Set.copyOf(RunFolder.TRAINING_STAGES);
    static final String EVIL = "<script>alert('x')</script> & \"q\"";

    private static final ObjectMapper JSON = new ObjectMapper();

    private SyntheticRun() {}

    static Path create(Path dir, Set<String> stages, boolean samples) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(42);
        Map<String, List<Map<String, Object>>> lines = new LinkedHashMap<>();
        if (stages.contains("pretrain")) lines.put("pretrain", pretrain(r, 120));
        if (stages.contains("sft")) lines.put("sft", trainEval(r, 200, 3.0, 0.6, "eval/loss"));
        if (stages.contains("rm")) lines.put("rm", rm(r, 150));
        if (stages.contains("ppo")) lines.put("ppo", ppo(r, 30, 0.05));
        if (stages.contains("ppo_overopt")) lines.put("ppo_overopt", ppo(r, 30, 0.0));
        if (stages.contains("dpo")) lines.put("dpo", trainEval(r, 80, 0.69, 0.3, "eval/loss"));
        if (stages.contains("simpo")) lines.put("simpo", trainEval(r, 80, 1.9, 0.8, "eval/loss"));
        if (stages.contains("grpo")) lines.put("grpo", grpo(r, 30));
        for (var e : lines.entrySet()) {
            Path d = dir.resolve(e.getKey());
            Files.createDirectories(d);
            StringBuilder sb = new StringBuilder();
            for (Map<String, Object> l : e.getValue()) sb.append(JSON.writeValueAsString(l)).append('\n');
            Files.writeString(d.resolve(RunFolder.METRICS), sb.toString(), StandardCharsets.UTF_8);
        }

        Map<String, Object> root = new LinkedHashMap<>();
        List<Map<String, Object>> st = new ArrayList<>();
        double[] acc = {0.0, 0.05, 0.30, 0.25, 0.20, 0.34, 0.31, 0.42};
        String[] names = {"base", "pretrain", "sft", "ppo", "ppo_overopt", "dpo", "simpo", "grpo"};
        for (int i = 0; i < names.length; i++) {
            if (i > 0 && !stages.contains(names[i])) continue;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stage", names[i]);
            m.put("gold/accuracy", acc[i]);
            for (String f : List.of("add", "reverse", "upper")) m.put("gold/accuracy/" + f, Math.min(1, acc[i] * (1 + f.length() / 10.0)));
            if (i >= 2) m.put("train_split/gold/accuracy/add", 0.5 + 0.01 * i); // from SFT on, as PostTrainingPipeline writes it
            m.put("gold/response_tokens", 3.0);
            m.put("gold/eos_rate", 1.0);
            m.put("gold/confidence", 0.3);
            m.put("gold/ece", 0.05 + 0.02 * i);
            m.put("sample/distinct1", 0.4);
            m.put("sample/distinct2", 0.9 - 0.08 * i);
            m.put("sample/unique_responses", 0.7);
            m.put("sample/entropy", 5.5 / (1 + i));
            m.put("sample/sample_accuracy", acc[i] * 0.8);
            m.put("sample/sample_eos_rate", 1.0);
            if (i >= 3) m.put("win_rate_vs_sft", 0.45 + 0.02 * i);
            if (i >= 3) {   // the gains over SFT (row 2), as PostTrainingPipeline writes them
                m.put("gain_vs_sft/greedy", acc[i] - acc[2]);
                m.put("gain_vs_sft/greedy_se", 0.02);
                m.put("gain_vs_sft/sampled", 0.8 * (acc[i] - acc[2]));
                m.put("gain_vs_sft/sampled_se", 0.01);
            }
            if (i >= 2) m.put("reward/heldout_mean", -1.25 + 0.5 * (i - 2)); // the RM's score of held-out samples: SFT on
            m.put("train_seconds", 10.0 * i);
            st.add(m);
        }
        root.put("stages", st);
        root.put("pairs", "512 pairs from 512 prompts");
        root.put("reward_model_heldout_accuracy", 0.71);
        if (stages.contains("rm")) {
            List<Map<String, Object>> bon = new ArrayList<>();
            for (int n = 1; n <= 16; n *= 2)
                bon.add(Map.of("n", n, "kl", Math.log(n) - (n - 1.0) / n, "gold", 0.45 + 0.1 * Math.log(n) / Math.log(16), "proxy", 0.3 * n));
            root.put("best_of_n", bon);
        }
        root.put("ppo", lines.getOrDefault("ppo", List.of()));
        root.put("ppo_overopt", lines.getOrDefault("ppo_overopt", List.of()));
        root.put("grpo", lines.getOrDefault("grpo", List.of()));
        if (stages.contains("ppo")) {
            Map<String, Object> hack = new LinkedHashMap<>();
            hack.put("family", "sort");
            hack.put("prompt", "Q: Sort 940 ascending.\nA:");
            hack.put("gold", "049");
            hack.put("sft", " 049");
            hack.put("ppo", EVIL);
            hack.put("rm_ppo", 1.25);
            hack.put("rm_gold", -0.5);
            if (stages.contains("grpo")) {
                hack.put("grpo", " 049");
                hack.put("grpo_correct", true);
            }
            root.put("reward_hacks", Map.of("judged", 210, "ppo_wrong", 77, "hacks", 31, "learned", 9, "grpo_right_on_hacks",
                    stages.contains("grpo") ? 12 : -1, "examples", List.of(hack)));
        }
        root.put("seconds", 456.7);
        root.put("seed", 1234);
        Files.writeString(dir.resolve(RunFolder.SUMMARY), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root), StandardCharsets.UTF_8);

        if (samples) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < names.length; i++) {
                if (i > 0 && !stages.contains(names[i])) continue;
                for (int k = 0; k < 5; k++) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("stage", names[i]);
                    m.put("prompt", "reverse: abc" + k);
                    m.put("response", i == 2 && k == 0 ? EVIL : "cba" + k);
                    m.put("gold", "cba" + k);
                    m.put("correct", k % 2 == 0);
                    sb.append(JSON.writeValueAsString(m)).append('\n');
                }
            }
            Files.writeString(dir.resolve(RunFolder.SAMPLES), sb.toString(), StandardCharsets.UTF_8);
        }
        return dir;
    }

    private static List<Map<String, Object>> pretrain(Random r, int n) {
        return steps(n, (s, m) -> {
            m.put("lr", 3e-4);
            m.put("loss", 5.5 * Math.exp(-s / 40.0) + 1.2 + 0.1 * r.nextGaussian());
            m.put("grad_norm", 1.0);
            m.put("tokens", 4096);
            m.put("masked_tokens", 4000);
            m.put("tokens_per_s", 20000.0);
            m.put("mix_share", 0.1);
            m.put("eval_loss", s % 20 == 0 ? 5.5 * Math.exp(-s / 40.0) + 1.3 : null);
        });
    }

    private static List<Map<String, Object>> trainEval(Random r, int n, double start, double end, String evalKey) {
        return steps(n, (s, m) -> {
            double loss = end + (start - end) * Math.exp(-s / (n / 5.0));
            m.put("loss", loss + 0.08 * r.nextGaussian());
            m.put("rewards/chosen", 0.01 * s);
            m.put("rewards/rejected", -0.01 * s);
            m.put("rewards/accuracies", Math.min(1, 0.5 + s / (2.0 * n)));
            m.put("grad_norm", 2.0);
            m.put("lr", 1e-4);
            m.put("time_s", 0.05);
            if (s % 20 == 0) m.put(evalKey, loss + 0.05);
        });
    }

    private static List<Map<String, Object>> rm(Random r, int n) {
        return steps(n, (s, m) -> {
            double a = 0.5 + 0.4 * (1 - Math.exp(-s / 50.0));
            m.put("loss", 0.69 - 0.4 * (1 - Math.exp(-s / 50.0)) + 0.05 * r.nextGaussian());
            m.put("accuracy", Math.max(0, Math.min(1, a + 0.1 * r.nextGaussian())));
            m.put("margin", 0.1 * s / n);
            m.put("rewards/chosen", 0.5);
            m.put("rewards/rejected", 0.3);
            m.put("grad_norm", 1.5);
            m.put("lr", 5e-5);
            m.put("epoch", s / 32.0);
            if (s % 25 == 0) {
                m.put("eval/loss", 0.6 - s / 1000.0);
                m.put("eval/accuracy", a - 0.1);
            }
        });
    }

    private static List<Map<String, Object>> ppo(Random r, int n, double beta) {
        return steps(n, (s, m) -> {
            double kl = s * (beta == 0 ? 0.08 : 0.04) + 0.05 * r.nextDouble();
            m.put("objective/kl", kl);
            m.put("objective/entropy", 4.0 - s * 0.05);
            m.put("objective/entropy_per_token", 0.9);
            m.put("objective/scores", -2 + 1.5 * Math.sqrt(kl) + 0.2 * r.nextGaussian());
            m.put("objective/rlhf_reward", -2 + 1.5 * Math.sqrt(kl) - beta * kl);
            m.put("objective/kl_coef", beta);
            m.put("objective/gold", Math.max(0, 0.25 + 0.1 * kl - 0.12 * kl * kl + 0.02 * r.nextGaussian()));
            m.put("response_length", 4.0);
            m.put("eos_rate", 1.0);
            m.put("loss/policy", -0.01 + 0.005 * r.nextGaussian());
            m.put("loss/value", 100.0 * Math.exp(-s / 10.0) + 20);
            m.put("policy/clipfrac", 0.05 + 0.02 * r.nextDouble());
            m.put("policy/approxkl", 0.004);
            m.put("val/clipfrac", 0.5);
            m.put("grad_norm", 8.0);
            m.put("lr", 5e-5);
            m.put("val/vpred", 2.0);
            m.put("val/var_explained", s == 3 ? "NaN" : -1.0); // non-finite values arrive as strings
            if (s % 10 == 0) m.put("eval/gold_accuracy", 0.25);
        });
    }

    private static List<Map<String, Object>> grpo(Random r, int n) {
        return steps(n, (s, m) -> {
            double kl = s * 0.01 + 0.01 * r.nextDouble();
            m.put("reward", 0.5 + 0.3 * Math.sqrt(kl) + 0.02 * r.nextGaussian());
            m.put("reward_std", 0.3);
            m.put("frac_reward_zero_std", 0.4);
            m.put("objective/kl", kl);
            m.put("entropy", 0.4 - s * 0.005);
            m.put("completions/mean_length", 4.0);
            m.put("loss", 0.001 * r.nextGaussian());
            m.put("grad_norm", 0.5);
            m.put("lr", 5e-5);
            if (s % 10 == 0) m.put("eval/gold_accuracy", 0.45);
        });
    }

    /** Lines of steps 1..n: {@code "step"} first, then what {@code fill} puts for the step, in step order. */
    private static List<Map<String, Object>> steps(int n, BiConsumer<Integer, Map<String, Object>> fill) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int s = 1; s <= n; s++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", s);
            fill.accept(s, m);
            out.add(m);
        }
        return out;
    }
}
