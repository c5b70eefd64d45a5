package dev.align4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Metrics against hand-computed values. */
class MetricsTest {
    @Test
    void distinctNByHand() {
        List<int[]> s = List.of(new int[] {1, 2, 3}, new int[] {1, 2, 4});
        assertEquals(4.0 / 6, Metrics.distinctN(s, 1), 1e-15);   // {1,2,3,4} of 6
        assertEquals(3.0 / 4, Metrics.distinctN(s, 2), 1e-15);   // (1,2) twice, (2,3), (2,4)
        assertEquals(1.0, Metrics.distinctN(s, 3), 1e-15);
        assertTrue(Double.isNaN(Metrics.distinctN(s, 4)));         // no 4-gram: undefined
        assertTrue(Double.isNaN(Metrics.distinctN(List.of(), 1)));
        // n-grams do not span samples: [1],[2] has no bigram
        assertTrue(Double.isNaN(Metrics.distinctN(List.of(new int[] {1}, new int[] {2}), 2)));
        // a collapsed policy: the same sample 4 times
        List<int[]> same = List.of(new int[] {5, 6}, new int[] {5, 6}, new int[] {5, 6}, new int[] {5, 6});
        assertEquals(2.0 / 8, Metrics.distinctN(same, 1), 1e-15);
        assertEquals(1.0 / 4, Metrics.distinctN(same, 2), 1e-15);
        assertEquals(0.6, Metrics.distinctNWords(List.of("a b a", " b  c "), 1), 1e-15);   // {a,b,c} of 5
        assertEquals(1.0, Metrics.distinctNWords(List.of("a b a", "b c"), 2), 1e-15);     // (a,b),(b,a),(b,c)
    }

    @Test
    void eceByHand() {
        double[] c = {0.95, 0.95, 0.15, 0.55};
        boolean[] ok = {true, false, false, true};
        // bin 9: 2 items, acc .5, conf .95 → .45·2/4; bin 1: acc 0, conf .15 → .15/4; bin 5: acc 1, conf .55 → .45/4
        assertEquals(0.45 * 0.5 + 0.15 * 0.25 + 0.45 * 0.25, Metrics.expectedCalibrationError(c, ok, 10), 1e-12);
        // one bin: |mean accuracy − mean confidence|
        assertEquals(Math.abs(0.5 - 0.65), Metrics.expectedCalibrationError(c, ok, 1), 1e-12);
        // perfectly calibrated at the ends; 1.0 falls in the last bin, 0.0 in the first
        assertEquals(0.0, Metrics.expectedCalibrationError(new double[] {1, 1, 0, 0}, new boolean[] {true, true, false, false}, 10));
        assertEquals(1.0, Metrics.expectedCalibrationError(new double[] {1, 0}, new boolean[] {false, true}, 10));
        // bin edges: 0.1 belongs to bin 1, with 0.15
        assertEquals(0.125, Metrics.expectedCalibrationError(new double[] {0.1, 0.15}, new boolean[] {false, false}, 10), 1e-12);
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Metrics.expectedCalibrationError(new double[] {1.1}, new boolean[] {true}, 10)).getMessage().contains("confidence[0]"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Metrics.expectedCalibrationError(new double[] {Double.NaN}, new boolean[] {true}, 10)).getMessage().contains("confidence[0]"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Metrics.expectedCalibrationError(new double[] {0.5}, new boolean[] {true, false}, 10)).getMessage().contains("correct"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Metrics.expectedCalibrationError(new double[] {0.5}, new boolean[] {true}, 0)).getMessage().contains("bins"));
        assertThrows(IllegalArgumentException.class, () -> Metrics.expectedCalibrationError(new double[0], new boolean[0], 10));
    }

    @Test
    void meanAndStd() {
        assertEquals(2.5, Metrics.mean(new double[] {1, 2, 3, 4}), 1e-15);
        assertEquals(Math.sqrt(1.25), Metrics.std(new double[] {1, 2, 3, 4}), 1e-15);
        assertEquals(0.0, Metrics.std(new double[] {7}));
        assertTrue(Double.isNaN(Metrics.mean(new double[0])));
        assertTrue(Double.isNaN(Metrics.std(new double[0])));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Metrics.distinctN(List.of(), 0)).getMessage().contains("n"));
    }
}
