package dev.align4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The size check behind the commands: the activation estimate is exact, and what cannot fit is refused by name. */
class MemoryBudgetTest {
    @Test
    void activationEstimateEqualsWhatAForwardAllocates() {
        SplittableRandom rnd = new SplittableRandom();
        // odd sizes, one row, a chunked head larger than B·T, and a chunk that does not divide B·T
        int[][] shapes = {{1, 1, 0}, {3, 7, 0}, {2, 5, 4}, {2, 5, 64}, {1, 9, 1}};
        GptConfig c = new GptConfig(2, 3, 12, 9, 37);
        try (Gpt g = Gpt.create(c, Device.cpu(), rnd.nextLong())) {
            for (int[] s : shapes) {
                int b = s[0], t = s[1];
                int[] tokens = new int[b * t], targets = new int[b * t];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = rnd.nextInt(c.vocabSize());
                    targets[i] = rnd.nextInt(c.vocabSize());
                }
                g.setLogitsChunkRows(s[2]);
                g.forward(tokens, targets, null, b, t);
                assertEquals(g.activationBytes(), Gpt.activationBytes(c, b, t, s[2]), b + "x" + t + ", chunk " + s[2]);
            }
        }
    }

    @Test
    void overflowSaturates() {
        GptConfig c = new GptConfig(1024, 128, 1024, 1 << 20, 50257);
        assertEquals(Long.MAX_VALUE, Gpt.activationBytes(c, Integer.MAX_VALUE, 1 << 20, 0));
    }

    @Test
    void tooLargeIsRefusedNamingTheFlagsAndSizes() {
        GptConfig tiny = new GptConfig(1, 1, 8, 8, 16);
        MemoryBudget.requireTraining(tiny, 2, 8, Device.cpu(), "--layers 1", "--batch 2 --seq 8");
        MemoryBudget.requireModel(tiny, Device.cpu(), "--model m");
        GptConfig wide = new GptConfig(4, 4, 128, 1 << 20, 320);
        CliException e = assertThrows(CliException.class, () -> MemoryBudget.requireTraining(wide, 16, 1 << 20, Device.cpu(),
                "--layers 4 --embd 128 --ctx 1048576", "--batch 16 --seq 1048576"));
        assertEquals(CliException.USAGE, e.exitCode());
        assertTrue(e.getMessage().contains("activations of 16 x 1048576 tokens") && e.getMessage().contains("lower --batch or --seq"),
                e.getMessage());
        GptConfig deep = new GptConfig(1024, 16, 16384, 1024, 50257);
        e = assertThrows(CliException.class, () -> MemoryBudget.requireModel(deep, Device.cpu(), "--model big"));
        assertTrue(e.getMessage().contains("--model big") && e.getMessage().contains("choose a smaller --model"), e.getMessage());
    }

    @Test
    void byteCounts() {
        assertEquals("512 B", MemoryBudget.bytes(512));
        assertEquals("1.5 KiB", MemoryBudget.bytes(1536));
        assertEquals("2.0 GiB", MemoryBudget.bytes(2L << 30));
        assertEquals("more than 8 EiB", MemoryBudget.bytes(Long.MAX_VALUE));
    }
}
