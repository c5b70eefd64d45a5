package dev.align4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.model.HfGpt2Layout;
import dev.align4j.tensor.Device;
import dev.align4j.train.RunDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run folder given where a model is: its {@code latest} file must name a checkpoint that is a model directory. */
class ModelPathsTest {
    @TempDir
    Path run;

    @Test
    void emptyLatestSaysSoNotNoConfigJson() throws IOException {
        for (String content : new String[] {"", "\n", "  \r\n"}) {
            Files.writeString(run.resolve(RunDirectory.LATEST), content);
            IOException e = assertThrows(IOException.class, () -> RunDirectory.latest(run));
            assertEquals(run.resolve(RunDirectory.LATEST) + " is empty: it names no checkpoint", e.getMessage());
            Exception m = assertThrows(Exception.class, () -> ModelPaths.loadGpt(run, "--model", Device.cpu()));
            assertTrue(m.getMessage().startsWith("--model: " + run.resolve(RunDirectory.LATEST) + " is empty"), m.getMessage());
            assertFalse(m.getMessage().contains("config.json"), m.getMessage());
        }
    }

    @Test
    void latestNamingAFolderWithoutAModelSaysWhich() throws IOException {
        Files.createDirectories(run.resolve("step-3"));
        Files.writeString(run.resolve(RunDirectory.LATEST), "step-3\n");
        CliException e = assertThrows(CliException.class, () -> ModelPaths.modelDir(run, "--model"));
        assertEquals("--model: " + run.resolve(RunDirectory.LATEST) + " names " + run.resolve("step-3") + ", which is not a model "
                + "directory (config.json + model.safetensors)", e.getMessage());
        try (Gpt g = new Gpt(new GptConfig(1, 1, 4, 4, 5), Device.cpu())) {
            g.save(run.resolve("step-3"));
        }
        assertEquals(run.resolve("step-3"), ModelPaths.modelDir(run, "--model"));
        assertTrue(Files.isRegularFile(run.resolve("step-3").resolve(HfGpt2Layout.CONFIG_FILE)));
    }
}
