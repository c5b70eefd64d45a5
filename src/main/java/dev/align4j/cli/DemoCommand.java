package dev.align4j.cli;

import dev.align4j.model.GptConfig;
import dev.align4j.pipeline.PipelineConfig;
import dev.align4j.pipeline.PostTrainMain;
import dev.align4j.pipeline.PostTrainingPipeline;
import dev.align4j.report.ReportWriter;
import dev.align4j.tensor.Device;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code align4j demo}: the lecture's whole pipeline on data the project generates, no GPU and no network needed —
 * a tiny GPT pre-trained on a generated corpus with the mid-training mixture, SFT on the built-in tasks, a reward
 * model from the SFT policy's ranked samples, PPO against it (and a β = 0 run for the over-optimisation curve),
 * DPO and SimPO from the SFT policy, GRPO with the gold checker as reward; every stage evaluated on held-out tasks;
 * then {@code report.html} with its plots ({@link ReportWriter}) and the summary table. {@link PipelineConfig#demo}
 * is the measured configuration.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs the whole pipeline on the built-in tasks: pre-training (generated corpus + mid-training",
                "mixture), SFT, reward model, PPO (+ a beta = 0 run), DPO, SimPO, GRPO with verifiable rewards,",
                "evaluation; writes the run folder (checkpoints, metrics.jsonl per stage, samples.jsonl, summary.json)",
                "and report.html with PNG plots. About 9 minutes on 2 CPU cores at the default size."})
public final class DemoCommand extends BaseCommand {
    @Option(names = "--out", paramLabel = "DIR", description = "run folder (default: runs/demo)")
    Path out = Path.of("runs", "demo");

    @Option(names = "--overwrite", description = "replace the stage runs already in --out instead of refusing to start")
    boolean overwrite;

    @Option(names = "--size", paramLabel = "small|medium|large",
            description = "model: small = 4 layers x 128 (default, CPU), medium = 6 x 384, large = 12 x 768 (GPT-2 small's shape; for a GPU)")
    String size = "small";

    @Option(names = "--quick", description = "a smoke run: every stage a few steps on a few tasks (about a minute; figures meaningless)")
    boolean quick;

    @Option(names = "--no-overopt", description = "skip the second PPO run with beta = 0")
    boolean noOveropt;

    @Override
    protected int run() throws Exception {
        Device device = device();
        PipelineConfig c = config(seed(1), size, quick, noOveropt);
        info("model %s on %s, run folder %s", c.model(), device, out.toAbsolutePath().normalize());
        RunOptions.preparePipeline(out, overwrite);
        beginTraining();
        PostTrainingPipeline.Summary s = PostTrainingPipeline.run(c, device, out, line -> info("%s", line), this::progress);
        Path html = ReportWriter.write(out);
        result("%s", PostTrainMain.table(s));
        result("report: %s (plots in %s)", html, out.resolve("plots"));
        return 0;
    }

    /** The demo's configuration for a size, optionally shrunk to a smoke run. */
    static PipelineConfig config(long seed, String size, boolean quick, boolean noOveropt) {
        PipelineConfig c = PipelineConfig.demo(seed);
        GptConfig m = c.model();
        c = switch (size) {
            case "small" -> c;
            case "medium" -> c.withModel(new GptConfig(6, 6, 384, m.nCtx(), m.vocabSize()));
            case "large" -> c.withModel(new GptConfig(12, 12, 768, m.nCtx(), m.vocabSize()));
            default -> throw CliException.usage("--size must be small, medium or large, got '" + size + "'");
        };
        if (quick) {
            PipelineConfig.Pretrain p = c.pretrain();
            PipelineConfig.Stages s = c.stages();
            c = c.withPretrain(new PipelineConfig.Pretrain(2000, 200, p.mixture(), p.lm().withSteps(30).withLr(2e-3, 2e-4, 5).withEval(10, 2)))
                    .withTasks(new PipelineConfig.Tasks(c.tasks().suiteLevel(), c.tasks().families(), 300, 48, 64, 64, 60, 40))
                    // a 20-step reward model judges no family on 20 held-out pairs: gate 0, or it would stop every smoke run
                    .withStages(new PipelineConfig.Stages(s.sft().withSteps(40), s.pairs(), s.rm().withSteps(20), 0,
                            s.ppo().withSteps(2).withBatches(64, 32, 1), s.overOptBeta(), s.dpo().withSteps(10), s.simpo().withSteps(10),
                            s.grpo() == null ? null : s.grpo().withSteps(2).withBatches(8, 4, 32, 1)));
        }
        return noOveropt ? c.withStages(c.stages().withOverOptBeta(-1)) : c;
    }
}
