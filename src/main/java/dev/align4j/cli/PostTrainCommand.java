package dev.align4j.cli;

import dev.align4j.pipeline.PipelineConfig;
import dev.align4j.pipeline.PostTrainMain;
import dev.align4j.pipeline.PostTrainingPipeline;
import dev.align4j.tensor.Device;
import dev.align4j.train.ProgressListener;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code align4j post-train}: the pipeline without pre-training or report ({@link PipelineConfig#small}) and its
 * summary table ({@link PostTrainMain#table}); {@code demo} is the whole pipeline.
 */
@Command(name = "post-train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The pipeline without pre-training or report (PipelineConfig.small).",
                "SFT, reward model, PPO, DPO and SimPO from a fresh base model, each stage",
                "evaluated; prints a summary table (see also: demo)."},
        footer = {"", "Defaults (PipelineConfig.small): seed 1.",
                "Writes --out: summary.json, samples.jsonl and a folder per stage (metrics.jsonl,",
                "checkpoints); align4j report DIR draws its report.html."})
public final class PostTrainCommand extends BaseCommand {
    @Option(names = "--out", paramLabel = "DIR", required = true, description = "run folder")
    Path out;

    @Option(names = "--overwrite", description = "replace the stage runs already in --out instead of refusing to start")
    boolean overwrite;

    @Override
    protected int run() throws Exception {
        Device device = device();
        PipelineConfig c = PipelineConfig.small(seed(1));
        RunOptions.preparePipeline(out, overwrite);
        beginTraining();
        PostTrainingPipeline.Summary s = PostTrainingPipeline.run(c, device, out, line -> {
            if (!quiet()) out().println("[align4j] " + line);
        }, stage -> ProgressListener.NONE);
        result("%s", PostTrainMain.table(s));
        return 0;
    }
}
