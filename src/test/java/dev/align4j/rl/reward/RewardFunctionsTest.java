package dev.align4j.rl.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.GptConfig;
import dev.align4j.model.RewardModel;
import dev.align4j.rl.RewardScale;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.ByteTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built-in reward functions (gold, format, length, rm) and RewardSample's decoding. */
class RewardFunctionsTest {
    static final ByteTokenizer TOK = new ByteTokenizer();
    static final int EOS = ByteTokenizer.EOS;

    /** The ids of {@code text}, then EOS when {@code eos}. */
    static int[] ids(String text, boolean eos) {
        int[] t = TOK.encode(text);
        if (!eos) return t;
        int[] out = Arrays.copyOf(t, t.length + 1);
        out[t.length] = EOS;
        return out;
    }

    static RewardSample sample(int index, Task task, String completion, boolean eos) {
        return RewardSample.of(index, TOK.encode(task == null ? "Q: hi\nA:" : task.prompt()), ids(completion, eos), TOK, task);
    }

    static double one(PerSampleReward f, RewardSample s) {
        float[] v = f.score(List.of(s));
        assertEquals(1, v.length);
        assertEquals((float) f.score(s), v[0]);
        return v[0];
    }

    @Test
    void samplesDecodeUpToEosAndKnowWhetherTheyWereTruncated() {
        Task t = TaskSuite.level(1).generate(1, 3, Split.TRAIN).get(0);
        RewardSample s = sample(4, t, t.answer(), true);
        assertEquals(4, s.index());
        assertEquals(t.prompt(), s.prompt());
        assertEquals(t.answer(), s.completion());
        assertTrue(s.endedWithEos() && !s.truncated());
        assertEquals(t.answer().length(), s.answerTokens());
        assertEquals(t.answer().length() + 1, s.completionIds().length);
        assertEquals(EOS, s.completionIds()[s.completionIds().length - 1]);
        RewardSample cut = sample(5, t, t.answer() + "123", false);
        assertTrue(cut.truncated() && !cut.endedWithEos());
        assertEquals(t.answer().length() + 3, cut.answerTokens());
        RewardSample empty = RewardSample.of(0, TOK.encode("Q:"), new int[0], TOK, null);
        assertTrue(empty.truncated());
        assertEquals("", empty.completion());
        assertEquals(0, empty.answerTokens());
        // the arrays are the sample's own
        int[] c = ids(" 7", true);
        RewardSample own = RewardSample.of(0, TOK.encode("Q:"), c, TOK, null);
        c[0] = 'x';
        assertEquals(" 7", new String(new byte[] {(byte) own.completionIds()[0], (byte) own.completionIds()[1]}));
        // the batch form pairs prompts, completions and tasks by position
        List<RewardSample> b = RewardSample.of(List.of(TOK.encode("Q: a"), TOK.encode("Q: b")), List.of(ids(" x", true), ids(" y", false)),
                null, TOK);
        assertEquals(List.of(0, 1), b.stream().map(RewardSample::index).toList());
        assertEquals(List.of(" x", " y"), b.stream().map(RewardSample::completion).toList());
        assertThrows(IllegalArgumentException.class, () -> RewardSample.of(List.of(TOK.encode("Q")), List.of(), null, TOK));
        // describe() escapes and cuts long texts
        RewardSample longer = RewardSample.of(9, TOK.encode("Q: x\nA:"), ids("y".repeat(500), false), TOK, null);
        String d = longer.describe();
        assertTrue(d.startsWith("sample 9 (prompt \"Q: x\\nA:\", completion \"yyy"), d);
        assertTrue(d.contains("... (500 chars)") && d.contains("[truncated]") && d.length() < 300 && !d.contains("\n"), d);
    }

    @Test
    void goldIsTheTasksCheckerAfterEos() {
        PerSampleReward gold = RewardFunctions.gold();
        assertEquals("gold", gold.name());
        assertTrue(gold.threadSafe());
        long seed = System.nanoTime();
        for (Task t : TaskSuite.withVerifiable(2).generate(300, seed, Split.TRAIN)) {
            String tag = "seed " + seed + " " + t;
            assertEquals(1.0, one(gold, sample(0, t, t.answer(), true)), tag);
            assertEquals(1.0, one(gold, sample(0, t, t.answer().strip() + " ", true)), tag);   // Task's normalisation
            assertEquals(0.0, one(gold, sample(0, t, t.answer(), false)), tag + " (truncated)");
            assertEquals(0.0, one(gold, sample(0, t, t.answer() + t.answer(), true)), tag);
            for (String c : t.corruptions()) assertEquals(0.0, one(gold, sample(0, t, c, true)), tag + " corruption " + c);
        }
        // a sample without a task cannot be judged
        assertThrows(IllegalArgumentException.class, () -> gold.score(sample(0, null, " 1", true)));
    }

    @Test
    void formatIsOneAnswerLineThenEos() {
        PerSampleReward format = RewardFunctions.format();
        assertEquals("format", format.name());
        Task t = TaskSuite.level(1).only("add").generate(1, 1, Split.TRAIN).get(0);
        for (String ok : List.of(" 15", " kemot", " Buenos Aires", " x", " 1 2"))
            assertEquals(1.0, one(format, sample(0, t, ok, true)), "'" + ok + "'");
        for (String bad : List.of("15", "  15", " 15 ", " 15\n", " 14\nQ: 3+3", " ", "", " \t", " 1\t2", "\n 15"))
            assertEquals(0.0, one(format, sample(0, t, bad, true)), "'" + bad + "'");
        assertEquals(0.0, one(format, sample(0, t, " 15", false)), "truncated");
        // every gold answer of every family is well-formatted: gold implies format
        for (Task x : TaskSuite.withVerifiable(3).generate(1400, System.nanoTime(), Split.TRAIN))
            assertEquals(1.0, one(format, sample(0, x, x.answer(), true)), x.toString());
        // another format: the whole text must match
        PerSampleReward digits = RewardFunctions.format(java.util.regex.Pattern.compile(" \\d+"));
        assertEquals(1.0, one(digits, sample(0, t, " 15", true)));
        assertEquals(0.0, one(digits, sample(0, t, " 15a", true)));
    }

