package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainLmTest {
    private static int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        return TrainLm.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void trainsAndResumesFromTheCommandLine(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("input.txt");
        Files.writeString(data, DataTest.generatedText(5, 600));
        Path run = tmp.resolve("run");
        String[] common = {"--data", data.toString(), "--out", run.toString(), "--layers", "1", "--heads", "2", "--embd", "16",
                "--seq", "16", "--batch", "2", "--eval-every", "3", "--eval-batches", "1", "--checkpoint-every", "3", "--log-every", "1"};
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        String[] first = concat(common, "--steps", "4");
        assertEquals(0, run(out, err, first), err.toString());
        assertTrue(out.toString().contains("step 4"), out.toString());
        assertEquals("step-4", Files.readString(run.resolve(LmTrainer.LATEST)).trim());
        assertEquals(4, LmTrainer.readMetrics(run.resolve(LmTrainer.METRICS)).size());
        // nothing left to do after the last step; a resume reports it and exits cleanly
        out.reset();
        assertEquals(0, run(out, err, concat(common, "--resume")), err.toString());
        assertTrue(out.toString().contains("from step 4 of 4"), out.toString());
        // bad arguments: exit code 2
        assertEquals(2, run(out, err, "--data", data.toString()));
        assertEquals(2, run(out, err, "--bogus", "1"));
        assertEquals(2, run(out, err, concat(common, "--steps", "x")));
        assertEquals(1, run(out, err, "--data", tmp.resolve("missing.txt").toString(), "--out", run.toString()));
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
