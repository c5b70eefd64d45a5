package dev.align4j.cli;

import dev.align4j.train.RunDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import picocli.CommandLine.Option;

/**
 * The run folder of a training command (a mixin): {@code --out}, and what to do when it already holds a run —
 * {@code --resume} it, {@code --overwrite} it, or (neither) refuse, so a new run never appends to an old history.
 */
public final class RunOptions {
    @Option(names = "--out", paramLabel = "DIR", required = true, description = "run folder")
    Path out;

    @Option(names = "--resume", description = "continue the run in --out from its latest checkpoint with the run's saved settings "
            + "and model (give the same data and model options)")
    boolean resume;

    @Option(names = "--overwrite", description = "replace the run in --out (its metrics, checkpoints and final model) instead of "
            + "refusing to start")
    boolean overwrite;

    @Option(names = "--save-dtype", paramLabel = "float32|bfloat16|float16",
            description = "dtype of the final model's weights (default float32, exact; bfloat16 and float16 halve the size,"
                    + " rounded to nearest even as torch does; checkpoints stay float32 for an exact resume)")
    String saveDtype = "float32";

    /** --save-dtype as a safetensors dtype. */
    dev.align4j.model.SafeTensorsDType saveDtype() {
        return switch (saveDtype) {
            case "float32" -> dev.align4j.model.SafeTensorsDType.F32;
            case "bfloat16" -> dev.align4j.model.SafeTensorsDType.BF16;
            case "float16" -> dev.align4j.model.SafeTensorsDType.F16;
            default -> throw CliException.usage("--save-dtype: expected float32, bfloat16 or float16, got '" + saveDtype + "'");
        };
    }

    /** Before anything is loaded: a new run into a folder holding one needs --overwrite. */
    void check() {
        saveDtype();
        if (resume && overwrite) throw CliException.usage("--resume and --overwrite exclude each other");
        // rank 0 alone: another rank starting later would find rank 0's first lines
        if (!resume && !overwrite && Launch.primary() && RunDirectory.holdsRun(out))
            throw CliException.usage("--out " + out + " already holds a run: add --resume to continue it, or --overwrite to replace it");
    }

    /** Right before training: clears the old run (--overwrite) and creates the folder; returns it. */
    Path ready() throws IOException {
        if (overwrite && Launch.primary()) RunDirectory.clear(out);
        return BaseCommand.createFolder(out, "--out");
    }

    /**
     * The folder of a pipeline (demo, post-train), which holds a run folder per stage: one that already holds stage runs
     * is refused unless {@code overwrite}, which clears them; then the folder is created.
     */
    static void preparePipeline(Path out, boolean overwrite) throws IOException {
        List<Path> runs = new ArrayList<>();
        if (Files.isDirectory(out))
            try (var entries = Files.list(out)) {
                entries.filter(p -> Files.isDirectory(p) && RunDirectory.holdsRun(p)).sorted().forEach(runs::add);
            }
        if (!runs.isEmpty() && !overwrite)
            throw CliException.usage("--out " + out + " already holds a run (" + runs.stream().map(p -> p.getFileName() + "/")
                    .collect(Collectors.joining(", ")) + "): add --overwrite to replace it, or choose another --out");
        for (Path r : runs) RunDirectory.clear(r);
        BaseCommand.createFolder(out, "--out");
    }
}
