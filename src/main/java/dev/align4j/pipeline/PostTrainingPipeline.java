package dev.align4j.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.align4j.data.Encoder;
import dev.align4j.data.PreferencePair;
import dev.align4j.data.TokenizedPair;
import dev.align4j.data.TokenizedSft;
import dev.align4j.data.lm.BatchSource;
import dev.align4j.data.lm.TextCorpus;
import dev.align4j.data.lm.TokenizedInstructions;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskCorpus;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.BestOfN;
import dev.align4j.eval.GoldEvaluator;
import dev.align4j.eval.RewardAccuracy;
import dev.align4j.eval.WinRate;
import dev.align4j.io.AtomicFiles;
import dev.align4j.model.Gpt;
import dev.align4j.model.RewardModel;
import dev.align4j.model.ScalarHead;
import dev.align4j.rl.PpoConfig;
import dev.align4j.rl.PpoTrainer;
import dev.align4j.rl.Responses;
import dev.align4j.rl.SampledPairs;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import dev.align4j.train.DpoConfig;
import dev.align4j.train.DpoTrainer;
import dev.align4j.train.LmTrainer;
import dev.align4j.train.ProgressListener;
import dev.align4j.train.RewardTrainer;
import dev.align4j.train.SequenceBatch;
import dev.align4j.train.SftTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The lecture's post-training pipeline on the built-in tasks, end to end, measured: from a base model (random
 * init, or pre-trained), SFT on the task suite; preference pairs sampled from the SFT policy and ranked by the
 * gold checker; a reward model from them; PPO against the reward model (and a second PPO run with a weak KL
 * penalty, for the over-optimisation curve); DPO and SimPO from the SFT policy on the same pairs. Every policy is
 * evaluated the same way on held-out tasks: greedy gold accuracy (per family), confidence and its calibration
 * error, sampled entropy and distinct-n (mode collapse), and win rate against SFT judged by the gold checker.
 *
 * <p>Run folder: {@code pretrain/} (when configured), {@code sft/}, {@code rm/}, {@code ppo/}, {@code ppo_overopt/}, {@code dpo/}, {@code simpo/}
 * (each a trainer's run: metrics.jsonl and checkpoints), {@code summary.json} with every evaluation, and
 * {@code samples.jsonl} with each stage's first judged greedy responses on the held-out tasks.
 */
public final class PostTrainingPipeline {
    /** The samples file of a run folder. */
    public static final String SAMPLES = "samples.jsonl";

    /** Samples per prompt of the best-of-n curve (n = 1, 2, 4, 8, 16). */
    static final int BEST_OF_N_SAMPLES = 16;

    private PostTrainingPipeline() {}

    /** Evaluation of one policy. */
    public record StageEval(String stage, GoldEvaluator.Report gold, GoldEvaluator.Diversity diversity, WinRate.Result vsSft,
                            double seconds) {
        public Map<String, Object> flat() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stage", stage);
            m.putAll(gold.metrics("gold/"));
            m.putAll(diversity.metrics("sample/"));
            if (vsSft != null) m.put("win_rate_vs_sft", vsSft.winRate());
            m.put("train_seconds", seconds);
            return m;
        }
    }

    /** What a run measured. */
    public record Summary(List<StageEval> stages, SampledPairs.Result pairs, RewardAccuracy rewardHeldOut, BestOfN bestOfN,
                          Map<String, RewardAccuracy> rewardByFamily, List<String> ppoFamilies, Map<String, BestOfN> heldOutProxy,
                          List<Map<String, Object>> ppo, List<Map<String, Object>> overOpt, List<Map<String, Object>> dpo,
                          List<Map<String, Object>> simpo, double seconds) {
        public StageEval stage(String name) {
            return stages.stream().filter(s -> s.stage().equals(name)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no stage " + name));
        }
    }

    /** Runs every stage on the CPU from a fresh random base model. */
    public static Summary run(PipelineConfig c, Path out, Consumer<String> log) throws IOException {
        return run(c, Device.cpu(), out, log, stage -> ProgressListener.NONE);
    }

    /** Runs every stage on {@code device} from a fresh random base model; {@code progress} gives each stage's listener. */
    public static Summary run(PipelineConfig c, Device device, Path out, Consumer<String> log,
                              Function<String, ProgressListener> progress) throws IOException {
        try (Gpt base = Gpt.create(c.model(), device, c.seed())) {
            return run(c, base, out, log, progress);
        }
    }

    /** Runs every stage from {@code base} (left untouched), on its device. */
    public static Summary run(PipelineConfig c, Gpt base, Path out, Consumer<String> log) throws IOException {
        return run(c, base, out, log, stage -> ProgressListener.NONE);
    }

    /**
     * Runs every stage from {@code base} (left untouched), on its device; {@code progress.apply(stage)} is told
     * after every step of that stage's trainer (stages: pretrain, sft, rm, ppo, ppo_overopt, dpo, simpo).
     */
    public static Summary run(PipelineConfig c, Gpt base, Path out, Consumer<String> log,
                              Function<String, ProgressListener> progress) throws IOException {
        long t0 = System.nanoTime();
        Tokenizer tok = Tokenizers.byName("byte");
        if (base.config().vocabSize() != tok.vocabSize())
            throw new IllegalArgumentException("the pipeline's tasks are byte-level: the model's vocabulary must be "
                    + tok.vocabSize() + ", got " + base.config().vocabSize());
        Encoder enc = new Encoder(tok, c.model().nCtx());
        TaskSuite suite = TaskSuite.level(c.suiteLevel());
        if (!c.families().isEmpty()) suite = suite.only(c.families().toArray(new String[0]));
        long s = c.seed();
        List<Task> sftTasks = suite.generate(c.sftTasks(), s + 1, Split.TRAIN);
        List<Task> pairTasks = suite.generate(c.pairTasks(), s + 2, Split.TRAIN);
        List<Task> ppoTasks = suite.generate(c.ppoPrompts(), s + 3, Split.TRAIN);
        List<Task> test = suite.generate(c.testTasks(), s + 4, Split.TEST);
        List<Task> heldOutTasks = suite.generate(c.heldOutPairs(), s + 5, Split.TEST);
        GoldEvaluator gold = new GoldEvaluator(enc, 64, c.maxNewTokens());
        List<StageEval> evals = new ArrayList<>();
        log.accept("tasks: " + suite + "; " + sftTasks.size() + " SFT, " + test.size() + " held-out");
        Files.createDirectories(out);
        Path samples = out.resolve(SAMPLES);
        Files.deleteIfExists(samples);
        evals.add(evaluate("base", base, null, gold, enc, test, c, 0));
        log.accept("base: " + last(evals).gold());
        writeSamples(samples, last(evals), test);

        // ---- pre-training with the mid-training mixture (optional); SFT starts from its result
        long ts = System.nanoTime();
        Gpt sftInit;
        if (c.pretrain() != null) {
            sftInit = pretrain(c, base, suite, enc, out, log, progress.apply("pretrain"));
            try {
                evals.add(evaluate("pretrain", sftInit, null, gold, enc, test, c, secs(ts)));
                log.accept("pretrain: " + last(evals).gold());
                writeSamples(samples, last(evals), test);
            } catch (RuntimeException | IOException e) {
                sftInit.close();
                throw e;
            }
        } else {
            sftInit = base.copy();
        }

        try (Gpt sft = sftInit) {
            // ---- SFT
            ts = System.nanoTime();
            List<TokenizedSft> sftData = new ArrayList<>();
            for (Task t : sftTasks) sftData.add(enc.encode(t.toSft()));
            try (SftTrainer tr = SftTrainer.create(sft, c.sft(), sftData, null, tok.padId(), out.resolve("sft"))) {
                tr.withProgress(progress.apply("sft"));
                tr.train();
            }
            evals.add(evaluate("sft", sft, null, gold, enc, test, c, secs(ts)));
            log.accept("sft: " + last(evals).gold());
            writeSamples(samples, last(evals), test);

            // ---- preference pairs from the SFT policy, ranked by the gold checker
            SampledPairs.Result sampled = SampledPairs.build(sft, enc, pairTasks, c.pairs(), s + 6);
            SampledPairs.Result heldOut = SampledPairs.build(sft, enc, heldOutTasks, c.pairs(), s + 7);
            List<TokenizedPair> trainPairs = encode(enc, sampled.pairs()), heldOutPairs = encode(enc, heldOut.pairs());
            log.accept("pairs: " + sampled + " | held-out: " + heldOut);
            if (trainPairs.isEmpty() || heldOutPairs.isEmpty())
                throw new IllegalStateException("no preference pairs could be formed from the SFT policy's samples: " + sampled);

            // ---- reward model
            RewardAccuracy rmAcc;
            BestOfN bestOfN;
            Map<String, RewardAccuracy> rmByFamily;
            List<String> ppoFamilies;
            Map<String, BestOfN> heldOutProxy = new java.util.LinkedHashMap<>();
            java.util.function.BiConsumer<String, Gpt> proxyOf;
            List<Map<String, Object>> ppoLines, overLines = List.of(), dpoLines, simpoLines;
            try (RewardModel rm = RewardModel.fromPolicy(sft, s + 8)) {
                ts = System.nanoTime();
                try (RewardTrainer tr = RewardTrainer.create(rm, c.rm(), trainPairs, heldOutPairs, tok.padId(), out.resolve("rm"))) {
                    tr.withProgress(progress.apply("rm"));
                    tr.train();
                }
                rmAcc = RewardAccuracy.of(rm, heldOutPairs, 64, tok.padId());
                log.accept(String.format("reward model: held-out accuracy %.3f on %d pairs (%.0f s)", rmAcc.accuracy(), rmAcc.n(),
                        secs(ts)));
                rmByFamily = accuracyByFamily(rm, heldOut.pairs(), heldOutPairs, heldOutTasks, tok.padId());
                ppoFamilies = gate(rmByFamily, c.ppoRmGate(), suite);
                log.accept("reward model by family (held-out accuracy, pairs): " + describe(rmByFamily) + "; PPO prompts from "
                        + ppoFamilies + " (gate " + c.ppoRmGate() + ")");
                List<String> gated = ppoFamilies;
                List<Task> ppoOn = ppoTasks.stream().filter(t -> gated.contains(t.family())).toList();
                // best-of-n of the SFT policy against the reward model on held-out tasks: can this proxy steer at all?
                bestOfN = BestOfN.of(sft, rm, enc, test.subList(0, Math.min(256, test.size())), BEST_OF_N_SAMPLES, c.maxNewTokens(),
                        1.0, s + 13);
                log.accept(bestOfN.toString());
                // the same prompts, samples and seed for every later policy: its mean proxy score and gold on held-out tasks
                heldOutProxy.put("sft", bestOfN);
                List<Task> bonTasks = test.subList(0, Math.min(256, test.size()));
                proxyOf = (name, policy) -> heldOutProxy.put(name, BestOfN.of(policy, rm, enc, bonTasks, BEST_OF_N_SAMPLES,
                        c.maxNewTokens(), 1.0, s + 13));

                // ---- PPO against the reward model, then the same with a weak KL penalty
                ts = System.nanoTime();
                ppoLines = ppo("ppo", c.ppo(), sft, rm, ppoOn, test, enc, gold, out, evals, c, log, progress, proxyOf);
                writeSamples(samples, last(evals), test);
                log.accept("ppo: " + evals.get(evals.size() - 1).gold() + String.format(" (%.0f s)", secs(ts)));
                if (c.overOptBeta() >= 0) {
                    PpoConfig weak = c.ppo().withKl((float) c.overOptBeta(), c.ppo().kl().estimator(), 0);
                    overLines = ppo("ppo_overopt", weak, sft, rm, ppoOn, test, enc, gold, out, evals, c, log, progress, proxyOf);
                    writeSamples(samples, last(evals), test);
                    log.accept("ppo (β " + c.overOptBeta() + "): " + evals.get(evals.size() - 1).gold());
                }

                // ---- DPO and SimPO from the SFT policy on the same pairs (the reward model only measures them)
                dpoLines = dpo("dpo", c.dpo(), sft, trainPairs, heldOutPairs, enc, out, gold, test, evals, c, progress, proxyOf);
                log.accept("dpo: " + last(evals).gold());
                writeSamples(samples, last(evals), test);
                simpoLines = dpo("simpo", c.simpo(), sft, trainPairs, heldOutPairs, enc, out, gold, test, evals, c, progress, proxyOf);
                log.accept("simpo: " + last(evals).gold());
                writeSamples(samples, last(evals), test);
            }
            for (Map.Entry<String, BestOfN> e : heldOutProxy.entrySet())
                log.accept(String.format("held-out proxy and gold of %s's samples: raw reward %.3f, sampled gold %.3f (%d prompts × %d)",
                        e.getKey(), e.getValue().proxy()[0], e.getValue().gold()[0], e.getValue().prompts(), e.getValue().samples()));

            Summary summary = new Summary(evals, sampled, rmAcc, bestOfN, rmByFamily, ppoFamilies, heldOutProxy, ppoLines, overLines, dpoLines, simpoLines, secs(t0));
            writeSummary(summary, c, base.device().toString(), out.resolve("summary.json"));
            return summary;
        }
    }

    /** Language modelling on the generated corpus with the instruction mixture; returns the trained copy of {@code base}. */
    private static Gpt pretrain(PipelineConfig c, Gpt base, TaskSuite suite, Encoder enc, Path out, Consumer<String> log,
                                ProgressListener progress) throws IOException {
        PipelineConfig.Pretrain pc = c.pretrain();
        Tokenizer tok = enc.tokenizer();
        long s = c.seed();
        TextCorpus corpus = TextCorpus.of(TaskCorpus.generate(suite, pc.corpusSentences(), s + 9), tok, TextCorpus.DEFAULT_VAL_FRACTION);
        List<TokenizedSft> instr = new ArrayList<>();
        for (Task t : suite.generate(pc.instructionTasks(), s + 10, Split.TRAIN)) instr.add(enc.encode(t.toSft()));
        BatchSource source = BatchSource.mixed(corpus.train(), new TokenizedInstructions(instr, tok.padId()), pc.mixture(), s + 11);
        log.accept(String.format("pretrain: %d bytes of generated prose, %d instruction examples mixed in on %s", corpus.train().length(),
                instr.size(), pc.mixture().stages()));
        Gpt model = base.copy();
        LmTrainer tr;
        try {
            tr = LmTrainer.create(model, pc.lm(), source, corpus.val(), out.resolve("pretrain"));
        } catch (RuntimeException | IOException e) {
            model.close(); // create leaves the model to the caller when it fails
            throw e;
        }
        try (tr) { // the trainer owns (and closes) its model: hand back a copy
            tr.withProgress(progress).train();
            return tr.model().copy();
        }
    }

    private static List<Map<String, Object>> ppo(String name, PpoConfig cfg, Gpt sft, RewardModel rm, List<Task> tasks,
                                                 List<Task> test, Encoder enc, GoldEvaluator gold, Path out,
                                                 List<StageEval> evals, PipelineConfig c, Consumer<String> log,
                                                 Function<String, ProgressListener> progress,
                                                 java.util.function.BiConsumer<String, Gpt> proxyOf) throws IOException {
        Tokenizer tok = enc.tokenizer();
        List<int[]> prompts = new ArrayList<>(tasks.size());
        for (Task t : tasks) prompts.add(enc.encodePrompt(t.prompt()));
        List<Task> probe = test.subList(0, Math.min(100, test.size()));
        long ts = System.nanoTime();
        List<Map<String, Object>> lines;
        RewardScale reward = normalizedReward(rm, sft, enc, tasks, cfg, c.seed() + 12, log);
        boolean critic = cfg.advantage().baseline() == PpoConfig.Baseline.CRITIC;
        try (Gpt policy = sft.copy(); Gpt ref = sft.copy(); Gpt v = critic ? rm.gpt().copy() : null;
             ScalarHead head = critic ? reward.criticHead() : null;
             PpoTrainer tr = PpoTrainer.create(policy, ref, v, head, reward, prompts, cfg,
                     new PpoTrainer.Ids(tok.eosId(), tok.padId()), out.resolve(name))) {
            tr.withGoldJudge((i, response) -> goldScore(tasks.get(i), response, tok))
                    .withEvalHook(p -> Map.of("gold_accuracy", gold.evaluate(p, probe).accuracy()));
            tr.withProgress(progress.apply(name));
            lines = tr.train();
            evals.add(evaluate(name, policy, sft, gold, enc, test, c, secs(ts)));
            proxyOf.accept(name, policy);
        }
        return lines;
    }

    private static List<Map<String, Object>> dpo(String name, DpoConfig cfg, Gpt sft, List<TokenizedPair> train,
                                                 List<TokenizedPair> heldOut, Encoder enc, Path out, GoldEvaluator gold,
                                                 List<Task> test, List<StageEval> evals, PipelineConfig c,
                                                 Function<String, ProgressListener> progress,
                                                 java.util.function.BiConsumer<String, Gpt> proxyOf) throws IOException {
        long ts = System.nanoTime();
        List<Map<String, Object>> lines;
        try (Gpt policy = sft.copy();
             DpoTrainer tr = DpoTrainer.create(policy, null, cfg, train, heldOut, enc.tokenizer().padId(), out.resolve(name))) {
            tr.withProgress(progress.apply(name));
            lines = tr.train();
            evals.add(evaluate(name, policy, sft, gold, enc, test, c, secs(ts)));
            proxyOf.accept(name, policy);
        }
        return lines;
    }

    /**
     * The reward model's score standardised on the SFT policy's own samples, as InstructGPT normalises its reward
     * model: (r − μ)/σ with μ, σ the mean and standard deviation of the scores of one sampled response (at the PPO
     * rollout temperature) to each of the first 256 PPO prompts, fixed before PPO starts. Bradley–Terry fixes only
     * score differences, so a raw reward model's scale is arbitrary (σ ≈ 8.6 on SFT samples in our runs) and a KL
     * coefficient β means nothing against it; on the standardised scale β = 0.5 trades one σ of reward for a
     * KL of 2 nats per response.
     */
    public static RewardScale normalizedReward(RewardModel rm, Gpt sft, Encoder enc, List<Task> tasks, PpoConfig cfg, long seed,
                                                      Consumer<String> log) {
        int n = Math.min(256, tasks.size());
        List<String> prompts = new ArrayList<>(n);
        for (int i = 0; i < n; i++) prompts.add(tasks.get(i).prompt());
        List<Responses.Response> rs = Responses.generate(sft, enc, prompts, 64, cfg.rollout().maxNewTokens(), cfg.rollout().temperature(), seed, false);
        double[] scores = new double[n];
        for (int from = 0; from < n; from += 64) {
            int to = Math.min(n, from + 64);
            List<int[]> p = new ArrayList<>(), r = new ArrayList<>();
            for (int i = from; i < to; i++) {
                p.add(enc.encodePrompt(prompts.get(i)));
                r.add(rs.get(i).tokens());
            }
            float[] sc = rm.score(SequenceBatch.ofResponses(p, r, enc.tokenizer().padId()));
            for (int i = from; i < to; i++) scores[i] = sc[i - from];
        }
        double mu = 0, var = 0;
        for (double x : scores) mu += x / n;
        for (double x : scores) var += (x - mu) * (x - mu) / Math.max(1, n - 1);
        double sd = Math.max(Math.sqrt(var), 1e-6);
        log.accept(String.format("reward normalisation on %d SFT samples: mean %.3f, std %.3f", n, mu, sd));
        return new RewardScale(rm, mu, sd);
    }

    /** A reward model's score standardised: (r − mean)/std. */
    public record RewardScale(RewardModel rm, double mean, double std) implements PpoTrainer.RewardFunction {
        @Override
        public float[] score(SequenceBatch batch) {
            float[] s = rm.score(batch);
            for (int i = 0; i < s.length; i++) s[i] = (float) ((s[i] - mean) / std);
            return s;
        }

        /**
         * A copy of the reward model's head that outputs the standardised score (w/σ, (b − μ)/σ): the PPO critic
         * starts from it, so its first value estimates are on the scale of the returns. (Starting from the raw head,
         * whose outputs are ~σ times too large, the critic's error swamped the advantages for the first steps:
         * explained variance −35 at step 1.)
         */
        public ScalarHead criticHead() {
            ScalarHead h = rm.head().copy();
            float[] p = h.params().toFloatArray();
            int c = h.nEmbd();
            for (int i = 0; i < c; i++) p[i] = (float) (p[i] / std);
            p[c] = (float) ((p[c] - mean) / std);
            h.params().copyFrom(p);
            return h;
        }
    }

    /** 1 when the response ended with EOS and its text is the task's answer (as {@link GoldEvaluator} judges). */
    public static double goldScore(Task task, int[] response, Tokenizer tok) {
        if (response.length == 0 || response[response.length - 1] != tok.eosId()) return 0;
        return task.score(tok.decode(Arrays.copyOf(response, response.length - 1), true));
    }

    private static StageEval evaluate(String stage, Gpt policy, Gpt sft, GoldEvaluator gold, Encoder enc, List<Task> test,
                                      PipelineConfig c, double seconds) {
        GoldEvaluator.Report r = gold.evaluate(policy, test);
        GoldEvaluator.Diversity d = gold.sample(policy, test.subList(0, Math.min(64, test.size())), c.diversitySamples(), c.seed() + 11);
        WinRate.Result w = sft == null ? null
                : WinRate.policies(policy, sft, enc, test, 64, c.maxNewTokens());
        return new StageEval(stage, r, d, w, seconds);
    }

    private static StageEval last(List<StageEval> evals) {
        return evals.get(evals.size() - 1);
    }

    /** Appends the stage's first judged greedy responses to {@code samples.jsonl} (stage, family, prompt, response, gold, correct). */
    private static void writeSamples(Path file, StageEval e, List<Task> test) throws IOException {
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
        Files.writeString(file, sb.toString(), java.nio.charset.StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /**
     * The reward model's accuracy on the held-out pairs of each family (families with no held-out pair are absent).
     * A pair's family is its task's: pairs are matched to {@code tasks} by prompt text; {@code tokenized} holds the
     * same pairs, encoded, in the same order.
     */
    static Map<String, RewardAccuracy> accuracyByFamily(RewardModel rm, List<PreferencePair> pairs, List<TokenizedPair> tokenized,
                                                        List<Task> tasks, int padId) {
        Map<String, String> family = new java.util.HashMap<>();
        for (Task t : tasks) family.put(t.prompt(), t.family());
        Map<String, List<TokenizedPair>> by = new java.util.TreeMap<>();
        for (int i = 0; i < pairs.size(); i++) {
            String f = family.get(pairs.get(i).prompt());
            if (f == null) throw new IllegalStateException("held-out pair with a prompt of no held-out task: " + pairs.get(i).origin());
            by.computeIfAbsent(f, k -> new ArrayList<>()).add(tokenized.get(i));
        }
        Map<String, RewardAccuracy> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, List<TokenizedPair>> e : by.entrySet()) out.put(e.getKey(), RewardAccuracy.of(rm, e.getValue(), 64, padId));
        return out;
    }

    /** Fewer held-out pairs than this and a family's reward-model accuracy says too little to pass the gate. */
    static final int MIN_GATE_PAIRS = 20;

    /**
     * The suite's families (in its order) whose held-out reward-model accuracy is at least {@code gate} on at least
     * {@link #MIN_GATE_PAIRS} pairs; every family when {@code gate} is 0. A family with fewer held-out pairs cannot be
     * judged and is left out (unless the gate is 0).
     */
    static List<String> gate(Map<String, RewardAccuracy> byFamily, double gate, TaskSuite suite) {
        List<String> out = new ArrayList<>();
        for (dev.align4j.data.tasks.TaskFamily f : suite.families()) {
            RewardAccuracy a = byFamily.get(f.name());
            if (gate == 0 || (a != null && a.n() >= MIN_GATE_PAIRS && a.accuracy() >= gate)) out.add(f.name());
        }
        if (out.isEmpty())
            throw new IllegalStateException("no task family passes ppoRmGate " + gate + " on at least " + MIN_GATE_PAIRS
                    + " held-out pairs (held-out reward-model accuracy by family: " + describe(byFamily)
                    + "): lower the gate or train a better reward model");
        return out;
    }

    static String describe(Map<String, RewardAccuracy> byFamily) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, RewardAccuracy> e : byFamily.entrySet())
            b.append(b.length() == 0 ? "" : ", ").append(String.format("%s %.3f (%d)", e.getKey(), e.getValue().accuracy(), e.getValue().n()));
        return b.toString();
    }

    private static List<TokenizedPair> encode(Encoder enc, List<PreferencePair> pairs) {
        List<TokenizedPair> out = new ArrayList<>(pairs.size());
        for (PreferencePair p : pairs) out.add(enc.encode(p));
        return out;
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) * 1e-9;
    }

    static void writeSummary(Summary s, PipelineConfig c, String device, Path file) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("seed", c.seed());
        root.put("model", c.model().toString());
        root.put("device", device);
        List<Map<String, Object>> st = new ArrayList<>();
        for (StageEval e : s.stages()) {
            Map<String, Object> flat = e.flat();
            BestOfN hp = s.heldOutProxy().get(e.stage());
            if (hp != null) flat.put("reward/heldout_mean", hp.proxy()[0]); // the reward model's mean score of its held-out samples
            st.add(flat);
        }
        root.put("stages", st);
        root.put("pairs", s.pairs().toString());
        root.put("reward_model_heldout_accuracy", s.rewardHeldOut().accuracy());
        BestOfN b = s.bestOfN();
        List<Map<String, Object>> bon = new ArrayList<>();
        for (int q = 0; q < b.n().length; q++)
            bon.add(Map.of("n", b.n()[q], "kl", b.kl()[q], "gold", b.gold()[q], "proxy", b.proxy()[q]));
        root.put("best_of_n", bon);
        Map<String, Object> fam = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, RewardAccuracy> e : s.rewardByFamily().entrySet())
            fam.put(e.getKey(), Map.of("accuracy", e.getValue().accuracy(), "pairs", e.getValue().n()));
        root.put("reward_model_by_family", fam);
        root.put("ppo_rm_gate", c.ppoRmGate());
        root.put("ppo_families", s.ppoFamilies());
        Map<String, Object> hp = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, BestOfN> e : s.heldOutProxy().entrySet())
            hp.put(e.getKey(), Map.of("proxy", e.getValue().proxy()[0], "gold", e.getValue().gold()[0], "prompts", e.getValue().prompts(),
                    "samples", e.getValue().samples()));
        root.put("held_out_proxy", hp);
        root.put("ppo", s.ppo());
        root.put("ppo_overopt", s.overOpt());
        root.put("seconds", s.seconds());
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        AtomicFiles.writeString(file, json.writeValueAsString(root) + "\n");
    }
}
