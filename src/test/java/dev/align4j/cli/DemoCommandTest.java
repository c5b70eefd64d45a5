package dev.align4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.pipeline.PipelineConfig;
import org.junit.jupiter.api.Test;

class DemoCommandTest {
    /** `demo --quick` stopped at the reward-model gate: its 20-step reward model passes no family on 20 pairs. */
    @Test
    void quickRunDoesNotGatePpo() {
        assertEquals(0.0, DemoCommand.config(1, "small", true, false).stages().ppoRmGate());
        assertEquals(PipelineConfig.demo(1).stages().ppoRmGate(), DemoCommand.config(1, "small", false, false).stages().ppoRmGate());
    }
}
