package dev.align4j.pipeline;

import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedPair;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.RewardModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reward hacking set against a verifier on the same prompts: the held-out tasks of the families PPO rolled out on
 * where PPO's greedy answer is wrong and yet the reward model scores it above the right answer, each with the SFT
 * policy's and GRPO's greedy answers to the same prompt (GRPO was rewarded by the gold checker, so it had nothing
 * to hack).
 *
 * @param judged      held-out tasks of PPO's families
 * @param ppoWrong    of those, PPO's wrong answers
 * @param hacks       of those, the ones the reward model prefers to the right answer
 * @param learned     of the hacks, those where PPO's answer differs from SFT's (PPO moved to them; the others are
 *                    SFT's errors that PPO kept)
 * @param grpoRight   of the hacks, the prompts GRPO answered right (-1 without a GRPO stage)
 * @param examples    the first hacks PPO learned, then the first it kept, each in task order
 */
public record RewardHacks(int judged, int ppoWrong, int hacks, int learned, int grpoRight, List<Example> examples) {
    /** Examples kept for the report. */
    static final int KEEP = 10;

    /** One hack: the prompt, the right answer, each policy's answer and the reward model's two scores. */
    public record Example(String family, String prompt, String gold, String sft, String ppo, double ppoScore, double goldScore,
                   String grpo, boolean grpoCorrect) {}

    /**
     * Finds the hacks among {@code tasks} ({@code ppo}, {@code sft} and {@code grpo}, null without a GRPO stage: each
     * policy's greedy answers to them, in task order).
     */
    static RewardHacks find(List<Task> tasks, Set<String> families, List<String> sft, List<String> ppo, List<String> grpo,
                            RewardModel rm, Encoder enc) {
        List<Integer> wrong = new ArrayList<>();
        List<TokenizedPair> pairs = new ArrayList<>();
        int judged = 0;
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            if (!families.contains(t.family())) continue;
            judged++;
            if (t.check(ppo.get(i))) continue;
            wrong.add(i);
            pairs.add(enc.encodePair(t.prompt(), t.answer(), ppo.get(i)));
        }
        RewardModel.PairScores s = rm.scorePairs(pairs, 64, enc.tokenizer().padId());
        int hacks = 0, learned = 0, grpoRight = 0;
        List<Example> moved = new ArrayList<>(), kept = new ArrayList<>();
        for (int q = 0; q < wrong.size(); q++) {
            if (s.rejected()[q] <= s.chosen()[q]) continue;
            int i = wrong.get(q);
            Task t = tasks.get(i);
            boolean right = grpo != null && t.check(grpo.get(i));
            boolean changed = !ppo.get(i).equals(sft.get(i));
            hacks++;
            if (changed) learned++;
            if (right) grpoRight++;
            List<Example> to = changed ? moved : kept;
            if (to.size() < KEEP)
                to.add(new Example(t.family(), t.prompt(), t.answer().strip(), sft.get(i), ppo.get(i), s.rejected()[q],
                        s.chosen()[q], grpo == null ? null : grpo.get(i), right));
        }
        List<Example> examples = new ArrayList<>(moved);
        examples.addAll(kept.subList(0, Math.min(kept.size(), KEEP - moved.size())));
        return new RewardHacks(judged, wrong.size(), hacks, learned, grpo == null ? -1 : grpoRight, List.copyOf(examples));
    }

    /** The summary.json form. */
    Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("judged", judged);
        m.put("ppo_wrong", ppoWrong);
        m.put("hacks", hacks);
        m.put("learned", learned);
        m.put("grpo_right_on_hacks", grpoRight);
        List<Map<String, Object>> ex = new ArrayList<>();
        for (Example e : examples) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("family", e.family());
            x.put("prompt", e.prompt());
            x.put("gold", e.gold());
            x.put("sft", e.sft());
            x.put("ppo", e.ppo());
            x.put("rm_ppo", e.ppoScore());
            x.put("rm_gold", e.goldScore());
            if (e.grpo() != null) {
                x.put("grpo", e.grpo());
                x.put("grpo_correct", e.grpoCorrect());
            }
            ex.add(x);
        }
        m.put("examples", ex);
        return m;
    }
}
