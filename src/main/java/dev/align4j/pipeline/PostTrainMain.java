package dev.align4j.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code align4j post-train --out DIR [--seed N]}: runs {@link PostTrainingPipeline} with
 * {@link PipelineConfig#small} on the CPU and prints a summary table (also in {@code DIR/summary.json}).
 * Bad arguments print one line and exit with code 2.
 */
public final class PostTrainMain {
    private PostTrainMain() {}

    public static void main(String[] args) throws Exception {
        Path out = null;
        long seed = 1;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if ((a.equals("--out") || a.equals("--seed")) && i + 1 >= args.length) fail(a + " needs a value");
            switch (a) {
                case "--out" -> out = Path.of(args[++i]);
                case "--seed" -> {
                    try {
                        seed = Long.parseLong(args[++i]);
                    } catch (NumberFormatException e) {
                        fail("--seed must be an integer, got '" + args[i] + "'");
                    }
                }
                case "--help", "-h" -> {
                    System.out.println("usage: align4j post-train --out DIR [--seed N]");
                    return;
                }
                default -> fail("unknown argument '" + a + "' (usage: align4j post-train --out DIR [--seed N])");
            }
        }
        if (out == null) fail("--out DIR is required");
        PostTrainingPipeline.Summary s = PostTrainingPipeline.run(PipelineConfig.small(seed), out, line -> System.out.println("[align4j] " + line));
        System.out.println(table(s));
    }

    /** The summary as a Markdown table plus the PPO curves' first and last points. */
    public static String table(PostTrainingPipeline.Summary s) {
        StringBuilder sb = new StringBuilder();
        sb.append("| stage | gold (greedy) | gold (sampled) | ECE | entropy | distinct-2 | win vs SFT (W/T/L) | train s |\n");
        sb.append("|---|---:|---:|---:|---:|---:|---|---:|\n");
        for (PostTrainingPipeline.StageEval e : s.stages())
            sb.append(String.format("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %.0f |%n", e.stage(), e.gold().accuracy(),
                    e.diversity().sampleAccuracy(), e.gold().ece(), e.diversity().meanEntropy(), e.diversity().distinct2(),
                    e.vsSft() == null ? "" : e.vsSft().wins() + "/" + e.vsSft().ties() + "/" + e.vsSft().losses(), e.seconds()));
        sb.append(String.format("%nreward model held-out accuracy %.3f on %d pairs; pairs: %s%n", s.rewardHeldOut().accuracy(),
                s.rewardHeldOut().n(), s.pairs()));
        if (s.bestOfN() != null) sb.append(s.bestOfN()).append('\n');
        for (Map.Entry<String, dev.align4j.eval.BestOfN> e : s.heldOutProxy().entrySet())
            sb.append(String.format("held-out samples of %s: mean raw reward %.3f, sampled gold %.3f%n", e.getKey(), e.getValue().proxy()[0],
                    e.getValue().gold()[0]));
        curve(sb, "ppo", s.ppo());
        curve(sb, "ppo_overopt", s.overOpt());
        sb.append(String.format("total %.0f s%n", s.seconds()));
        return sb.toString();
    }

    private static void curve(StringBuilder sb, String name, List<Map<String, Object>> lines) {
        if (lines.isEmpty()) return;
        Map<String, Object> a = lines.get(0), b = lines.get(lines.size() - 1);
        sb.append(String.format("%s: proxy %.3f -> %.3f, gold %.3f -> %.3f, KL %.3f -> %.3f over %d steps%n", name,
                num(a, "objective/scores"), num(b, "objective/scores"), num(a, "objective/gold"), num(b, "objective/gold"),
                num(a, "objective/kl"), num(b, "objective/kl"), lines.size()));
    }

    private static double num(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static void fail(String msg) {
        System.err.println("align4j post-train: " + msg);
        System.exit(2);
    }
}
