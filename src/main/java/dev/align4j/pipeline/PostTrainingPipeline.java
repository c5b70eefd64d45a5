package dev.align4j.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.align4j.eval.BestOfN;
import dev.align4j.eval.GoldEvaluator;
import dev.align4j.eval.PairedGain;
import dev.align4j.eval.RewardAccuracy;
import dev.align4j.eval.WinRate;
import dev.align4j.io.AtomicFiles;
import dev.align4j.model.CausalLm;
import dev.align4j.rl.SampledPairs;
import dev.align4j.tensor.Device;
import dev.align4j.train.ProgressListener;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * <p>The order is data: {@link #stages} lists the {@link Stage}s a config asks for, each one trains from what earlier
 * ones left in the {@link PipelineContext}, and one step after each ({@link PipelineContext#evaluated}) evaluates,
 * logs and records the policy it trained.
 *
 * <p>Run folder: {@code pretrain/} (when configured), {@code sft/}, {@code rm/}, {@code ppo/}, {@code ppo_overopt/}, {@code dpo/}, {@code simpo/}
 * (each a trainer's run: metrics.jsonl and checkpoints), {@code summary.json} with every evaluation, and
 * {@code samples.jsonl} with each stage's first judged greedy responses on the held-out tasks.
 */
public final class PostTrainingPipeline {
    /** The samples file of a run folder. */
    public static final String SAMPLES = "samples.jsonl";

    private PostTrainingPipeline() {}

    /** The families whose answers the reward model cannot judge and GRPO's gold checker can. */
    public static final List<String> ARITHMETIC = List.of("add", "sub");

    /**
     * A policy's gold on {@link #ARITHMETIC} problems of the training split, the problems the trainers draw from:
     * what training taught it, set against what carried over to held-out problems.
     */
    public record TrainSplitEval(GoldEvaluator.Report gold, GoldEvaluator.Diversity diversity) {}

    /**
     * Evaluation of one policy: on the held-out tasks, and, from SFT on, on the training split's arithmetic
     * ({@code trainSplit}; null before SFT or when the suite has neither add nor sub).
     */
    public record StageEval(String stage, GoldEvaluator.Report gold, GoldEvaluator.Diversity diversity, WinRate.Result vsSft,
                            double seconds, TrainSplitEval trainSplit) {
        public Map<String, Object> flat() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stage", stage);
            m.putAll(gold.metrics("gold/"));
            m.putAll(diversity.metrics("sample/"));
            if (trainSplit != null) {
                m.putAll(trainSplit.gold.metrics("train_split/gold/"));
                m.putAll(trainSplit.diversity.metrics("train_split/sample/"));
            }
            if (vsSft != null) m.put("win_rate_vs_sft", vsSft.winRate());
            m.put("train_seconds", seconds);
            return m;
        }

        /** The paired gain of greedy gold over {@code base}'s on the same held-out tasks. */
        public PairedGain greedyGain(StageEval base) {
            return PairedGain.of(gold.scores(), base.gold.scores());
        }

        /** The paired gain of sampled gold (each task's share of right samples) over {@code base}'s. */
        public PairedGain sampledGain(StageEval base) {
            return PairedGain.of(diversity.taskAccuracy(), base.diversity.taskAccuracy());
        }

        /** This evaluation on the training split's arithmetic, for {@link #greedyGain} and {@link #sampledGain} there. */
        public StageEval onTrainSplit() {
            if (trainSplit == null) throw new IllegalStateException(stage + " was not evaluated on the training split");
            return new StageEval(stage, trainSplit.gold, trainSplit.diversity, null, seconds, null);
        }
    }

    /** What a run measured. */
    public record Summary(List<StageEval> stages, SampledPairs.Result pairs, RewardAccuracy rewardHeldOut, BestOfN bestOfN,
                          Map<String, RewardAccuracy> rewardByFamily, List<String> ppoFamilies, Map<String, BestOfN> heldOutProxy,
                          List<Map<String, Object>> ppo, List<Map<String, Object>> overOpt, List<Map<String, Object>> dpo,
                          List<Map<String, Object>> simpo, List<Map<String, Object>> grpo, RewardHacks rewardHacks,
                          double seconds) {
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
        try (CausalLm base = CausalLm.create(c.model(), device, c.seed())) {
            return run(c, base, out, log, progress);
        }
    }

    /** Runs every stage from {@code base} (left untouched), on its device. */
    public static Summary run(PipelineConfig c, CausalLm base, Path out, Consumer<String> log) throws IOException {
        return run(c, base, out, log, stage -> ProgressListener.NONE);
    }

    /**
     * Runs every stage from {@code base} (left untouched), on its device; {@code progress.apply(stage)} is told
     * after every step of that stage's trainer (stages: pretrain, sft, rm, ppo, ppo_overopt, dpo, simpo).
     */
    public static Summary run(PipelineConfig c, CausalLm base, Path out, Consumer<String> log,
                              Function<String, ProgressListener> progress) throws IOException {
        long t0 = System.nanoTime();
        try (PipelineContext ctx = new PipelineContext(c, base, out, log, progress)) {
            ctx.evaluated("base", base, 0);
            for (Stage stage : stages(c)) {
                long ts = System.nanoTime();
                CausalLm policy = stage.run(ctx);
                if (policy == null) continue;
                try {
                    ctx.evaluated(stage.name(), policy, secs(ts));
                } finally {
                    if (!ctx.holds(policy)) policy.close();
                }
            }
            Summary summary = ctx.summary(secs(t0));
            writeSummary(summary, c, base.device().toString(), out.resolve("summary.json"));
            return summary;
        }
    }

    /**
     * The stages {@code c} configures, in the order they run: pre-training (when configured), SFT, pairs and the reward
     * model, PPO (and PPO with a weak KL penalty, for the over-optimisation curve), DPO, SimPO and GRPO.
     */
    static List<Stage> stages(PipelineConfig c) {
        PipelineConfig.Stages s = c.stages();
        List<Stage> out = new ArrayList<>();
        if (c.pretrain() != null) out.add(new PretrainStage("pretrain", c.pretrain()));
        out.add(new SftStage("sft", s.sft()));
        out.add(new RewardStage("rm", s.pairs(), s.rm(), s.ppoRmGate()));
        out.add(new PpoStage("ppo", s.ppo()));
        if (s.overOptBeta() >= 0)
            out.add(new PpoStage("ppo_overopt", s.ppo().withKl((float) s.overOptBeta(), s.ppo().kl().estimator(), 0)));
        out.add(new DpoStage("dpo", s.dpo()));
        out.add(new DpoStage("simpo", s.simpo()));
        if (s.grpo() != null) out.add(new GrpoStage("grpo", s.grpo()));
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
        StageEval sft = null;
        for (StageEval e : s.stages()) {
            Map<String, Object> flat = e.flat();
            BestOfN hp = s.heldOutProxy().get(e.stage());
            if (hp != null) flat.put("reward/heldout_mean", hp.proxy()[0]); // the reward model's mean score of its held-out samples
            if (sft != null) {
                PairedGain g = e.greedyGain(sft), d = e.sampledGain(sft);
                flat.put("gain_vs_sft/greedy", g.gain());
                flat.put("gain_vs_sft/greedy_se", g.se());
                flat.put("gain_vs_sft/sampled", d.gain());
                flat.put("gain_vs_sft/sampled_se", d.se());
            }
            if (e.stage().equals("sft")) sft = e;
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
        Map<String, Object> fam = new LinkedHashMap<>();
        for (Map.Entry<String, RewardAccuracy> e : s.rewardByFamily().entrySet())
            fam.put(e.getKey(), Map.of("accuracy", e.getValue().accuracy(), "pairs", e.getValue().n()));
        root.put("reward_model_by_family", fam);
        root.put("ppo_rm_gate", c.stages().ppoRmGate());
        root.put("ppo_families", s.ppoFamilies());
        Map<String, Object> hp = new LinkedHashMap<>();
        for (Map.Entry<String, BestOfN> e : s.heldOutProxy().entrySet())
            hp.put(e.getKey(), Map.of("proxy", e.getValue().proxy()[0], "gold", e.getValue().gold()[0], "prompts", e.getValue().prompts(),
                    "samples", e.getValue().samples()));
        root.put("held_out_proxy", hp);
        root.put("ppo", s.ppo());
        root.put("ppo_overopt", s.overOpt());
        root.put("grpo", s.grpo());
        if (s.rewardHacks() != null) root.put("reward_hacks", s.rewardHacks().json());
        root.put("seconds", s.seconds());
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        AtomicFiles.writeString(file, json.writeValueAsString(root) + "\n");
    }
}
