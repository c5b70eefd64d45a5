package dev.align4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PairedGainTest {
    @Test
    void gainAndStandardErrorOfTheDifferences() {
        // d = {1, 0, 0, 1}: mean 0.5, sample sd √(1/3), se √(1/3) / 2
        PairedGain g = PairedGain.of(List.of(1.0, 0.0, 1.0, 1.0), List.of(0.0, 0.0, 1.0, 0.0));
        assertEquals(4, g.n());
        assertEquals(0.5, g.gain(), 1e-15);
        assertEquals(Math.sqrt(1.0 / 3) / 2, g.se(), 1e-15);
        assertEquals("+0.500 ± 0.289", g.toString());
        assertTrue(Double.isNaN(PairedGain.of(List.of(1.0), List.of(0.0)).se()), "one task: no error");
    }

    /** Pairing: a shared per-task difficulty adds nothing to the error; the error is that of the differences alone. */
    @Test
    void pairingRemovesTheTasksOwnVariance() {
        Random rnd = new Random(System.nanoTime());
        List<Double> a = new ArrayList<>(), b = new ArrayList<>();
        double sum = 0, ss = 0;
        int n = 300;
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            double task = 10 * rnd.nextGaussian();
            d[i] = 0.1 + 0.01 * rnd.nextGaussian();
            a.add(task + d[i]);
            b.add(task);
            sum += d[i];
        }
        double mean = sum / n;
        for (double x : d) ss += (x - mean) * (x - mean);
        PairedGain g = PairedGain.of(a, b);
        assertEquals(mean, g.gain(), 1e-12);
        assertEquals(Math.sqrt(ss / (n - 1) / n), g.se(), 1e-12);
    }

    @Test
    void badInputIsNamed() {
        assertThrows(IllegalArgumentException.class, () -> PairedGain.of(List.of(1.0), List.of()), "length");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PairedGain.of(List.of(), List.of()));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
    }
}
