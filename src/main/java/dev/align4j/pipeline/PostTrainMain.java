package dev.align4j.pipeline;

import java.util.List;
import java.util.Map;

/**
 * The summary table that {@code align4j post-train} and {@code align4j demo} print for a
 * {@link PostTrainingPipeline.Summary} (the commands are in {@code dev.align4j.cli}).
 */
public final class PostTrainMain {
    private PostTrainMain() {}

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
        if (!s.grpo().isEmpty()) {
            Map<String, Object> a = s.grpo().get(0), b = s.grpo().get(s.grpo().size() - 1);
            sb.append(String.format("grpo: reward (gold of the rollouts) %.3f -> %.3f, KL %.3f -> %.3f, entropy %.3f -> %.3f over %d steps%n",
                    num(a, "reward"), num(b, "reward"), num(a, "objective/kl"), num(b, "objective/kl"), num(a, "entropy"),
                    num(b, "entropy"), s.grpo().size()));
        }
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
}
