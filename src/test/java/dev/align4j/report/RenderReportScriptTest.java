package dev.align4j.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** tools/render-report.sh: the report as a browser draws it (skipped where Chromium is not installed). */
class RenderReportScriptTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    @Test
    void screenshotShowsThePlots(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM),
                "skipped: /usr/bin/chromium is not installed (Debian: apt-get install chromium) — tools/render-report.sh untested");
        Path run = SyntheticRun.create(dir.resolve("run"), SyntheticRun.ALL, true);
        ReportWriter.write(run);
        Path png = dir.resolve("shot.png");
        Path log = dir.resolve("log.txt");
        Process p = new ProcessBuilder("bash", Path.of("tools/render-report.sh").toAbsolutePath().toString(), run.toString(), png.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "render-report.sh did not finish in 120 s");
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "render-report.sh failed:\n" + out);

        BufferedImage im = ImageIO.read(png.toFile());
        assertNotNull(im, "screenshot is not a PNG:\n" + out);
        assertEquals(1280, im.getWidth());
        // 18 plots at 2 per row: the full page is far taller than one screen
        assertTrue(im.getHeight() > 4000, "page height " + im.getHeight() + ": not the full page?\n" + out);
        long plain = 0, total = 0, series = 0;
        Color bg = new Color(im.getRGB(2, im.getHeight() / 2));
        for (int y = 0; y < im.getHeight(); y += 2) {
            for (int x = 0; x < im.getWidth(); x += 2) {
                int rgb = im.getRGB(x, y);
                total++;
                if (Math.abs(((rgb >> 16) & 255) - bg.getRed()) + Math.abs(((rgb >> 8) & 255) - bg.getGreen()) + Math.abs((rgb & 255) - bg.getBlue()) < 8) plain++;
                for (Color c : Charts.PALETTE) {
                    if (Math.abs(((rgb >> 16) & 255) - c.getRed()) + Math.abs(((rgb >> 8) & 255) - c.getGreen()) + Math.abs((rgb & 255) - c.getBlue()) < 40) {
                        series++;
                        break;
                    }
                }
            }
        }
        assertTrue(plain < total * 0.9, "screenshot is blank: " + plain + " of " + total + " sampled pixels are background");
        // the plots' series colours reach the screenshot (scaled images blur them a little: tolerance 40)
        assertTrue(series > 5000, "only " + series + " series-coloured pixels sampled: plots not drawn?");
    }

    @Test
    void missingReportIsAUsageError(@TempDir Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bash", Path.of("tools/render-report.sh").toAbsolutePath().toString(), dir.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("report.html does not exist"), out);
    }
}
