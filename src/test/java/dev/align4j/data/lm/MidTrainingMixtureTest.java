package dev.align4j.data.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class MidTrainingMixtureTest {
    @Test
    void defaultSchedule() {
        MidTrainingMixture m = MidTrainingMixture.DEFAULT;
        assertEquals(0.0, m.share(0, 100), 0);
        assertEquals(0.0, m.share(69, 100), 0);
        assertEquals(0.1, m.share(70, 100), 0);
        assertEquals(0.1, m.share(79, 100), 0);
        assertEquals(0.3, m.share(80, 100), 0);
        assertEquals(0.5, m.share(90, 100), 0);
        assertEquals(0.5, m.share(99, 100), 0);
        assertEquals(0.0, MidTrainingMixture.NONE.share(99, 100), 0);
    }

    @Test
    void custom() {
        MidTrainingMixture m = MidTrainingMixture.of(0, 0.2, 0.5, 1.0);
        assertEquals(0.2, m.share(4, 10), 0);
        assertEquals(1.0, m.share(5, 10), 0);
        assertThrows(IllegalArgumentException.class, () -> MidTrainingMixture.of(0.1, 0.0));
        assertThrows(IllegalArgumentException.class, () -> MidTrainingMixture.of(0, 0, 0.5, 0.1, 0.5, 0.2));
        assertThrows(IllegalArgumentException.class, () -> MidTrainingMixture.of(0, 1.5));
        assertThrows(IllegalArgumentException.class, () -> MidTrainingMixture.of(0, 0, 0.5));
        assertThrows(IllegalArgumentException.class, () -> m.share(0, 0));
    }
}
