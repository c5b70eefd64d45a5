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
        gains(sb, s);
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

    /**
     * Each stage after SFT against SFT on the same held-out tasks: the paired gain in greedy and in sampled gold with
     * its standard error, and the arithmetic families' accuracies (greedy / sampled), which only a verifier can judge;
     * then the same on the training split's arithmetic, where a policy shows what it learned of those families.
     */
    private static void gains(StringBuilder sb, PostTrainingPipeline.Summary s) {
        if (s.stages().stream().noneMatch(e -> e.stage().equals("sft"))) return;
        PostTrainingPipeline.StageEval sft = s.stage("sft");
        sb.append(String.format("%ngain over SFT on %d held-out tasks (paired mean ± standard error; greedy, then %d samples a task):%n",
                sft.gold().n(), sft.diversity().samplesPerPrompt()));
        List<PostTrainingPipeline.StageEval> after = s.stages().subList(s.stages().indexOf(sft), s.stages().size());
        gains(sb, after);
        if (sft.trainSplit() == null) return;
        sb.append(String.format("%nthe same on %d arithmetic problems of the training split (the problems the trainers draw from):%n",
                sft.trainSplit().gold().n()));
        gains(sb, after.stream().map(PostTrainingPipeline.StageEval::onTrainSplit).toList());
    }

    /** One line per stage: the first ({@code SFT}) with its arithmetic, the others with their gains over it too. */
    private static void gains(StringBuilder sb, List<PostTrainingPipeline.StageEval> stages) {
        PostTrainingPipeline.StageEval sft = stages.get(0);
        sb.append(String.format("  %-12s %s%n", sft.stage(), families(sft)));
        for (PostTrainingPipeline.StageEval e : stages.subList(1, stages.size()))
            sb.append(String.format("  %-12s greedy %s  sampled %s  %s%n", e.stage(), e.greedyGain(sft), e.sampledGain(sft),
                    families(e)));
    }

    /** "add 0.09 / 0.12, sub ..." (greedy / sampled) for the stage's arithmetic families present. */
    private static String families(PostTrainingPipeline.StageEval e) {
        StringBuilder sb = new StringBuilder();
        for (String f : PostTrainingPipeline.ARITHMETIC) {
            Double g = e.gold().familyAccuracy().get(f), smp = e.diversity().familyAccuracy().get(f);
            if (g != null && smp != null) sb.append(String.format("%s%s %.3f / %.3f", sb.isEmpty() ? "" : ", ", f, g, smp));
        }
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
