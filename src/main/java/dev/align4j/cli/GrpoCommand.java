package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.GoldEvaluator;
import dev.align4j.model.CausalLm;
import dev.align4j.rl.GrpoConfig;
import dev.align4j.rl.GrpoTrainer;
import dev.align4j.model.RewardModel;
import dev.align4j.rl.reward.CombinedReward;
import dev.align4j.rl.reward.ModelReward;
import dev.align4j.rl.reward.RewardSpec;
import dev.align4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code align4j grpo}: GRPO (and Dr. GRPO, DAPO, GSPO through its options) of a policy on the built-in tasks'
 * prompts with rewards that programs check ({@link GrpoTrainer}), as {@code PostTrainingPipeline} runs it.
 */
@Command(name = "grpo", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = {"GRPO of a policy on the built-in tasks' prompts with verifiable rewards.",
                "--reward gold,format:0.2 (the default: gold) combines reward functions with weights;",
                "rm=DIR adds a learned reward model. --loss-type dr-grpo|dapo|grpo|bnpo,",
                "--importance-sampling-level sequence (GSPO), --dynamic-sampling (DAPO)."},
        footer = {"",
                "Writes --out: metrics.jsonl (reward, rewards/<name>/mean, reward_std,",
                "frac_reward_zero_std, completions/*, clip_ratio/*, entropy, kl, ...),",
                "step-N/ checkpoints, latest, final policy in model/."})
public final class GrpoCommand extends BaseCommand {
    @Option(names = "--policy", paramLabel = "MODEL", required = true, description = "the policy to train (SFT model)")
    Path policyPath;

    @Option(names = "--reference", paramLabel = "MODEL", description = "reference model of the KL term with --beta > 0 (default: "
            + "--policy); with --beta 0 only to log objective/kl against it (one more forward per micro-batch)")
    Path referencePath;

    @Option(names = "--reward", paramLabel = "SPEC", description = "reward functions: name[:weight],... of gold, format, length, "
            + "rm=DIR (default: gold)")
    String reward = "gold";

    @Option(names = "--tasks", paramLabel = "N", description = "prompts: N tasks of the built-in suite, train split (default 1024)")
    int tasks = 1024;

    @Mixin TaskPromptOptions taskOptions = new TaskPromptOptions();

    @Mixin RunOptions runOptions = new RunOptions();
    @Mixin LoraOptions lora = new LoraOptions();

    public GrpoCommand() {
        super(GrpoConfig.defaults());
    }

    GrpoConfig config() {
        return config(GrpoConfig.defaults());
    }

    @Override
    protected int run() throws Exception {
        runOptions.check();
        Path out = runOptions.out;
        boolean resume = runOptions.resume;
        GrpoConfig cfg = resume ? resumed(out, () -> GrpoTrainer.savedConfig(out)) : config();
        if (tasks < 1) throw CliException.usage("--tasks must be >= 1, got " + tasks);
        TaskSuite suite = taskOptions.suite();
        List<Task> train = suite.generate(tasks, cfg.seed() + 1, Split.TRAIN);
        List<Task> probe = taskOptions.probe(suite, cfg.seed() + 2);
        boolean needsRef = cfg.loss().beta() > 0 || referencePath != null;
        try (CausalLm policy = ModelPaths.loadGpt(policyPath, "--policy", device());
             // with LoRA the trainer's reference is the policy with its adapters off: no second model
             CausalLm ref = lora.trainsAdapters(policy, resume, out, cfg.seed(), this) && referencePath == null || !needsRef ? null
                     : referencePath == null ? policy.copy() : ModelPaths.loadGpt(referencePath, "--reference", policy.device())) {
            Tokenizer tok = ChatTokenizers.forModel(policyPath, "--policy", taskOptions.tokenizer, policy.config().vocabSize());
            Encoder enc = new Encoder(tok, policy.config().nCtx());
            List<GrpoTrainer.Prompt> prompts = new ArrayList<>(train.size());
            for (Task t : train) prompts.add(new GrpoTrainer.Prompt(enc.encodePrompt(t.prompt()), t));
            GoldEvaluator gold = new GoldEvaluator(enc, 64, cfg.generation().maxCompletionLength());
            try (CombinedReward rewards = rewards(policy)) {
                info("%d prompts (%s), %d held-out, policy %s, reward %s", prompts.size(), suite, probe.size(),
                        ModelPaths.describe(policy.config()), rewards);
                runOptions.ready();
                try (GrpoTrainer t = resume ? GrpoTrainer.resume(out, ref, rewards, prompts, tok, policy.device())
                        : GrpoTrainer.create(policy, ref, rewards, prompts, tok, cfg, out)) {
                    if (resume) info("resuming at step %d of %d%s", t.steps(), t.totalSteps(), t.topologyNote());
                    if (!probe.isEmpty()) t.withEvalHook(p -> Map.of("gold_accuracy", gold.evaluate(p, probe).accuracy()));
                    t.withProgress(progress("grpo"));
                    beginTraining();
                    List<Map<String, Object>> lines = t.train();
                    if (lines.isEmpty()) throw CliException.usage("--resume: the run in " + out + " is already complete");
                    Map<String, Object> a = lines.get(0), b = lines.get(lines.size() - 1);
                    result("grpo: reward %.3f -> %.3f, completion length %.1f -> %.1f over %d steps", num(a, "reward"), num(b, "reward"),
                            num(a, "completions/mean_length"), num(b, "completions/mean_length"), lines.size());
                    Path saved = ModelPaths.saveFinal(t.policy(), runOptions);
                    result("grpo: policy saved to %s (run folder %s)", saved, out);
                }
            }
        }
        return 0;
    }

    /** The --reward functions; rm=DIR loads a reward model that must share the policy's vocabulary. */
    private CombinedReward rewards(CausalLm policy) throws java.io.IOException {
        RewardSpec spec;
        try {
            spec = RewardSpec.parse(reward);
        } catch (IllegalArgumentException e) {
            throw CliException.usage(e.getMessage());
        }
        RewardSpec.Context ctx = dir -> {
            RewardModel rm = ModelPaths.loadRewardModel(dir, "--reward rm=", policy.device());
            if (rm.config().vocabSize() != policy.config().vocabSize()) {
                rm.close();
                throw CliException.usage("--reward rm=" + dir + " has a vocabulary of " + rm.config().vocabSize() + ", --policy "
                        + policy.config().vocabSize() + ": they must share the tokenizer");
            }
            return ModelReward.owning(rm);
        };
        return spec.build(ctx, Runtime.getRuntime().availableProcessors());
    }

    private static double num(Map<String, Object> m, String k) {
        return m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
