package dev.align4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    private static String run(boolean quiet, boolean interactive, int steps, Map<String, Object> line) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        ProgressBar bar = ProgressBar.create("sft", ps, quiet, interactive);
        for (int s = 1; s <= steps; s++) bar.onStep(s, steps, line);
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void logModePrintsOneLinePerTenthWithEtaTokensAndLoss() {
        String out = run(false, false, 100, Map.of("loss", 0.8123, "tokens", 512));
        String[] lines = out.split("\n");
        assertEquals(11, lines.length, out); // step 1 (decile 0), then each new decile 1..10
        assertTrue(lines[0].startsWith("sft") && lines[0].contains("  1/100") && lines[0].contains("ETA"), lines[0]);
        assertTrue(lines[0].contains("tok/s") && lines[0].contains("loss 0.8123"), lines[0]);
        assertTrue(lines[10].contains("100/100 100%") && lines[10].contains("[####################]") && !lines[10].contains("ETA"), lines[10]);
    }

    @Test
    void quietPrintsNothing() {
        assertEquals("", run(true, false, 50, Map.of("loss", 1.0)));
        assertEquals("", run(true, true, 50, Map.of("loss", 1.0)));
    }

    @Test
    void terminalModeRedrawsInPlaceAndEndsWithNewline() {
        String out = run(false, true, 30, Map.of("objective/scores", -0.25));
        assertTrue(out.startsWith("\r") && out.endsWith("\n"), out);
        assertTrue(out.contains("30/30") && out.contains("reward -0.250"), out);
        assertEquals(1, out.chars().filter(c -> c == '\n').count(), out);
    }

    @Test
    void durationsAndRates() {
        assertEquals("59s", ProgressBar.duration(59.2));
        assertEquals("1m02s", ProgressBar.duration(62));
        assertEquals("2h05m", ProgressBar.duration(2 * 3600 + 5 * 60 + 7));
        assertEquals("1.9k", ProgressBar.si(1900));
        assertEquals("950", ProgressBar.si(950));
    }
}
