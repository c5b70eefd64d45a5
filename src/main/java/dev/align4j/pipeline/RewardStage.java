package dev.align4j.pipeline;

import dev.align4j.data.Encoder;
import dev.align4j.data.PreferencePair;
import dev.align4j.data.TokenizedPair;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskFamily;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.BestOfN;
import dev.align4j.eval.RewardAccuracy;
import dev.align4j.model.CausalLm;
import dev.align4j.model.RewardModel;
import dev.align4j.rl.SampledPairs;
import dev.align4j.train.RewardConfig;
import dev.align4j.train.RewardTrainer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Preference pairs sampled from the SFT policy and ranked by the gold checker (training and held-out), a reward model
 * trained on them, its held-out accuracy per family (which gates PPO's prompts), and best-of-n of the SFT policy against
 * it: can this proxy steer at all? Trains no policy.
 *
 * @param name  the stage's name (its run folder and progress listener)
 * @param pairs how pairs are sampled
 * @param rm    the reward model's training
 * @param gate  the held-out accuracy a family needs for PPO to roll out on it (0: every family)
 */
record RewardStage(String name, SampledPairs.Options pairs, RewardConfig rm, double gate) implements Stage {
    /** Fewer held-out pairs than this and a family's reward-model accuracy says too little to pass the gate. */
    static final int MIN_GATE_PAIRS = 20;

    @Override
    public CausalLm run(PipelineContext ctx) throws IOException {
        CausalLm sft = ctx.sft();
        long s = ctx.config.seed();
        int pad = ctx.padId();
        // the sampling is minutes on a CPU: its own progress bar ("pairs", one step per generation batch)
        SampledPairs.Result sampled = SampledPairs.build(sft, ctx.enc, ctx.pairTasks, pairs, s + 6, ctx.progress("pairs"));
        SampledPairs.Result heldOut = SampledPairs.build(sft, ctx.enc, ctx.heldOutTasks, pairs, s + 7);
        List<TokenizedPair> trainPairs = encode(ctx.enc, sampled.pairs()), heldOutPairs = encode(ctx.enc, heldOut.pairs());
        ctx.log.accept("pairs: " + sampled + " | held-out: " + heldOut);
        if (trainPairs.isEmpty() || heldOutPairs.isEmpty())
            throw new IllegalStateException("no preference pairs could be formed from the SFT policy's samples: " + sampled);

        long ts = System.nanoTime();
        RewardModel model = ctx.rewardModel(RewardModel.fromPolicy(sft, s + 8));
        try (RewardTrainer tr = RewardTrainer.create(model, rm, trainPairs, heldOutPairs, pad, ctx.dir(name))) {
            tr.withProgress(ctx.progress(name));
            tr.train();
        }
        RewardAccuracy acc = RewardAccuracy.of(model, heldOutPairs, PipelineContext.BATCH, pad);
        ctx.log.accept(String.format("reward model: held-out accuracy %.3f on %d pairs (%.0f s)", acc.accuracy(), acc.n(),
                (System.nanoTime() - ts) * 1e-9));
        Map<String, RewardAccuracy> byFamily = accuracyByFamily(model, heldOut.pairs(), heldOutPairs, ctx.heldOutTasks, pad);
        List<String> families = gate(byFamily, gate, ctx.suite);
        ctx.log.accept("reward model by family (held-out accuracy, pairs): " + describe(byFamily) + "; PPO prompts from "
                + families + " (gate " + gate + ")");
        BestOfN bestOfN = ctx.scoreHeldOut("sft", sft);
        ctx.log.accept(bestOfN.toString());
        ctx.preferences(new PipelineContext.Preferences(sampled, trainPairs, heldOutPairs, acc, byFamily, families, bestOfN));
        return null;
    }

    /**
     * The reward model's accuracy on the held-out pairs of each family (families with no held-out pair are absent).
     * A pair's family is its task's: pairs are matched to {@code tasks} by prompt text; {@code tokenized} holds the
     * same pairs, encoded, in the same order.
     */
    static Map<String, RewardAccuracy> accuracyByFamily(RewardModel rm, List<PreferencePair> pairs, List<TokenizedPair> tokenized,
                                                        List<Task> tasks, int padId) {
        Map<String, String> family = new HashMap<>();
        for (Task t : tasks) family.put(t.prompt(), t.family());
        Map<String, List<TokenizedPair>> by = new TreeMap<>();
        for (int i = 0; i < pairs.size(); i++) {
            String f = family.get(pairs.get(i).prompt());
            if (f == null) throw new IllegalStateException("held-out pair with a prompt of no held-out task: " + pairs.get(i).origin());
            by.computeIfAbsent(f, k -> new ArrayList<>()).add(tokenized.get(i));
        }
        Map<String, RewardAccuracy> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<TokenizedPair>> e : by.entrySet())
            out.put(e.getKey(), RewardAccuracy.of(rm, e.getValue(), PipelineContext.BATCH, padId));
        return out;
    }

    /**
     * The suite's families (in its order) whose held-out reward-model accuracy is at least {@code gate} on at least
     * {@link #MIN_GATE_PAIRS} pairs; every family when {@code gate} is 0. A family with fewer held-out pairs cannot be
     * judged and is left out (unless the gate is 0).
     */
    static List<String> gate(Map<String, RewardAccuracy> byFamily, double gate, TaskSuite suite) {
        List<String> out = new ArrayList<>();
        for (TaskFamily f : suite.families()) {
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
}
