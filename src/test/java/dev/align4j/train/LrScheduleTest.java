package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void exactValues() {
        LrSchedule s = new LrSchedule(1.0, 0.1, 10, 110);
        assertEquals(0.1, s.lr(0), 0);          // (0 + 1) / 10
        assertEquals(0.5, s.lr(4), 0);
        assertEquals(1.0, s.lr(9), 0);          // end of warmup
        assertEquals(1.0, s.lr(10), 0);         // r = 0: cos 0 = 1
        assertEquals(0.55, s.lr(60), 1e-15);    // r = 1/2: 0.1 + 0.5 · 0.9
        assertEquals(0.1 + 0.5 * (1 + Math.cos(Math.PI * 0.25)) * 0.9, s.lr(35), 1e-15);
        assertEquals(0.1, s.lr(110), 0);
        assertEquals(0.1, s.lr(1_000_000), 0);
        for (long i = 10; i < 110; i++) assertTrue(s.lr(i + 1) <= s.lr(i), "monotone decay at " + i);
    }

    @Test
    void defaultsAndEdgeCases() {
        LrSchedule s = LrSchedule.of(6e-4, 0, 100);
        assertEquals(6e-5, s.minLr(), 1e-20);
        assertEquals(6e-4, s.lr(0), 1e-18);   // no warmup: the cosine starts at the peak (min + (max - min) rounds)
        LrSchedule w = new LrSchedule(2.0, 0.5, 4, 4); // warmup only
        assertEquals(0.5, w.lr(0), 0);
        assertEquals(2.0, w.lr(3), 0);
        assertEquals(0.5, w.lr(4), 0);
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 2, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 0, 11, 10));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(Double.NaN, 0, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> s.lr(-1));
    }
}
