package dev.align4j.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedPair;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.BestOfN;
import dev.align4j.eval.GoldEvaluator;
import dev.align4j.eval.RewardAccuracy;
import dev.align4j.eval.WinRate;
import dev.align4j.model.CausalLm;
import dev.align4j.model.RewardModel;
import dev.align4j.rl.SampledPairs;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import dev.align4j.train.ProgressListener;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * What the stages of one pipeline run share: its inputs (config, base model, run folder, callbacks), the task data and
 * evaluator built once from them, what earlier stages produced (the SFT policy, the preference pairs and reward model)
 * and the summary being built. It owns the models it holds and closes them with itself.
 */
final class PipelineContext implements AutoCloseable {
    /** Samples per prompt of the best-of-n curve (n = 1, 2, 4, 8, 16) and of each later policy's held-out proxy score. */
    static final int BEST_OF_N_SAMPLES = 16;

    /** Training-split arithmetic tasks each policy from SFT on is evaluated on ({@link PostTrainingPipeline.TrainSplitEval}). */
    static final int TRAIN_SPLIT_ARITHMETIC = 200;

    /** Rows per evaluation batch. */
    static final int BATCH = 64;

    /**
     * What the reward stage leaves for the later stages and the summary.
     *
     * @param sampled      the training pairs sampled from the SFT policy (and what was dropped)
     * @param trainPairs   those pairs, encoded
     * @param heldOutPairs the held-out pairs, encoded
     * @param rmHeldOut    the reward model's accuracy on the held-out pairs
     * @param rmByFamily   the same by task family
     * @param ppoFamilies  the families PPO rolls out on (those the reward model judges)
     * @param bestOfN      best-of-n of the SFT policy against the reward model on held-out tasks
     */
    record Preferences(SampledPairs.Result sampled, List<TokenizedPair> trainPairs, List<TokenizedPair> heldOutPairs,
                       RewardAccuracy rmHeldOut, Map<String, RewardAccuracy> rmByFamily, List<String> ppoFamilies,
                       BestOfN bestOfN) {}

    final PipelineConfig config;
    final CausalLm base;
    final Consumer<String> log;
    final Encoder enc;
    final TaskSuite suite;
    final List<Task> sftTasks, pairTasks, ppoTasks, grpoTasks, test, heldOutTasks;
    /** {@link #TRAIN_SPLIT_ARITHMETIC} training-split tasks of the suite's arithmetic families (none without them). */
    final List<Task> trainArithmetic;
    private final Path out;
    private final Function<String, ProgressListener> progress;
    private final GoldEvaluator gold;
    private final Path samples;
    private final List<PostTrainingPipeline.StageEval> evals = new ArrayList<>();
    private final Map<String, BestOfN> heldOutProxy = new LinkedHashMap<>();
    private final Map<String, List<Map<String, Object>>> metrics = new HashMap<>();
    /** Before the sft stage the model it trains (the pre-trained one when there is one); after it, the SFT policy. */
    private CausalLm sft;
    private boolean sftTrained;
    /** The SFT policy's greedy gold scores on {@link #test}, from its evaluation: the other side of every win rate. */
    private List<Double> sftScores;
    /** The greedy answers to {@link #test} of the stages the reward-hacking table sets side by side. */
    private final Map<String, List<String>> answers = new HashMap<>();
    private RewardModel rm;
    private Preferences preferences;

