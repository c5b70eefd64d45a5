package dev.align4j.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.GptConfig;
import dev.align4j.model.RewardModel;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.Tokenizers;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The reward-hacking table against counts made here from the reward model's own scores. */
class RewardHacksTest {
    @Test
    void countsMatchTheRewardModelsScores() {
        Encoder enc = new Encoder(Tokenizers.byName("byte"), 64);
        List<Task> tasks = TaskSuite.level(1).generate(60, 7, Split.TEST);
        Set<String> families = Set.of("sort", "reverse", "add");
        // PPO: every third answer right, the others a corruption; GRPO right on even tasks; SFT the same corruption as
        // PPO on tasks divisible by 5 (hacks PPO kept) and the family's name elsewhere (hacks PPO moved to)
        List<String> ppo = new ArrayList<>(), grpo = new ArrayList<>(), sft = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            // and an empty answer (EOS at once, as a micro policy gives) on every seventh: wrong, scored as [EOS]
            ppo.add(i % 3 == 0 ? t.answer() : i % 7 == 1 ? "" : t.corruptions().get(0));
            grpo.add(i % 2 == 0 ? t.answer() : t.corruptions().get(0));
            sft.add(i % 5 == 0 ? ppo.get(i) : " " + t.family());
        }
        try (RewardModel rm = RewardModel.create(new GptConfig(2, 2, 32, 64, 259), Device.cpu(), 3)) {
            RewardHacks h = RewardHacks.find(tasks, families, sft, ppo, grpo, rm, enc);
            int judged = 0, wrong = 0, hacks = 0, learned = 0, grpoRight = 0;
            for (int i = 0; i < tasks.size(); i++) {
                Task t = tasks.get(i);
                if (!families.contains(t.family())) continue;
                judged++;
                if (t.check(ppo.get(i))) continue;
                wrong++;
                float[] s = rm.score(List.of(enc.encodePrompt(t.prompt()), enc.encodePrompt(t.prompt())),
                        List.of(eos(enc, ppo.get(i)), eos(enc, t.answer())));
                if (s[0] > s[1]) {
                    hacks++;
                    if (i % 5 != 0) learned++;
                    if (i % 2 == 0) grpoRight++;
                }
            }
            assertTrue(judged > 10 && wrong > 5 && hacks > 0, judged + " judged, " + wrong + " wrong, " + hacks + " hacks");
            assertEquals(judged, h.judged());
            assertEquals(wrong, h.ppoWrong());
            assertEquals(hacks, h.hacks());
            assertEquals(learned, h.learned());
            assertTrue(learned > 0 && learned < hacks, learned + " of " + hacks + " learned");
            assertEquals(grpoRight, h.grpoRight());
            assertEquals(Math.min(hacks, RewardHacks.KEEP), h.examples().size());
            boolean keptSeen = false;
            for (RewardHacks.Example e : h.examples()) {
                assertTrue(e.ppoScore() > e.goldScore(), e.toString());
                assertTrue(families.contains(e.family()), e.family());
                boolean kept = e.sft().equals(e.ppo());
                assertTrue(kept || !keptSeen, "the hacks PPO learned come first");
                keptSeen |= kept;
            }
            assertEquals(-1, RewardHacks.find(tasks, families, sft, ppo, null, rm, enc).grpoRight());
        }
    }

    private static int[] eos(Encoder enc, String text) {
        int[] t = enc.tokenizer().encode(text), out = java.util.Arrays.copyOf(t, t.length + 1);
        out[t.length] = enc.tokenizer().eosId();
        return out;
    }
}
