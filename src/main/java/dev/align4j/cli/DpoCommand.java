package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedPair;
import dev.align4j.kernels.PreferenceLoss;
import dev.align4j.model.CausalLm;
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
@Command(name = "dpo", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = {"Preference optimisation: DPO, cDPO, robust, hinge, IPO, LN-DPO, SimPO.",
                "Trains --init on pairs: --data FILE --format hh|oasst|pairs, or --tasks N",
                "(sampled from --init, ranked by the gold checker)."},
        footer = {"",
                "The defaults shown are DPO's; --loss simpo defaults to beta 2.0, gamma 0.5*beta, and cdpo and",
                "robust to label smoothing 0.1 (PreferenceLoss.Config.of). --holdout defaults to 0.1. The",
                "reference is --init (or --reference) before training; simpo uses none.",
                "Writes --out: metrics.jsonl, step-N/ checkpoints, latest, final model in model/."})
public final class DpoCommand extends BaseCommand {
    @Option(names = "--reference", paramLabel = "MODEL", description = "reference model (default: --init)")
    Path reference;

    @Mixin DataOptions data = new DataOptions();
    @Mixin PairOptions pairOptions = new PairOptions();
    @Mixin RunOptions runOptions = new RunOptions();
    @Mixin LoraOptions lora = new LoraOptions();

    public DpoCommand() {
        super(DpoConfig.defaults());
    }

    /** The options on the defaults of the chosen --loss (its β, ε and γ differ). */
    DpoConfig config() {
        PreferenceLoss.Type type = ConfigOptions.value(spec, "--loss");
        return config(DpoConfig.of(PreferenceLoss.Config.of(type != null ? type : PreferenceLoss.Type.SIGMOID)));
    }

    @Override
    protected int run() throws Exception {
        runOptions.check();
        Path out = runOptions.out;
        boolean resume = runOptions.resume;
        DpoConfig cfg = config();
        double holdout = data.holdout(0.1);
        data.requireSource();
        if (resume) cfg = resumed(out, () -> DpoTrainer.savedConfig(out)); // its seed splits the data as the run did
        try (CausalLm policy = ModelPaths.loadGpt(pairOptions.init, "--init", device());
             CausalLm ref = reference == null ? null : ModelPaths.loadGpt(reference, "--reference", policy.device())) {
            if (resume) lora.refuseOnResume();
            else lora.apply(policy, "--init", cfg.seed(), this); // the reference is then the model with its adapters off
            Tokenizer tok = ChatTokenizers.forModel(pairOptions.init, "--init", pairOptions.tokenizer, policy.config().vocabSize());
            Encoder enc = pairOptions.encoder(tok, policy);
            Data.Split2<TokenizedPair> pairs = pairOptions.read(this, data, holdout, cfg.seed(), policy, enc);
            info("%s: %d train / %d held-out pairs (%d truncated to %d tokens), model %s", cfg.loss(), pairs.train().size(),
                    pairs.eval().size(), enc.truncated(), enc.maxTokens(), ModelPaths.describe(policy.config()));
            String name = cfg.loss().type().name().toLowerCase(Locale.ROOT);
            runOptions.ready();
            try (DpoTrainer t = resume ? DpoTrainer.resume(out, pairs.train(), pairs.eval(), tok.padId(), policy.device())
                    : DpoTrainer.create(policy, ref, cfg, pairs.train(), pairs.eval(), tok.padId(), out)) {
                if (resume) info("resuming at step %d of %d%s", t.steps(), t.totalSteps(), t.topologyNote());
                t.withProgress(progress(name));
                beginTraining();
                t.train();
                Path saved = ModelPaths.saveFinal(t.model(), runOptions);
                result("dpo (%s): model saved to %s (run folder %s)", name, saved, out);
            }
        }
        return 0;
    }
}
