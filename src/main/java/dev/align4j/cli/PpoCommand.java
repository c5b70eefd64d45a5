package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.GoldEvaluator;
import dev.align4j.kernels.KlShaping;
import dev.align4j.kernels.PolicyLoss;
import dev.align4j.kernels.ValueLoss;
import dev.align4j.model.Gpt;
import dev.align4j.model.ScalarHead;
import dev.align4j.rl.GoldScore;
import dev.align4j.rl.RewardScale;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.PpoConfig;
import dev.align4j.train.PpoTrainer;
import dev.align4j.train.RewardModel;
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
@Command(name = "ppo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"PPO of a policy against a reward model on the built-in tasks' prompts.",
                "The critic starts from --reward-model; the KL reference is --policy (or",
                "--reference) before training. objective/gold logs the gold checker's score."},
        footer = {"",
                "Defaults (PpoConfig): steps 100, rollout 32, mini-batch 16, epochs 4, max-new 16,",
                "temperature 1.0, top-k 0, clip-range 0.2, value-clip 0.2, vf-coef 0.1,",
                "ent-coef 0, beta 0.05 (k1), kl-target 0 (fixed beta), gamma 1.0, lambda 0.95,",
                "lr 3e-5 constant, clip 1.0, eval every 10, seed 42; --tasks 256.",
                "Writes --out: metrics.jsonl (objective/kl, objective/scores, objective/gold,",
                "policy/clipfrac, ...), step-N/ checkpoints, latest, final policy in model/."})
public final class PpoCommand extends BaseCommand {
    @Option(names = "--policy", paramLabel = "MODEL", required = true, description = "the policy to train (SFT model)")
    Path policyPath;

    @Option(names = "--reward-model", paramLabel = "RM", required = true, description = "reward model (align4j rm's model/ or run folder)")
    Path rewardPath;