    /** Generates the task data and starts the run folder (an earlier run's samples file is replaced). */
    PipelineContext(PipelineConfig c, CausalLm base, Path out, Consumer<String> log, Function<String, ProgressListener> progress)
            throws IOException {
        Tokenizer tok = Tokenizers.byName("byte");
        if (base.config().vocabSize() != tok.vocabSize())
            throw new IllegalArgumentException("the pipeline's tasks are byte-level: the model's vocabulary must be "
                    + tok.vocabSize() + ", got " + base.config().vocabSize());
        this.config = c;
        this.base = base;
        this.out = out;
        this.log = log;
        this.progress = progress;
        this.enc = new Encoder(tok, c.model().nCtx());
        PipelineConfig.Tasks t = c.tasks();
        TaskSuite s = TaskSuite.level(t.suiteLevel());
        this.suite = t.families().isEmpty() ? s : s.only(t.families().toArray(new String[0]));
        long seed = c.seed();
        this.sftTasks = suite.generate(t.sftTasks(), seed + 1, Split.TRAIN);
        this.pairTasks = suite.generate(t.pairTasks(), seed + 2, Split.TRAIN);
        this.ppoTasks = suite.generate(t.ppoPrompts(), seed + 3, Split.TRAIN);
        this.test = suite.generate(t.testTasks(), seed + 4, Split.TEST);
        this.heldOutTasks = suite.generate(t.heldOutPairs(), seed + 5, Split.TEST);
        this.grpoTasks = suite.generate(t.grpoPrompts(), seed + 6, Split.TRAIN);
        String[] arithmetic = PostTrainingPipeline.ARITHMETIC.stream()
                .filter(f -> suite.families().stream().anyMatch(x -> x.name().equals(f))).toArray(String[]::new);
        this.trainArithmetic = arithmetic.length == 0 ? List.of()
                : suite.only(arithmetic).generate(TRAIN_SPLIT_ARITHMETIC, seed + 7, Split.TRAIN);
        this.gold = new GoldEvaluator(enc, BATCH, c.eval().maxNewTokens());
        log.accept("tasks: " + suite + "; " + sftTasks.size() + " SFT, " + test.size() + " held-out");
        Files.createDirectories(out);
        this.samples = out.resolve(PostTrainingPipeline.SAMPLES);
        Files.deleteIfExists(samples);
    }

    int padId() {
        return enc.tokenizer().padId();
    }

    /** A stage's run folder. */
    Path dir(String stage) {
        return out.resolve(stage);
    }

    ProgressListener progress(String stage) {
        return progress.apply(stage);
    }

    /** Greedy gold accuracy of {@code policy} on the first {@code n} held-out tasks (PPO's eval hook). */
    double goldAccuracy(CausalLm policy, int n) {
        return gold.evaluate(policy, test.subList(0, Math.min(n, test.size()))).accuracy();
    }

    /** Hands the pre-trained model, which SFT will train, to this context. */
    void pretrained(CausalLm model) {
        if (sft != null) throw new IllegalStateException("the pipeline has already pre-trained a model");
        sft = model;
    }

    /** The model the sft stage trains in place: the pre-trained model, or else a copy of the base model. */
    CausalLm sftStart() {
        if (sftTrained) throw new IllegalStateException("the sft stage has already run");
        if (sft == null) sft = base.copy();
        return sft;
    }

    void sftTrained() {
        sftTrained = true;
    }

    /** The SFT policy. */
    CausalLm sft() {
        if (!sftTrained) throw new IllegalStateException("the sft stage must run before this stage");
        return sft;
    }

    /** Hands the reward model, which later stages use, to this context. */
    RewardModel rewardModel(RewardModel model) {
        if (rm != null) throw new IllegalStateException("the pipeline already has a reward model");
        rm = model;
        return model;
    }

    RewardModel rm() {
        if (rm == null) throw new IllegalStateException("the reward stage must run before this stage");
        return rm;
    }

    void preferences(Preferences p) {
        preferences = p;
    }

    Preferences preferences() {
        if (preferences == null) throw new IllegalStateException("the reward stage must run before this stage");
        return preferences;
    }

    /** Records a stage's trainer metrics (one map a step) for the summary. */
    void metrics(String stage, List<Map<String, Object>> lines) {
        metrics.put(stage, lines);
    }

    /** Whether this context holds (and will close) {@code policy}. */
    boolean holds(CausalLm policy) {
        return policy == base || policy == sft;
    }

    /**
     * The reward model's mean score and the gold accuracy of {@code policy}'s samples on the first held-out tasks: the
     * same prompts, samples and seed for every policy, so that the scores compare (for the SFT policy, its best-of-n curve).
     */
    BestOfN scoreHeldOut(String stage, CausalLm policy) {
        BestOfN b = BestOfN.of(policy, rm(), enc, test.subList(0, Math.min(256, test.size())), BEST_OF_N_SAMPLES,
                config.eval().maxNewTokens(), 1.0, config.seed() + 13);
        heldOutProxy.put(stage, b);
        return b;
    }

