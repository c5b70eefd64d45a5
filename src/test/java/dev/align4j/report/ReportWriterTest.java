package dev.align4j.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportWriterTest {
    private static final Pattern IMG = Pattern.compile("<img\\b[^>]*>");
    private static final Pattern DATA_PLOT = Pattern.compile("data-plot=\"([a-z0-9_]+)\"");
    private static final Pattern SRC = Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"");
    private static final Pattern URL_ATTR = Pattern.compile("(?i)\\b(src|href|action|srcset|poster)\\s*=\\s*[\"']?\\s*(https?:|//)");

    @TempDir
    static Path shared;
    static Path full;
    static String fullHtml;

    @BeforeAll
    static void writeFullReport() throws IOException {
        full = SyntheticRun.create(shared.resolve("full"), SyntheticRun.ALL, true);
        Path html = ReportWriter.write(full);
        assertEquals(full.resolve("report.html"), html);
        fullHtml = Files.readString(html, StandardCharsets.UTF_8);
    }

    /** name → decoded image of every {@code <img>} of the page, in page order. */
    static Map<String, BufferedImage> images(String html, Path runDir) throws IOException {
        Map<String, BufferedImage> out = new LinkedHashMap<>();
        Matcher m = IMG.matcher(html);
        while (m.find()) {
            String tag = m.group();
            Matcher name = DATA_PLOT.matcher(tag), src = SRC.matcher(tag);
            assertTrue(name.find(), "img without data-plot: " + tag.substring(0, Math.min(200, tag.length())));
            assertTrue(src.find(), name.group(1) + ": src is not an inline data:image/png;base64 URI");
            byte[] png = Base64.getDecoder().decode(src.group(1));
            BufferedImage im = ImageIO.read(new ByteArrayInputStream(png));
            assertNotNull(im, name.group(1) + ": embedded PNG does not decode");
            assertEquals(Charts.WIDTH, im.getWidth(), name.group(1) + " width");
            assertEquals(Charts.HEIGHT, im.getHeight(), name.group(1) + " height");
            if (runDir != null)
                assertArrayEquals(Files.readAllBytes(runDir.resolve("plots").resolve(name.group(1) + ".png")), png,
                        name.group(1) + ": plots/ file differs from the embedded image");
            assertEquals(null, out.put(name.group(1), im), "plot " + name.group(1) + " twice");
        }
        return out;
    }

    /**
     * Pixels of a palette colour inside the plotting area (below the title, above the axis title and the legend,
     * which sit at the bottom): series data. An empty series leaves only its legend swatch, outside this band.
     */
    static int dataPixels(BufferedImage im) {
        int n = 0;
        for (int y = 40; y < 360; y++) {
            for (int x = 0; x < im.getWidth(); x++) {
                int rgb = im.getRGB(x, y);
                for (Color c : Charts.PALETTE) {
                    if (Math.abs(((rgb >> 16) & 255) - c.getRed()) + Math.abs(((rgb >> 8) & 255) - c.getGreen())
                            + Math.abs((rgb & 255) - c.getBlue()) < 30) {
                        n++;
                        break;
                    }
                }
            }
        }
        return n;
    }

    @Test
    void fullRunHasEverySectionAndPlot() throws IOException {
        for (String id : ReportWriter.SECTIONS) assertTrue(fullHtml.contains("<section id=\"" + id + "\">"), "section " + id + " missing");
        for (String text : List.of("Summary", "Gold accuracy per task family", "Losses", "Reward model", "PPO", "Over-optimisation",
                "Mode collapse and calibration", "Samples", "456.7 s", "1234"))
            assertTrue(fullHtml.contains(text), "page lacks '" + text + "'");
        assertFalse(fullHtml.contains("not run"), "a full run has no 'not run' note");
        // summary table: one row per evaluated stage, the family table one row per family
        for (String s : List.of("base", "pretrain", "sft", "ppo", "ppo_overopt", "dpo", "simpo", "grpo"))
            assertTrue(fullHtml.contains("<tr><td class=\"l\">" + s + "</td>"), "summary row " + s);
        for (String f : List.of("add", "reverse", "upper")) assertTrue(fullHtml.contains("<tr><td class=\"l\">" + f + "</td>"), "family row " + f);
        assertTrue(fullHtml.contains("<tr><td class=\"l\">add, training split</td><td>—</td><td>—</td><td>0.52</td>"),
                "the training split's add row: a dash before SFT");
        assertTrue(fullHtml.contains("<td>0.300</td>"), "sft gold accuracy 0.300 in the summary table");
        assertTrue(fullHtml.contains("<td>+0.120 ± 0.020</td><td>+0.096 ± 0.010</td>") && fullHtml.contains("<td>-0.050 ± 0.020</td>"),
                "GRPO's and PPO's gains over SFT with their standard errors");
        assertTrue(fullHtml.contains("<th>RM score</th>") && fullHtml.contains("<td>-1.25</td>") && fullHtml.contains("<td>—</td>"),
                "the reward model's held-out score: SFT's -1.25, a dash before the reward model");

        Map<String, BufferedImage> im = images(fullHtml, full);
        assertEquals(ReportWriter.PLOT_NAMES, new ArrayList<>(im.keySet()), "every plot, in order");
        for (var e : im.entrySet()) {
            int n = dataPixels(e.getValue());
            assertTrue(n > 400, e.getKey() + ": only " + n + " series-coloured pixels in the plot area: no data drawn?");
        }
        // every plot has a caption
        assertEquals(ReportWriter.PLOT_NAMES.size(), count(fullHtml, "<figcaption>"));
    }

    @Test
    void rewardHacksSetBesideGrpo() {
        assertTrue(fullHtml.contains("answered 77 wrong; the reward model scores <b>31</b>"), "hack counts");
        assertTrue(fullHtml.contains("answered 12 of those prompts right"), "GRPO's count");
        assertTrue(fullHtml.contains("PPO moved to 9 of them"), "the hacks PPO learned");
        assertTrue(fullHtml.contains("1.25 / -0.50"), "the reward model's two scores");
        assertFalse(fullHtml.contains("<script>alert"), "raw <script> from summary.json's hacks");
    }

    @Test
    void selfContained() {
        Matcher m = URL_ATTR.matcher(fullHtml);
        assertFalse(m.find(), () -> "external URL in an attribute: " + fullHtml.substring(m.start(), Math.min(fullHtml.length(), m.start() + 80)));
        assertFalse(fullHtml.contains("http://"), "http:// in the page");
        assertFalse(fullHtml.contains("https://"), "https:// in the page");
        assertFalse(fullHtml.toLowerCase().contains("<script"), "no script");
        assertFalse(fullHtml.toLowerCase().contains("<link"), "no linked stylesheet");
        assertTrue(fullHtml.contains("<style>"), "inline CSS");
    }

    @Test
    void samplesAreEscaped() {
        assertFalse(fullHtml.contains("<script>alert"), "raw <script> from samples.jsonl in the page");
        assertTrue(fullHtml.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"), "escaped sample text");
        // at most SAMPLES_PER_STAGE samples of each stage (the folder has 5 of each)
        assertEquals(8 * ReportWriter.SAMPLES_PER_STAGE, count(fullHtml, "reverse: abc"), "samples shown");
    }

    @Test
    void missingStagesGiveNotRunNotes(@TempDir Path dir) throws IOException {
        Path run = SyntheticRun.create(dir.resolve("partial"), Set.of("sft", "rm", "ppo", "dpo"), false);
        // an earlier report's plot of a stage that is gone must not survive next to the new page
        Files.createDirectories(run.resolve("plots"));
        Files.writeString(run.resolve("plots/loss_pretrain.png"), "stale");
        String html = Files.readString(ReportWriter.write(run));
        for (String s : List.of("pretrain", "ppo_overopt", "simpo"))
            assertTrue(html.contains(s + ": not run (no " + s + "/metrics.jsonl in this run folder)."), s + " not-run note");
        assertTrue(html.contains("Samples: not run"), "samples note");
        Map<String, BufferedImage> im = images(html, run);
        for (String absent : List.of("loss_pretrain", "loss_ppo_overopt", "loss_simpo"))
            assertFalse(im.containsKey(absent), absent + " plotted without data");
        assertFalse(Files.exists(run.resolve("plots/loss_pretrain.png")), "stale plot kept");
        for (String present : List.of("loss_sft", "loss_rm", "loss_ppo", "loss_dpo", "rm_accuracy", "ppo_kl", "overoptimisation", "gold_accuracy"))
            assertTrue(im.containsKey(present), present + " missing");
        for (var e : im.entrySet()) assertTrue(dataPixels(e.getValue()) > 400, e.getKey() + ": no data drawn");
    }

    @Test
    void folderWithoutSummaryStillReports(@TempDir Path dir) throws IOException {
        Path run = SyntheticRun.create(dir.resolve("r"), Set.of("sft"), false);
        Files.delete(run.resolve("summary.json"));
        String html = Files.readString(ReportWriter.write(run));
        assertTrue(html.contains("Evaluation: not run"), "summary note");
        assertTrue(html.contains("Gold accuracy: not run"), "gold plot note");
        assertEquals(Set.of("loss_sft"), images(html, run).keySet());
    }

    @Test
    void malformedMetricsLineNamesFileAndLine(@TempDir Path dir) throws IOException {
        Path run = SyntheticRun.create(dir.resolve("r"), Set.of("sft", "rm"), false);
        Path f = run.resolve("rm").resolve("metrics.jsonl");
        List<String> lines = new ArrayList<>(Files.readAllLines(f));
        lines.set(2, "{\"step\":3,\"loss\":0.5,");
        Files.write(f, lines);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReportWriter.write(run));
        assertTrue(e.getMessage().contains(f + ":3:"), e.getMessage());
        lines.set(2, "[1,2]");
        Files.write(f, lines);
        e = assertThrows(IllegalArgumentException.class, () -> RunFolder.read(run));
        assertTrue(e.getMessage().contains(f + ":3: expected a JSON object"), e.getMessage());
        assertFalse(Files.exists(run.resolve("report.html")), "no report from a malformed folder");
    }

    @Test
    void readerKeepsNumbersAndNonFiniteStrings(@TempDir Path dir) throws IOException {
        RunFolder r = RunFolder.read(SyntheticRun.create(dir.resolve("r"), SyntheticRun.ALL, false));
        assertEquals(30, r.metrics("ppo").size());
        assertTrue(Double.isNaN(r.metrics("ppo").get(2).get("val/var_explained")), "\"NaN\" string read as NaN");
        assertEquals(29, r.series("ppo", "val/var_explained")[0].length, "series skip non-finite values");
        assertEquals(6, r.series("pretrain", "eval_loss")[0].length, "null eval_loss skipped");
        assertEquals(0.3, r.stage("sft").orElseThrow().goldGreedy().orElseThrow(), 1e-12);
        assertEquals(List.of("add", "reverse", "upper"), r.families());
        assertEquals(List.of("add"), r.trainSplitFamilies());
        assertEquals(Map.of("add", 0.52), r.stage("sft").orElseThrow().trainSplitAccuracy());
        assertEquals(0.71, r.infoNumber("reward_model_heldout_accuracy").orElseThrow(), 1e-12);
        assertEquals(5, r.bestOfN().size());
        assertEquals(16.0, r.bestOfN().get(4).get("n"), 0);
        assertEquals(0.55, r.bestOfN().get(4).get("gold"), 1e-12);
        assertEquals(List.of("base", "pretrain", "sft", "ppo", "ppo_overopt", "dpo", "simpo", "grpo"),
                r.stages().stream().map(RunFolder.StageSummary::stage).toList());
    }

    @Test
    void badBestOfNNamesTheEntry(@TempDir Path dir) throws IOException {
        Path run = SyntheticRun.create(dir.resolve("r"), Set.of("sft", "rm"), false);
        Path f = run.resolve(RunFolder.SUMMARY);
        Files.writeString(f, Files.readString(f).replaceFirst("\"best_of_n\" : \\[ \\{", "\"best_of_n\" : [ 3, {"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunFolder.read(run));
        assertTrue(e.getMessage().contains("best_of_n[1] is not an object"), e.getMessage());
    }

    @Test
    void ppoLinesFromSummaryWhenFolderMissing(@TempDir Path dir) throws IOException {
        Path run = SyntheticRun.create(dir.resolve("r"), Set.of("sft", "ppo"), false);
        Files.delete(run.resolve("ppo/metrics.jsonl"));
        RunFolder r = RunFolder.read(run);
        assertEquals(30, r.metrics("ppo").size(), "PPO lines copied in summary.json");
    }

    /** {@code align4j report RUN_DIR}: one line and exit 2 for every bad folder; 0 and a report for a good one. */
    @Test
    void reportCommandExitCodes(@TempDir Path dir) throws IOException {
        Path run = SyntheticRun.create(dir.resolve("ok"), Set.of("sft"), false);
        Files.writeString(run.resolve("samples.jsonl"), "{\"stage\":\"sft\"}\nnot json\n");
        StringBuilder msg = new StringBuilder();
        for (String[] args : new String[][] {{"report", dir.resolve("nope").toString()}, {"report", dir.toString()}, {"report"},
                {"report", run.toString()}}) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = dev.align4j.cli.Main.execute(args, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            String e = err.toString(StandardCharsets.UTF_8);
            assertEquals(2, code, String.join(" ", args) + ": " + e);
            assertEquals(1, e.strip().lines().count(), "one line: " + e);
            assertTrue(e.startsWith("align4j report"), e);
            msg.append(e);
        }
        assertTrue(msg.toString().contains("no such folder") && msg.toString().contains("is not a run folder")
                && msg.toString().contains("samples.jsonl:2:"), msg.toString());
        Files.delete(run.resolve("samples.jsonl"));
        assertEquals(0, dev.align4j.cli.Main.execute(new String[] {"report", run.toString()},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
        assertTrue(Files.isRegularFile(run.resolve("report.html")));
    }

    @Test
    void dataPixelsSeeAnEmptySeries() throws IOException {
        // the measure used above must tell a drawn series from one that is only in the legend
        double[] x = {1, 2, 3, 4, 5, 6, 7, 8}, y = {1, 3, 2, 5, 4, 6, 5, 7};
        double[] nan = new double[8];
        java.util.Arrays.fill(nan, Double.NaN);
        Charts.Line drawn = new Charts.Line("a", x, y, Charts.PALETTE.get(0));
        BufferedImage with = ImageIO.read(new ByteArrayInputStream(Charts.line("t", "x", "y", null,
                List.of(drawn, new Charts.Line("b", x, y, Charts.PALETTE.get(1))))));
        BufferedImage without = ImageIO.read(new ByteArrayInputStream(Charts.line("t", "x", "y", null,
                List.of(drawn.asPoints(), new Charts.Line("b", x, nan, Charts.PALETTE.get(1))))));
        assertTrue(dataPixels(with) > 400, "drawn: " + dataPixels(with));
        assertTrue(dataPixels(without) < 50, "faint points only, NaN series skipped: " + dataPixels(without));
        BufferedImage bars = ImageIO.read(new ByteArrayInputStream(Charts.bars("t", "x", "y", List.of("a", "b"),
                List.of(new Charts.Bars("v", java.util.Arrays.asList(0.5, null), Charts.PALETTE.get(2))))));
        assertTrue(dataPixels(bars) > 400, "bar: " + dataPixels(bars));
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }
}
