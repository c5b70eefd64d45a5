package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedPair;
import dev.align4j.kernels.PreferenceLoss;
import dev.align4j.model.Gpt;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.DpoConfig;
import dev.align4j.train.DpoTrainer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code align4j dpo}: direct preference optimisation and its relatives ({@link DpoTrainer}). */
@Command(name = "dpo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Preference optimisation: DPO, cDPO, robust, hinge, IPO, LN-DPO, SimPO.",
                "Trains --init on pairs: --data FILE --format hh|oasst|pairs, or --tasks N",
                "(sampled from --init, ranked by the gold checker)."},
        footer = {"",
                "Defaults (DpoConfig): loss sigmoid, beta 0.1 (simpo: beta 2.0, gamma 0.5*beta),",
                "label smoothing 0 (0.1 for cdpo and robust), steps 300, batch 8 pairs, accum 1,",
                "lr 3e-4 -> 3e-5 cosine, warmup 10, weight decay 0, clip 1.0, nll 0,",
                "eval every 100, seed 1234; --holdout 0.1. The reference is --init (or",
                "--reference) before training; simpo uses none.",
                "Writes --out: metrics.jsonl, step-N/ checkpoints, latest, final model in model/."})
public final class DpoCommand extends BaseCommand {
    @Option(names = "--loss", paramLabel = "TYPE",
            description = "sigmoid (DPO), cdpo, robust, hinge, ipo, lndpo, simpo (default sigmoid)")
    String loss = "sigmoid";

    @Option(names = "--beta", paramLabel = "B", description = "beta (inverse temperature)")
    Float beta;

    @Option(names = "--gamma", paramLabel = "G", description = "SimPO's target margin (simpo only)")
    Float gamma;

    @Option(names = "--label-smoothing", paramLabel = "EPS", description = "assumed label-flip probability (cdpo, robust, ...)")
    Float labelSmoothing;

    @Option(names = "--nll", paramLabel = "ALPHA", description = "weight of an NLL term on the chosen responses (RPO-style)")
    Double nll;

    @Option(names = "--init", paramLabel = "MODEL", required = true, description = "the policy to train (SFT model)")
    Path init;

    @Option(names = "--reference", paramLabel = "MODEL", description = "reference model (default: --init)")
    Path reference;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "default: inferred from the vocabulary")
    String tokenizer;

    @Mixin DataOptions data = new DataOptions();
    @Mixin PairOptions pairOptions = new PairOptions();
    @Mixin TrainOptions train = new TrainOptions();

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "run folder")
    Path out;

    @Option(names = "--accum", paramLabel = "N", description = "micro-batches per step")
    Integer accum;


    /** "sigmoid", "ln-dpo", "LN_DPO", "lndpo" → the enum constant. */
    static PreferenceLoss.Type lossType(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT).replace("-", "").replace("_", "");
        for (PreferenceLoss.Type t : PreferenceLoss.Type.values())
            if (t.name().replace("_", "").equals(n)) return t;
        if (n.equals("DPO")) return PreferenceLoss.Type.SIGMOID;
        throw CliException.usage("--loss: expected one of " + Arrays.stream(PreferenceLoss.Type.values())
                .map(t -> t.name().toLowerCase(Locale.ROOT).replace("_", "")).toList() + ", got '" + name + "'");
    }

    /** The loss config of the options (see the footer for the defaults). */
    PreferenceLoss.Config lossConfig() {
        PreferenceLoss.Type type = lossType(loss);
        PreferenceLoss.Config c = PreferenceLoss.Config.of(type);
        if (beta != null) {
            c = c.withBeta(beta);
            if (type == PreferenceLoss.Type.SIMPO && gamma == null) c = c.withGamma(beta * PreferenceLoss.Config.SIMPO_GAMMA_BETA_RATIO);
        }
        if (gamma != null) {
            if (type != PreferenceLoss.Type.SIMPO) throw CliException.usage("--gamma is SimPO's margin: it needs --loss simpo");
            c = c.withGamma(gamma);
        }
        if (labelSmoothing != null) c = c.withLabelSmoothing(labelSmoothing);
        else if (type == PreferenceLoss.Type.CDPO || type == PreferenceLoss.Type.ROBUST) c = c.withLabelSmoothing(0.1f);
        return c;
    }

    @Option(names = "--resume", description = "continue the run in --out from its latest checkpoint, with the run's saved "
            + "settings and weights (give the same --init and data options)")
    boolean resume;

    @Override
    protected int run() throws Exception {
        PreferenceLoss.Config lc = lossConfig();
        DpoConfig d = DpoConfig.of(lc);
        DpoConfig cfg = new DpoConfig(lc, train.steps(d.steps()), train.batch(d.batchSize()), accum != null ? accum : d.gradAccum(),
                train.optim(d.optim()), nll != null ? nll : d.nllCoef(), train.evalEvery(d.evalEvery()),
                train.checkpointEvery(d.checkpointEvery()), seed(d.seed()));
        double holdout = data.holdout(0.1);
        data.requireSource();
        if (resume) cfg = resumed(out, () -> DpoTrainer.savedConfig(out)); // its seed splits the data as the run did
        try (Gpt policy = ModelPaths.loadGpt(init, "--init", device());
             Gpt ref = reference == null ? null : ModelPaths.loadGpt(reference, "--reference", policy.device())) {
            Tokenizer tok = ModelPaths.tokenizer(tokenizer, policy.config().vocabSize());
            Encoder enc = pairOptions.encoder(tok, policy);
            Data.Split2<TokenizedPair> pairs = pairOptions.read(this, data, holdout, cfg.seed(), policy, enc);
            info("%s: %d train / %d held-out pairs (%d truncated to %d tokens), model %s", lc, pairs.train().size(),
                    pairs.eval().size(), enc.truncated(), enc.maxTokens(), ModelPaths.describe(policy.config()));
            String name = cfg.loss().type().name().toLowerCase(Locale.ROOT);
            createFolder(out, "--out");
            try (DpoTrainer t = resume ? DpoTrainer.resume(out, pairs.train(), pairs.eval(), tok.padId(), policy.device())
                    : DpoTrainer.create(policy, ref, cfg, pairs.train(), pairs.eval(), tok.padId(), out)) {
                if (resume) info("resuming at step %d of %d", t.steps(), t.totalSteps());
                t.withProgress(progress(name));
                beginTraining();
                t.train();
                Path saved = ModelPaths.saveFinal(t.model(), out);
                result("dpo (%s): model saved to %s (run folder %s)", name, saved, out);
            }
        }
        return 0;
    }
}
