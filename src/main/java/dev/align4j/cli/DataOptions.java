package dev.align4j.cli;

import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * Where a post-training command's examples come from (a mixin): a file ({@code --data FILE --format F}) or the
 * built-in task suite ({@code --tasks N [--level L] [--families a,b]}).
 */
public final class DataOptions {
    @Option(names = "--data", paramLabel = "FILE", description = "data file (JSONL or a JSON array, optionally .gz)")
    Path data;

    @Option(names = "--format", paramLabel = "FORMAT", description = "format of --data (see above)")
    String format;

    @Option(names = "--skip-bad", description = "skip bad records and print the counts (default: the first bad record is an error naming file:line)")
    boolean skipBad;

    @Option(names = "--max-records", paramLabel = "N", description = "read at most N records of --data (0: all)")
    long maxRecords;

    @Option(names = "--tasks", paramLabel = "N", description = "use N examples of the built-in task suite (train split) instead of --data")
    Integer tasks;

    @Option(names = "--level", paramLabel = "L", description = "task difficulty 1 (easy), 2 (default) or 3 (hard)")
    int level = 2;

    @Option(names = "--families", paramLabel = "NAME", split = ",", description = "only these task families (e.g. add,sub,reverse)")
    List<String> families;

    @Option(names = "--holdout", paramLabel = "FRACTION",
            description = "share held out for evaluation (from --data; with --tasks as many test-split tasks)")
    Double holdout;

    /** Exactly one of --data and --tasks. */
    void requireSource() {
        if ((data == null) == (tasks == null))
            throw CliException.usage(data == null ? "give --data FILE --format F or --tasks N" : "--data and --tasks exclude each other");
        if (data != null && format == null) throw CliException.usage("--data needs --format");
        if (tasks != null && tasks < 1) throw CliException.usage("--tasks must be >= 1, got " + tasks);
        if (maxRecords < 0) throw CliException.usage("--max-records must be >= 0, got " + maxRecords);
    }

    double holdout(double d) {
        double h = holdout != null ? holdout : d;
        if (!(h >= 0 && h < 1)) throw CliException.usage("--holdout must be in [0, 1), got " + h);
        return h;
    }
}