    /**
     * The step after every stage that trained a policy: evaluates it on the held-out tasks (against the SFT policy once
     * there is one, and by the reward model once there is one) and, from SFT on, on the training split's arithmetic;
     * appends its first judged responses to the samples file and logs its gold accuracy.
     */
    void evaluated(String stage, CausalLm policy, double seconds) throws IOException {
        GoldEvaluator.Report r = gold.evaluate(policy, test);
        GoldEvaluator.Diversity d = gold.sample(policy, test, config.eval().diversitySamples(), config.seed() + 11);
        if (sftTrained && policy == sft) sftScores = r.scores();
        if (List.of("sft", "ppo", "grpo").contains(stage)) answers.put(stage, r.responses());
        WinRate.Result w = sftScores == null || policy == sft ? null : WinRate.ofScores(r.scores(), sftScores);
        PostTrainingPipeline.TrainSplitEval a = !sftTrained || trainArithmetic.isEmpty() ? null
                : new PostTrainingPipeline.TrainSplitEval(gold.evaluate(policy, trainArithmetic),
                        gold.sample(policy, trainArithmetic, config.eval().diversitySamples(), config.seed() + 12));
        PostTrainingPipeline.StageEval e = new PostTrainingPipeline.StageEval(stage, r, d, w, seconds, a);
        evals.add(e);
        if (rm != null) scoreHeldOut(stage, policy);
        writeSamples(e);
        log.accept(String.format("%s: %s (%.0f s)", stage, r, seconds));
    }

    /** Appends the stage's first judged greedy responses to {@code samples.jsonl} (stage, family, prompt, response, gold, correct). */
    private void writeSamples(PostTrainingPipeline.StageEval e) throws IOException {
        ObjectMapper json = new ObjectMapper();
        StringBuilder sb = new StringBuilder();
        List<GoldEvaluator.Sample> ss = e.gold().samples();
        for (int i = 0; i < ss.size(); i++) {
            GoldEvaluator.Sample x = ss.get(i);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stage", e.stage());
            m.put("family", x.family());
            m.put("prompt", x.prompt());
            m.put("response", x.response());
            m.put("gold", test.get(i).answer().strip());
            m.put("correct", x.correct());
            sb.append(json.writeValueAsString(m)).append('\n');
        }
        Files.writeString(samples, sb.toString(), StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** What the run measured, once every stage has run. */
    PostTrainingPipeline.Summary summary(double seconds) {
        for (Map.Entry<String, BestOfN> e : heldOutProxy.entrySet())
            log.accept(String.format("held-out proxy and gold of %s's samples: raw reward %.3f, sampled gold %.3f (%d prompts × %d)",
                    e.getKey(), e.getValue().proxy()[0], e.getValue().gold()[0], e.getValue().prompts(), e.getValue().samples()));
        Preferences p = preferences();
        RewardHacks hacks = answers.containsKey("ppo") ? RewardHacks.find(test, java.util.Set.copyOf(p.ppoFamilies()),
                answers.get("sft"), answers.get("ppo"), answers.get("grpo"), rm(), enc) : null;
        if (hacks != null)
            log.accept(String.format("reward hacking: %d of PPO's %d wrong held-out answers score above the right answer (%d of them"
                    + " changed from SFT's answer)%s", hacks.hacks(), hacks.ppoWrong(), hacks.learned(),
                    hacks.grpoRight() < 0 ? "" : "; GRPO answered " + hacks.grpoRight() + " of those prompts right"));
        return new PostTrainingPipeline.Summary(evals, p.sampled(), p.rmHeldOut(), p.bestOfN(), p.rmByFamily(), p.ppoFamilies(),
                heldOutProxy, lines("ppo"), lines("ppo_overopt"), lines("dpo"), lines("simpo"), lines("grpo"), hacks, seconds);
    }

    private List<Map<String, Object>> lines(String stage) {
        return metrics.getOrDefault(stage, List.of());
    }

    /** Closes the models this context holds (the reward model, then the SFT policy). */
    @Override
    public void close() {
        try {
            if (rm != null) rm.close();
        } finally {
            if (sft != null) sft.close();
        }
    }
}