    @Option(names = "--reference", paramLabel = "MODEL", description = "reference model of the KL penalty (default: --policy)")
    Path referencePath;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "default: inferred from the vocabulary")
    String tokenizer;

    @Option(names = "--tasks", paramLabel = "N", description = "prompts: N tasks of the built-in suite, train split (default 256)")
    int tasks = 256;

    @Option(names = "--level", paramLabel = "L", description = "task difficulty 1, 2 (default) or 3")
    int level = 2;

    @Option(names = "--families", paramLabel = "NAME", split = ",", description = "only these task families")
    List<String> families;

    @Option(names = "--eval-tasks", paramLabel = "N", description = "held-out tasks for eval/gold_accuracy (default 64; 0: none)")
    int evalTasks = 64;

    @Mixin TrainOptions train = new TrainOptions();

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "run folder")
    Path out;

    @Option(names = "--rollout", paramLabel = "N", description = "prompts per rollout, one response each (--batch means the same)")
    Integer rollout;

    @Option(names = "--mini-batch", paramLabel = "N", description = "rollout rows per update")
    Integer miniBatch;

    @Option(names = "--epochs", paramLabel = "K", description = "PPO epochs over each rollout")
    Integer epochs;

    @Option(names = "--samples-per-prompt", paramLabel = "K",
            description = "K responses per prompt, scored against the leave-one-out mean of the others (RLOO baseline; default 1)")
    Integer samplesPerPrompt;

    @Option(names = "--baseline", paramLabel = "critic|group",
            description = "critic: a value model from the reward model and GAE (default); group: no critic, each score against "
                    + "the mean of the other responses to its prompt (RLOO; needs --samples-per-prompt >= 2)")
    String baseline;

    @Option(names = "--max-new", paramLabel = "N", description = "response length limit")
    Integer maxNew;

    @Option(names = "--temperature", paramLabel = "T", description = "rollout sampling temperature")
    Double temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "rollout top-k (0: off)")
    Integer topK;

    @Option(names = "--beta", paramLabel = "B", description = "KL penalty coefficient (initial value with --kl-target)")
    Float beta;

    @Option(names = "--kl-estimator", paramLabel = "k1|k2|k3", description = "per-token KL estimator of the penalty")
    String klEstimator;

    @Option(names = "--kl-target", paramLabel = "KL", description = "adaptive KL target (0: fixed beta)")
    Double klTarget;

    @Option(names = "--clip-range", paramLabel = "EPS", description = "policy ratio clip epsilon")
    Float clipRange;

    @Option(names = "--value-clip", paramLabel = "EPS", description = "value clip epsilon")
    Float valueClip;

    @Option(names = "--vf-coef", paramLabel = "C", description = "value loss coefficient")
    Double vfCoef;

    @Option(names = "--ent-coef", paramLabel = "C", description = "entropy bonus coefficient")
    Double entCoef;

    @Option(names = "--gamma", paramLabel = "G", description = "GAE discount")
    Float gamma;

    @Option(names = "--lambda", paramLabel = "L", description = "GAE lambda")
    Float lambda;

    PpoConfig config() {
        PpoConfig d = PpoConfig.defaults();
        PpoConfig.Rollout r = d.rollout();
        PpoConfig.Objective o = d.objective();
        PpoConfig.KlControl k = d.kl();
        PpoConfig.Advantage a = d.advantage();
        int roll = rollout != null ? rollout : train.batch(r.batch());
        PpoConfig c = d.withSchedule(train.schedule(d.schedule(), seed(d.seed())))
                .withBatches(roll, miniBatch != null ? miniBatch : Math.min(r.miniBatch(), roll), epochs != null ? epochs : r.epochs())
                .withGeneration(maxNew != null ? maxNew : r.maxNewTokens(), temperature != null ? temperature : r.temperature(),
                        topK != null ? topK : r.topK())
                .withKl(beta != null ? beta : k.beta(), klEstimator != null ? estimator(klEstimator) : k.estimator(),
                        klTarget != null ? klTarget : k.target())
                .withLosses(clipRange != null ? new PolicyLoss.Config(clipRange, clipRange, o.policyLoss().dualClip(),
                                o.policyLoss().aggregation()) : o.policyLoss(),
                        valueClip != null ? new ValueLoss.Config(valueClip, o.valueLoss().aggregation()) : o.valueLoss(),
                        vfCoef != null ? vfCoef : o.vfCoef(), entCoef != null ? entCoef : o.entCoef(), o.klLossCoef())
                .withGae(gamma != null ? gamma : a.gamma(), lambda != null ? lambda : a.lambda(), a.whiten())
                .withOptim(train.optim(d.optim()))
                .withSamplesPerPrompt(samplesPerPrompt != null ? samplesPerPrompt : r.samplesPerPrompt());
        if (baseline != null) {
            PpoConfig.Baseline b = baseline(baseline);
            if (b == PpoConfig.Baseline.GROUP && c.rollout().samplesPerPrompt() < 2)
                throw CliException.usage("--baseline group needs --samples-per-prompt K >= 2 (the other responses are the baseline)");
            c = c.withBaseline(b);
        }
        return c;
    }

    static PpoConfig.Baseline baseline(String s) {
        try {
            return PpoConfig.Baseline.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw CliException.usage("--baseline: expected critic or group, got '" + s + "'");
        }
    }

    static KlShaping.Estimator estimator(String s) {
        try {
            return KlShaping.Estimator.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw CliException.usage("--kl-estimator: expected k1, k2 or k3, got '" + s + "'");
        }
    }

    @Option(names = "--normalize-reward", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "standardise the reward model's score on the policy's own samples (mean 0, std 1; the critic's head "
                    + "rescaled alike) so that --beta means the same for any reward model (default: on)")
    boolean normalizeReward = true;

    @Option(names = "--resume", description = "continue the run in --out from its latest checkpoint, with the run's saved "
            + "settings and weights (give the same --policy, --reward-model and task options)")
    boolean resume;

    @Override
    protected int run() throws Exception {
        PpoConfig cfg = resume ? resumed(out, () -> PpoTrainer.savedConfig(out)) : config();
        if (tasks < 1) throw CliException.usage("--tasks must be >= 1, got " + tasks);
        TaskSuite suite = TaskSuite.level(level);
        if (families != null && !families.isEmpty()) suite = suite.only(families.toArray(new String[0]));
        List<Task> train = suite.generate(tasks, cfg.seed() + 1, Split.TRAIN);
        List<Task> probe = evalTasks > 0 ? suite.generate(evalTasks, cfg.seed() + 2, Split.TEST) : List.of();
        try (Gpt policy = ModelPaths.loadGpt(policyPath, "--policy", device());
             Gpt ref = referencePath == null ? policy.copy() : ModelPaths.loadGpt(referencePath, "--reference", policy.device());
             RewardModel rm = ModelPaths.loadRewardModel(rewardPath, "--reward-model", policy.device());
) {
            if (rm.config().vocabSize() != policy.config().vocabSize())
                throw CliException.usage("--reward-model has a vocabulary of " + rm.config().vocabSize() + ", --policy "
                        + policy.config().vocabSize() + ": they must share the tokenizer");
            Tokenizer tok = ModelPaths.tokenizer(tokenizer, policy.config().vocabSize());
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
            try (Gpt critic = noCritic ? null : rm.gpt().copy();
                 ScalarHead head = noCritic ? null : scale != null ? scale.criticHead() : rm.head().copy();
                 PpoTrainer t = resume ? PpoTrainer.resume(out, ref, reward, prompts, ids, policy.device())
                         : PpoTrainer.create(policy, ref, critic, head, reward, prompts, cfg, ids, out)) {
                if (resume) info("resuming at step %d of %d", t.steps(), t.totalSteps());
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
                Path saved = ModelPaths.saveFinal(t.policy(), out);
                result("ppo: policy saved to %s (run folder %s)", saved, out);
            }
        }
        return 0;
    }

    private static double num(Map<String, Object> m, String k) {
        return m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
