package dev.align4j.cli;

import dev.align4j.report.ReportWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code align4j report RUN_DIR}: (re)writes a run folder's {@code report.html} and {@code plots/} from what the run
 * left there (summary.json, samples.jsonl, each stage's metrics.jsonl), e.g. after a demo was interrupted or to
 * draw a folder of runs made by the separate commands.
 */
@Command(name = "report", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes RUN_DIR/report.html (self-contained) and RUN_DIR/plots/*.png from a run folder:",
                "summary.json, samples.jsonl and the stages' metrics.jsonl (pretrain, sft, rm, ppo, ppo_overopt,",
                "dpo, simpo; missing ones are shown as not run)."})
public final class ReportCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "RUN_DIR", description = "the run folder")
    Path dir;

    @Override
    protected int run() throws Exception {
        if (!Files.isDirectory(dir)) throw CliException.usage("RUN_DIR: no such folder: " + dir);
        Path html;
        try {
            html = ReportWriter.write(dir);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw CliException.usage(e.getMessage());
        }
        result("report: %s (plots in %s)", html, dir.resolve("plots"));
        return 0;
    }
}
