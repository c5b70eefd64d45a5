package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.TokenizedSft;
import dev.align4j.model.Gpt;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A new run never appends to an old one; a resume never continues another trainer's run. */
class RunDirectoryTest {
    @TempDir
    Path tmp;

    @Test
    void newRunIntoAFolderWithARunIsRefusedUntilCleared() throws IOException {
        List<TokenizedSft> data = SftTrainerTest.copyTask(16, 3);
        Path dir = tmp.resolve("run");
        try (Gpt g = Gpt.create(SftTrainerTest.CFG, Device.cpu(), 1)) {
            try (SftTrainer t = SftTrainer.create(g, SftTrainerTest.config(2), data, List.of(), 0, dir)) {
                t.train();
            }
            Files.writeString(dir.resolve("notes.txt"), "mine");
            RunDirectory.RunExistsException e = assertThrows(RunDirectory.RunExistsException.class,
                    () -> SftTrainer.create(g, SftTrainerTest.config(2), data, List.of(), 0, dir));
            assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("already holds a run"), e.getMessage());
            assertEquals(2, RunDirectory.readMetrics(dir.resolve(RunDirectory.METRICS)).size(), "the old history is untouched");

            RunDirectory.clear(dir);
            assertFalse(Files.exists(dir.resolve("step-2")));
            assertEquals("mine", Files.readString(dir.resolve("notes.txt")), "clear deletes only what a trainer writes");
            try (SftTrainer t = SftTrainer.create(g, SftTrainerTest.config(1), data, List.of(), 0, dir)) {
                t.train();
            }
            assertEquals(1, RunDirectory.readMetrics(dir.resolve(RunDirectory.METRICS)).size(), "a fresh history");
        }
    }

    @Test
    void resumeOfAnotherTrainersRunIsRefused() throws IOException {
        List<TokenizedSft> data = SftTrainerTest.copyTask(16, 4);
        Path dir = tmp.resolve("sft");
        try (Gpt g = Gpt.create(SftTrainerTest.CFG, Device.cpu(), 1);
             SftTrainer t = SftTrainer.create(g, SftTrainerTest.config(1), data, List.of(), 0, dir)) {
            t.train();
        }
        IOException e = assertThrows(IOException.class, () -> DpoTrainer.savedConfig(dir));
        assertTrue(e.getMessage().contains("holds a sft run, not a dpo run"), e.getMessage());
        assertEquals(SftTrainerTest.config(1), SftTrainer.savedConfig(dir));
    }
}
