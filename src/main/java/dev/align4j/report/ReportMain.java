package dev.align4j.report;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * {@code ReportMain RUN_DIR}: (re)generates {@code RUN_DIR/report.html} and {@code RUN_DIR/plots/} from a run
 * folder. Exit 0 and the report's path on stdout; exit 2 and one line on stderr for a bad folder or usage.
 */
public final class ReportMain {
    private ReportMain() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** What {@link #main} does, returning the exit code instead of exiting (for tests and the CLI). */
    public static int run(String... args) {
        if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
            System.out.println("usage: report RUN_DIR   (writes RUN_DIR/report.html and RUN_DIR/plots/*.png)");
            return 0;
        }
        if (args.length != 1 || args[0].isBlank()) {
            System.err.println("align4j report: usage: report RUN_DIR");
            return 2;
        }
        try {
            Path html = ReportWriter.write(Path.of(args[0]));
            System.out.println(html);
            return 0;
        } catch (IllegalArgumentException | IOException | UncheckedIOException e) {
            System.err.println("align4j report: " + oneLine(e.getMessage() == null ? e.toString() : e.getMessage()));
            return 2;
        }
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }
}
