package dev.align4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.Gpt;
import dev.align4j.model.RewardModel;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Best-of-n: the exact subset expectation against enumeration, its limits, and an end-to-end run. */
class BestOfNTest {
    @Test
    void expectationEqualsEnumerationOfEverySubsetWithTies() {
        Random rnd = new Random(System.nanoTime());
        for (int trial = 0; trial < 20; trial++) {
            int total = 1 + rnd.nextInt(8);
            double[] s = new double[total], g = new double[total];
            for (int i = 0; i < total; i++) {
                s[i] = rnd.nextInt(3); // few distinct values: ties everywhere
                g[i] = rnd.nextInt(2);
            }
            for (int n = 1; n <= total; n++) {
                double[] e = BestOfN.expectedBest(s, g, n), b = enumerate(s, g, n);
                assertEquals(b[0], e[0], 1e-12, "gold, N=" + total + " n=" + n);
                assertEquals(b[1], e[1], 1e-12, "score, N=" + total + " n=" + n);
            }
        }
    }

    /** Average over every n-subset of the gold (ties in the subset's maximum: their mean) and the maximum score. */
    private static double[] enumerate(double[] s, double[] g, int n) {
        int total = s.length;
        double sumG = 0, sumS = 0, count = 0;
        for (int mask = 0; mask < 1 << total; mask++) {
            if (Integer.bitCount(mask) != n) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < total; i++) if ((mask >> i & 1) == 1) max = Math.max(max, s[i]);
            double tg = 0, tn = 0;
            for (int i = 0; i < total; i++)
                if ((mask >> i & 1) == 1 && s[i] == max) {
                    tg += g[i];
                    tn++;
                }
            sumG += tg / tn;
            sumS += max;
            count++;
        }
        return new double[] {sumG / count, sumS / count};
    }

    @Test
    void limitsAndAPerfectReward() {
        // 2 prompts × 8 samples; a reward equal to the gold score gives pass@n = 1 − C(wrong, n)/C(8, n)
        double[] gold = {1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0};
        BestOfN b = BestOfN.of(gold.clone(), gold, 2, 8);
        assertArrayEquals(new int[] {1, 2, 4, 8}, b.n());
        assertEquals((1 / 8.0 + 5 / 8.0) / 2, b.gold()[0], 1e-12, "n = 1 is the mean gold");
        assertEquals((1 - 21 / 28.0 + 1 - 3 / 28.0) / 2, b.gold()[1], 1e-12, "pass@2");
        assertEquals(1.0, b.gold()[3], 1e-12, "n = N: the best sample");
        assertEquals(0.0, b.kl()[0], 0);
        assertEquals(Math.log(8) - 7 / 8.0, b.kl()[3], 1e-12);
        // an inverted reward picks the worst
        double[] inv = new double[gold.length];
        for (int i = 0; i < gold.length; i++) inv[i] = -gold[i];
        assertEquals(0.0, BestOfN.of(inv, gold, 2, 8).gold()[3], 1e-12);
        assertArrayEquals(new int[] {1, 2, 4, 5}, BestOfN.of(new double[5], new double[5], 1, 5).n());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BestOfN.of(new double[3], new double[4], 1, 3))
                .getMessage().contains("prompts × samples"));
    }

    @Test
    void endToEndOnATinyModel() {
        List<Task> tasks = TaskSuite.level(1).generate(6, 4, Split.TRAIN);
        try (Gpt m = TinyModels.overfit(tasks.subList(0, 3), 2, 600); RewardModel rm = RewardModel.fromPolicy(m, 5)) {
            BestOfN b = BestOfN.of(m, rm, TinyModels.encoder(), tasks, 8, 12, 1.0, 9);
            assertEquals(b.toString(), BestOfN.of(m, rm, TinyModels.encoder(), tasks, 8, 12, 1.0, 9).toString(), "deterministic");
            assertEquals(6, b.prompts());
            for (int q = 0; q < b.n().length; q++) {
                assertTrue(b.gold()[q] >= 0 && b.gold()[q] <= 1, b.toString());
                if (q > 0) assertTrue(b.proxy()[q] >= b.proxy()[q - 1] - 1e-9, "the proxy of best-of-n never falls with n: " + b);
            }
            assertTrue(b.gold()[0] > 0, "the overfit tasks are answered: " + b);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> BestOfN.of(m, rm, TinyModels.encoder(), tasks, 0, 12, 1.0, 9))
                    .getMessage().contains("samples"));
        }
    }
}