    @Test
    void lengthCountsTokensBeyondItsTarget() {
        PerSampleReward all = RewardFunctions.length(), beyond = RewardFunctions.length(3, 2);
        assertEquals("length", all.name());
        Task t = TaskSuite.level(1).only("add").generate(1, 1, Split.TRAIN).get(0);
        assertEquals(5, one(all, sample(0, t, " 1234", true)));        // EOS not counted
        assertEquals(5, one(all, sample(0, t, " 1234", false)));
        assertEquals(1.0, one(beyond, sample(0, t, " 1234", true)));  // (5 − 3) / 2
        assertEquals(0.0, one(beyond, sample(0, t, " 12", true)));
        assertEquals(0.0, one(all, RewardSample.of(0, TOK.encode("Q:"), new int[] {EOS}, TOK, null)));
        assertThrows(IllegalArgumentException.class, () -> RewardFunctions.length(-1, 1));
        assertThrows(IllegalArgumentException.class, () -> RewardFunctions.length(0, 0));
        assertThrows(IllegalArgumentException.class, () -> RewardFunctions.length(0, Double.NaN));
    }

    static final GptConfig MICRO = new GptConfig(1, 2, 16, 64, TOK.vocabSize());

    /** Tasks and sampled-looking completions: gold answers, corruptions, run-ons, truncations, an empty one. */
    static List<RewardSample> samples(long seed, int n) {
        Random rnd = new Random(seed);
        List<Task> tasks = TaskSuite.withVerifiable(1).generate(n, seed, Split.TRAIN);
        List<RewardSample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Task t = tasks.get(i);
            String c = switch (rnd.nextInt(5)) {
                case 0 -> t.answer();
                case 1 -> t.corruptions().get(rnd.nextInt(t.corruptions().size()));
                case 2 -> t.answer() + "\nQ: 1";
                case 3 -> "";
                default -> " " + Integer.toString(rnd.nextInt(1000));
            };
            out.add(RewardSample.of(i, TOK.encode(t.prompt()), ids(c, rnd.nextInt(4) != 0), TOK, t));
        }
        return out;
    }

    @Test
    void rmScoresAsPpoScoresItsRollouts(@TempDir Path dir) throws Exception {
        long seed = System.nanoTime();
        List<RewardSample> s = samples(seed, 37);
        List<int[]> p = s.stream().map(RewardSample::promptIds).toList(), c = s.stream().map(RewardSample::completionIds).toList();
        try (RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed)) {
            ModelReward f = RewardFunctions.rm(rm);
            assertEquals("rm", f.name());
            assertFalse(f.threadSafe());
            float[] got = f.score(s);
            // PpoTrainer's path: one SequenceBatch of the rollouts, the reward model's score at the last token
            assertArrayEquals(rm.score(SequenceBatch.ofResponses(p, c, 0)), got, "seed " + seed);
            float[] padded = rm.score(SequenceBatch.ofResponses(p, c, TOK.padId()));
            for (int i = 0; i < got.length; i++) assertEquals(padded[i], got[i], 1e-5f * (1 + Math.abs(got[i])), "seed " + seed + " row " + i);
            // a sample's score does not depend on its batch (up to summation order)
            RewardSample first = s.get(0);
            assertEquals(got[0], f.score(List.of(first))[0], 1e-5f * (1 + Math.abs(got[0])), "alone in its batch");
            // smaller forwards give the same scores up to summation order
            float[] chunked = ModelReward.of(rm, 8).score(s);
            for (int i = 0; i < got.length; i++) assertEquals(got[i], chunked[i], 1e-5f * (1 + Math.abs(got[i])), "seed " + seed + " row " + i);
            // a RewardScale around it, as PpoCommand standardises the reward model
            RewardScale scale = new RewardScale(rm, 0.25, 2.0);
            float[] std = new ModelReward("rm", scale, null, 0).score(s);
            for (int i = 0; i < got.length; i++) assertEquals((got[i] - 0.25) / 2.0, std[i], 1e-5, "row " + i);
            // through CombinedReward beside the text rewards, on a pool: the same column, on the calling thread
            try (CombinedReward cr = new CombinedReward(List.of(new CombinedReward.Weighted(RewardFunctions.gold(), 1),
                    new CombinedReward.Weighted(f, 0.5)), 4)) {
                CombinedReward.Result r = cr.score(s);
                assertArrayEquals(got, r.column("rm"));
                for (int i = 0; i < got.length; i++) assertEquals((float) (r.column("gold")[i] + 0.5 * got[i]), r.total()[i]);
            }
            // loaded from a directory by RewardSpec's default context, owned and closed by the reward built
            rm.save(dir);
            try (CombinedReward cr = RewardSpec.parse("gold:0,rm=" + dir + ":2").build(RewardSpec.Context.loading(Device.cpu()), 2)) {
                CombinedReward.Result r = cr.score(s);
                for (int i = 0; i < got.length; i++) {
                    assertEquals(got[i], r.column("rm")[i], 1e-5f * (1 + Math.abs(got[i])), "row " + i);
                    assertEquals(2 * r.column("rm")[i], r.total()[i], 1e-5f * (1 + Math.abs(got[i])), "row " + i);
                }
            }
        }
    }
}
