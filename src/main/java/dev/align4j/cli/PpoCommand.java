package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.GoldEvaluator;
import dev.align4j.kernels.KlShaping;
import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.ValueLoss;
import dev.align4j.model.CausalLm;
import dev.align4j.model.RewardModel;
import dev.align4j.model.ScalarHead;
import dev.align4j.rl.GoldScore;
import dev.align4j.rl.PpoConfig;
import dev.align4j.rl.PpoTrainer;
import dev.align4j.rl.RewardScale;
import dev.align4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code align4j ppo}: PPO of a policy against a reward model on the built-in tasks' prompts ({@link PpoTrainer}),
 * with the gold checker's score logged beside the proxy reward (objective/gold) and, on eval steps, the greedy gold
 * accuracy on held-out tasks, as {@code PostTrainingPipeline} runs it.
 */
@Command(name = "ppo", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = {"PPO of a policy against a reward model on the built-in tasks' prompts.",
                "The critic starts from --reward-model; the KL reference is --policy (or",
                "--reference) before training. objective/gold logs the gold checker's score."},
        footer = {"",
                "Writes --out: metrics.jsonl (objective/kl, objective/scores, objective/gold,",
                "policy/clipfrac, ...), step-N/ checkpoints, latest, final policy in model/."})
public final class PpoCommand extends BaseCommand {
    @Option(names = "--policy", paramLabel = "MODEL", required = true, description = "the policy to train (SFT model)")
    Path policyPath;

    @Option(names = "--reward-model", paramLabel = "RM", required = true, description = "reward model (align4j rm's model/ or run folder)")
    Path rewardPath;

    @Option(names = "--reference", paramLabel = "MODEL", description = "reference model of the KL penalty (default: --policy)")
    Path referencePath;

    @Option(names = "--tasks", paramLabel = "N", description = "prompts: N tasks of the built-in suite, train split (default 256)")
    int tasks = 256;

    @Mixin TaskPromptOptions taskOptions = new TaskPromptOptions();

    @Mixin RunOptions runOptions = new RunOptions();
    @Mixin LoraOptions lora = new LoraOptions();

    @Option(names = "--clip-range", paramLabel = "EPS", description = "policy ratio clip epsilon: both --clip-low and --clip-high")
    Float clipRange;

    public PpoCommand() {
        super(PpoConfig.defaults());
    }

    PpoConfig config() {
        PpoConfig d = PpoConfig.defaults();
        PpoConfig.Rollout r = d.rollout();
        Integer roll = ConfigOptions.value(spec, "--rollout");
        // a rollout smaller than the default minibatch is one minibatch, unless --mini-batch says otherwise
        if (roll != null && roll < r.miniBatch()) d = d.withBatches(roll, roll, r.epochs());
        if (clipRange != null) {
            PolicyLoss.Config p = d.objective().policyLoss();
            PpoConfig.Objective o = d.objective();
            d = d.withObjective(new PpoConfig.Objective(new PolicyLoss.Config(clipRange, clipRange, p.dualClip(), p.aggregation()),
                    o.valueLoss(), o.vfCoef(), o.entCoef(), o.klLossCoef()));
        }
        return config(d);
    }

    @Option(names = "--normalize-reward", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "standardise the reward model's score on the policy's own samples (mean 0, std 1; the critic's head "
                    + "rescaled alike) so that --beta means the same for any reward model (default: on)")
    boolean normalizeReward = true;

    @Override
    protected int run() throws Exception {
        runOptions.check();
        Path out = runOptions.out;
        boolean resume = runOptions.resume;
        PpoConfig cfg = resume ? resumed(out, () -> PpoTrainer.savedConfig(out)) : config();
        if (tasks < 1) throw CliException.usage("--tasks must be >= 1, got " + tasks);
        TaskSuite suite = taskOptions.suite();
        List<Task> train = suite.generate(tasks, cfg.seed() + 1, Split.TRAIN);
        List<Task> probe = taskOptions.probe(suite, cfg.seed() + 2);
        try (CausalLm policy = ModelPaths.loadGpt(policyPath, "--policy", device());
             // with LoRA the trainer's reference is the policy with its adapters off: no second model
             CausalLm ref = lora.trainsAdapters(policy, resume, out, cfg.seed(), this) && referencePath == null ? null
                     : referencePath == null ? policy.copy() : ModelPaths.loadGpt(referencePath, "--reference", policy.device());
             RewardModel rm = ModelPaths.loadRewardModel(rewardPath, "--reward-model", policy.device());
) {
            if (rm.config().vocabSize() != policy.config().vocabSize())
                throw CliException.usage("--reward-model has a vocabulary of " + rm.config().vocabSize() + ", --policy "
                        + policy.config().vocabSize() + ": they must share the tokenizer");
            Tokenizer tok = ChatTokenizers.forModel(policyPath, "--policy", taskOptions.tokenizer, policy.config().vocabSize());
            Encoder enc = new Encoder(tok, policy.config().nCtx());
            List<int[]> prompts = new ArrayList<>(train.size());
            for (Task t : train) prompts.add(enc.encodePrompt(t.prompt()));
            GoldEvaluator gold = new GoldEvaluator(enc, 64, cfg.rollout().maxNewTokens());
            info("%d prompts (%s), %d held-out, policy %s, reward model %s", prompts.size(), suite, probe.size(),
                    ModelPaths.describe(policy.config()), ModelPaths.describe(rm.config()));
            PpoTrainer.RewardFunction reward = rm::score;
            RewardScale scale = null;
            if (normalizeReward) {
                scale = RewardScale.fit(rm, policy, enc, train, cfg, cfg.seed() + 12, line -> info("%s", line));
                reward = scale;
            }
            PpoTrainer.Ids ids = new PpoTrainer.Ids(tok.eosId(), tok.padId());
            List<Map<String, Object>> lines;
            boolean noCritic = resume || cfg.advantage().baseline() == PpoConfig.Baseline.GROUP;
            runOptions.ready();
            try (CausalLm critic = noCritic ? null : rm.backbone().copy();
                 ScalarHead head = noCritic ? null : scale != null ? scale.criticHead() : rm.head().copy();
                 PpoTrainer t = resume ? PpoTrainer.resume(out, ref, reward, prompts, ids, policy.device())
                         : PpoTrainer.create(policy, ref, critic, head, reward, prompts, cfg, ids, out)) {
                if (resume) info("resuming at step %d of %d%s", t.steps(), t.totalSteps(), t.topologyNote());
                t.withGoldJudge(GoldScore.judge(train, tok));
                if (!probe.isEmpty()) t.withEvalHook(p -> Map.of("gold_accuracy", gold.evaluate(p, probe).accuracy()));
                t.withProgress(progress("ppo"));
                beginTraining();
                lines = t.train();
                if (lines.isEmpty()) throw CliException.usage("--resume: the run in " + out + " is already complete");
                Map<String, Object> a = lines.get(0), b = lines.get(lines.size() - 1);
                result("ppo: reward %.3f -> %.3f, gold %.3f -> %.3f, KL %.3f -> %.3f over %d steps", num(a, "objective/scores"),
                        num(b, "objective/scores"), num(a, "objective/gold"), num(b, "objective/gold"), num(a, "objective/kl"),
                        num(b, "objective/kl"), lines.size());
                Path saved = ModelPaths.saveFinal(t.policy(), runOptions);
                result("ppo: policy saved to %s (run folder %s)", saved, out);
            }
        }
        return 0;
    }

    private static double num(Map<String, Object> m, String k) {
        return m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
