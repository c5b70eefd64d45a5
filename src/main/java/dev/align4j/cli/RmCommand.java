package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedPair;
import dev.align4j.eval.RewardAccuracy;
import dev.align4j.model.CausalLm;
import dev.align4j.model.RewardModel;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.RewardConfig;
import dev.align4j.train.RewardTrainer;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code align4j rm}: a reward model (Bradley–Terry) from preference pairs ({@link RewardTrainer}). */
@Command(name = "rm", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = {"Trains a reward model (Bradley-Terry) on preference pairs.",
                "It starts as a copy of --init plus a fresh scalar head. Pairs: --data FILE",
                "--format hh|oasst|pairs, or --tasks N (sampled from --init, gold-ranked)."},
        footer = {"", "Held-out accuracy (--holdout, default 0.1) is printed at the end.",
                "Writes --out: metrics.jsonl, step-N/ checkpoints, latest, and the reward model",
                "in model/ (config.json, model.safetensors, score_head.safetensors)."})
public final class RmCommand extends BaseCommand {
    @Mixin DataOptions data = new DataOptions();
    @Mixin PairOptions pairOptions = new PairOptions();
    @Mixin RunOptions runOptions = new RunOptions();
    @Mixin LoraOptions lora = new LoraOptions();

    public RmCommand() {
        super(RewardConfig.defaults());
    }

    @Override
    protected int run() throws Exception {
        runOptions.check();
        Path out = runOptions.out;
        boolean resume = runOptions.resume;
        RewardConfig cfg = config(RewardConfig.defaults());
        double holdout = data.holdout(0.1);
        data.requireSource();
        if (resume) cfg = resumed(out, () -> RewardTrainer.savedConfig(out)); // its seed splits the data as the run did
        RewardModel rm = null;
        Data.Split2<TokenizedPair> pairs;
        Tokenizer tok;
        try (CausalLm policy = ModelPaths.loadGpt(pairOptions.init, "--init", device())) {
            tok = ChatTokenizers.forModel(pairOptions.init, "--init", pairOptions.tokenizer, policy.config().vocabSize());
            Encoder enc = pairOptions.encoder(tok, policy);
            pairs = pairOptions.read(this, data, holdout, cfg.seed(), policy, enc);
            info("%d train / %d held-out pairs (%d truncated to %d tokens), model %s", pairs.train().size(), pairs.eval().size(),
                    enc.truncated(), enc.maxTokens(), ModelPaths.describe(policy.config()));
            if (resume) lora.refuseOnResume();
            else {
                rm = RewardModel.fromPolicy(policy, cfg.seed());
                lora.apply(rm.backbone(), "--init", cfg.seed(), this); // the score head trains in full beside the adapters
            }
        }
        runOptions.ready();
        try (RewardModel owned = rm;
             RewardTrainer t = resume ? RewardTrainer.resume(out, pairs.train(), pairs.eval(), tok.padId(), device())
                     : RewardTrainer.create(rm, cfg, pairs.train(), pairs.eval(), tok.padId(), out)) {
            if (resume) info("resuming at step %d of %d%s", t.steps(), t.totalSteps(), t.topologyNote());
            t.withProgress(progress("rm"));
            beginTraining();
            t.train();
            RewardModel trained = t.model();
            if (!pairs.eval().isEmpty()) {
                RewardAccuracy acc = RewardAccuracy.of(trained, pairs.eval(), 64, tok.padId());
                result("rm: held-out accuracy %.3f on %d pairs (mean margin %.3f)", acc.accuracy(), acc.n(), acc.meanMargin());
            }
            Path saved = ModelPaths.saveFinal(trained, runOptions);
            result("rm: reward model saved to %s (run folder %s)", saved, out);
        }
        return 0;
    }
}
