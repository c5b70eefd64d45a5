package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.align4j.data.Encoder;
import dev.align4j.data.PreferencePair;
import dev.align4j.data.SequenceBatch;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.data.TokenizedPair;
import dev.align4j.kernels.PreferenceLoss.Type;
import dev.align4j.kernels.PreferenceLoss;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.model.LoraConfig;
import dev.align4j.model.ParamLayout;
import dev.align4j.reference.GptReference;
import dev.align4j.reference.PreferenceLossReference;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.GpuTest;
import dev.align4j.testing.TaskBase;
import dev.align4j.tokenizer.ByteTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DpoTrainer on the CPU: every loss type's metrics against the double reference (a double GPT forward, log-softmax
 * in double, PreferenceLossReference), the gradient against finite differences of that reference, the reference
 * cache, learning on a generated preference task (DPO and SimPO), exact resume, NaN stop and bad inputs.
 */
class DpoTrainerTest {
    static final ByteTokenizer TOK = new ByteTokenizer();
    static final int PAD = ByteTokenizer.PAD;
    /** For the exactness tests: the double reference forward must stay cheap. */
    static final GptConfig TINY = new GptConfig(2, 2, 32, 32, ByteTokenizer.BASE_VOCAB);
    /** For the learning tests. */
    static final GptConfig SMALL = new GptConfig(2, 4, 64, 64, ByteTokenizer.BASE_VOCAB);

    // ------------------------------------------------------------------------------------------ data

    static int[] ids(String s, boolean bos, boolean eos) {
        int[] t = TOK.encode(s);
        int[] out = new int[t.length + (bos ? 1 : 0) + (eos ? 1 : 0)];
        if (bos) out[0] = ByteTokenizer.BOS;
        System.arraycopy(t, 0, out, bos ? 1 : 0, t.length);
        if (eos) out[out.length - 1] = ByteTokenizer.EOS;
        return out;
    }

    static String letters(Random rnd, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) b.append((char) ('a' + rnd.nextInt(26)));
        return b.toString();
    }

    /** Random pairs: short prompts and responses of different lengths (for the exactness tests). */
    static List<TokenizedPair> randomPairs(Random rnd, int n) {
        List<TokenizedPair> out = new ArrayList<>();
        for (int i = 0; i < n; i++)
            out.add(new TokenizedPair(ids(letters(rnd, 1 + rnd.nextInt(6)), true, false),
                    ids(letters(rnd, rnd.nextInt(7)), false, true), ids(letters(rnd, rnd.nextInt(9)), false, true)));
        return out;
    }

    /**
     * The generated preference task: prompt "rev abcd=", chosen the letters reversed, rejected the letters copied
     * (or, in a third of the pairs, reversed with one letter changed) — the gold rule separates them.
     */
    static List<TokenizedPair> reversalPairs(Random rnd, int n) {
        List<TokenizedPair> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String w = letters(rnd, 3 + rnd.nextInt(4));
            String rev = new StringBuilder(w).reverse().toString();
            String bad;
            if (rnd.nextInt(3) == 0) {
                char[] c = rev.toCharArray();
                int k = rnd.nextInt(c.length);
                c[k] = (char) ('a' + (c[k] - 'a' + 1 + rnd.nextInt(25)) % 26);
                bad = new String(c);
            } else bad = w.equals(rev) ? w + "a" : w;
            out.add(new TokenizedPair(ids("rev " + w + "=", true, false), ids(rev, false, true), ids(bad, false, true)));
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ double reference

    static Map<String, double[]> paramsDouble(Gpt m) {
        return GptReference.params(m);
    }

    /** {chosen[n], rejected[n]} sequence log-probs: a double GPT forward, log-softmax in double, masked sums. */
    static double[][] seqLogps(GptConfig c, Map<String, double[]> p, List<TokenizedPair> pairs) {
        SequenceBatch mb = SequenceBatch.ofPairs(pairs, PAD);
        double[] logits = GptReference.forward(c.nLayer(), c.nHead(), c.nEmbd(), c.vocabSize(), c.layerNormEps(), p,
                mb.inputs(), mb.targets(), mb.mask(), mb.b(), mb.t()).logits();
        int n = pairs.size(), v = c.vocabSize();
        double[][] out = new double[2][n];
        for (int row = 0; row < mb.b(); row++)
            for (int j = 0; j < mb.t(); j++) {
                int r = row * mb.t() + j;
                if (mb.mask()[r] == 0) continue;
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (int k = 0; k < v; k++) max = Math.max(max, logits[r * v + k]);
                for (int k = 0; k < v; k++) z += Math.exp(logits[r * v + k] - max);
                out[row / n][row % n] += logits[r * v + mb.targets()[r]] - max - Math.log(z);
            }
        return out;
    }

    static double[][] lengths(List<TokenizedPair> pairs) {
        double[][] l = new double[2][pairs.size()];
        for (int i = 0; i < pairs.size(); i++) {
            l[0][i] = pairs.get(i).chosen().length;
            l[1][i] = pairs.get(i).rejected().length;
        }
        return l;
    }

    /** The step's loss in double: mean preference loss + α·(−Σ ℓ⁺ / Σ|y⁺|). ref may be null (SimPO). */
    static double refLoss(PreferenceLoss.Config cfg, double alpha, double[][] pol, double[][] ref, double[][] len) {
        double pref = PreferenceLossReference.meanLoss(cfg.type(), cfg.beta(), cfg.labelSmoothing(), cfg.gamma(), pol[0],
                pol[1], ref == null ? null : ref[0], ref == null ? null : ref[1], len[0], len[1]);
        double sc = 0, tc = 0;
        for (int i = 0; i < pol[0].length; i++) {
            sc += pol[0][i];
            tc += len[0][i];
        }
        return pref + alpha * (-sc / tc);
    }

    /** The metrics the trainer must report, in double. Returns also "near_tie" = 1 when an accuracy is ambiguous. */
    static Map<String, Double> expected(PreferenceLoss.Config cfg, double alpha, double[][] pol, double[][] ref, double[][] len) {
        Type t = cfg.type();
        int n = pol[0].length;
        double rc = 0, rr = 0, acc = 0, margin = 0, lc = 0, lr = 0, tc = 0, tie = 0;
        for (int i = 0; i < n; i++) {
            double refc = ref == null ? 0 : ref[0][i], refr = ref == null ? 0 : ref[1][i];
            double a = PreferenceLossReference.rewardChosen(t, cfg.beta(), pol[0][i], refc, len[0][i]);
            double b = PreferenceLossReference.rewardChosen(t, cfg.beta(), pol[1][i], refr, len[1][i]);
            rc += a;
            rr += b;
            acc += a > b ? 1 : 0;
            if (Math.abs(a - b) < 1e-4) tie = 1;
            margin += a - b;
            lc += pol[0][i];
            lr += pol[1][i];
            tc += len[0][i];
        }
        Map<String, Double> m = new HashMap<>();
        m.put("loss", refLoss(cfg, alpha, pol, ref, len));
        m.put("rewards/chosen", rc / n);
        m.put("rewards/rejected", rr / n);
        m.put("rewards/accuracies", acc / n);
        m.put("rewards/margins", margin / n);
        m.put("logps/chosen", lc / n);
        m.put("logps/rejected", lr / n);
        if (alpha > 0) m.put("nll_loss", -lc / tc);
        m.put("near_tie", tie);
        return m;
    }

    static void assertMetrics(String what, Map<String, Double> want, Map<String, Object> got, String prefix) {
        for (Map.Entry<String, Double> e : want.entrySet()) {
            if (e.getKey().equals("near_tie")) continue;
            Object g = got.get(prefix + e.getKey());
            assertNotNull(g, what + ": metric " + prefix + e.getKey() + " missing in " + got);
            double x = ((Number) g).doubleValue();
            if (e.getKey().equals("rewards/accuracies")) {
                if (want.get("near_tie") == 0) assertEquals(e.getValue(), x, 1e-6, what + " " + prefix + e.getKey());
            } else if (e.getKey().startsWith("logps")) Close.assertClose(what + " " + prefix + e.getKey(), e.getValue(), x, 2e-3, 1e-4);
            else Close.assertClose(what + " " + prefix + e.getKey(), e.getValue(), x, 2e-4, 1e-3);
        }
    }

    static PreferenceLoss.Config configOf(Type t) {
        return switch (t) {
            case CDPO -> PreferenceLoss.Config.cdpo(0.2f);
            case ROBUST -> PreferenceLoss.Config.of(Type.ROBUST).withLabelSmoothing(0.15f);
            case IPO -> PreferenceLoss.Config.of(Type.IPO).withBeta(0.5f);
            default -> PreferenceLoss.Config.of(t);
        };
    }

    // ------------------------------------------------------------------------------------------ tests

    /** For every loss type: the step's and the eval's metrics equal the double reference on the same rows. */
    @Test
    void everyLossTypeMatchesTheDoubleReference(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        List<TokenizedPair> train = randomPairs(rnd, 5), eval = randomPairs(rnd, 3);
        for (Type type : Type.values()) {
            String at = "seed " + seed + " " + type;
            PreferenceLoss.Config lc = configOf(type);
            double alpha = type == Type.SIGMOID || type == Type.SIMPO ? 0.3 : 0;
            // a large lr so the eval after the update sees visibly different weights
            DpoConfig cfg = DpoConfig.of(lc).withSteps(3).withBatch(train.size(), 1).withNllCoef(alpha).withSchedule(1, 0)
                    .withOptim(OptimConfig.constant(1e-2, 0)).withSeed(seed);
            try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed); Gpt ref = Gpt.create(TINY, Device.cpu(), seed + 1);
                 DpoTrainer t = DpoTrainer.create(policy, ref, cfg, train, eval, PAD, tmp.resolve(type.name()))) {
                Map<String, double[]> p0 = paramsDouble(policy), pr = paramsDouble(ref);
                double[][] refTrain = type == Type.SIMPO ? null : seqLogps(TINY, pr, train);
                double[][] refEval = type == Type.SIMPO ? null : seqLogps(TINY, pr, eval);
                if (refTrain != null) {
                    float[][] cached = t.referenceLogProbs(false);
                    Close.assertClose(at + " cached ref chosen", refTrain[0], cached[0], 2e-3, 1e-4);
                    Close.assertClose(at + " cached ref rejected", refTrain[1], cached[1], 2e-3, 1e-4);
                } else assertNull(t.referenceLogProbs(false), at);
                Map<String, Object> m = t.step(); // the batch is every train pair (shuffled: means do not care)
                assertMetrics(at + " step 1", expected(lc, alpha, seqLogps(TINY, p0, train), refTrain, lengths(train)), m, "");
                assertTrue(((Number) m.get("grad_norm")).doubleValue() > 0, at);
                assertEquals(1e-2, ((Number) m.get("lr")).doubleValue(), 1e-12, at);
                // eval runs after the update: the reference is computed on the updated weights
                Map<String, double[]> p1 = paramsDouble(policy);
                assertTrue(!Arrays.equals(p0.get("wte.weight"), p1.get("wte.weight")), at + " the step changed nothing");
                assertMetrics(at + " eval", expected(lc, alpha, seqLogps(TINY, p1, eval), refEval, lengths(eval)), m, "eval/");
                assertEquals(alpha > 0, m.containsKey("nll_loss"), at);
            }
        }
    }

    /** ∂L/∂θ from the trainer's backward (through SeqReduce and PreferenceLoss) vs central differences in double. */
    @Test
    void gradientMatchesFiniteDifferences(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        List<TokenizedPair> train = randomPairs(rnd, 3);
        for (Type type : new Type[] {Type.SIGMOID, Type.IPO, Type.SIMPO, Type.ROBUST}) {
            String at = "seed " + seed + " " + type;
            PreferenceLoss.Config lc = configOf(type);
            double alpha = type == Type.SIGMOID || type == Type.SIMPO ? 0.5 : 0;
            DpoConfig cfg = DpoConfig.of(lc).withSteps(1).withBatch(train.size(), 1).withNllCoef(alpha).withSchedule(0, 0);
            try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed); Gpt ref = Gpt.create(TINY, Device.cpu(), seed + 7);
                 DpoTrainer t = DpoTrainer.create(policy, ref, cfg, train, null, PAD, tmp.resolve(type.name()))) {
                policy.zeroGrad();
                t.lossOn(new int[] {0, 1, 2}, true);
                float[] grads = policy.grads().toFloatArray();
                float[][] cached = t.referenceLogProbs(false);
                double[][] refLp = cached == null ? null : new double[][] {toDouble(cached[0]), toDouble(cached[1])};
                double[][] len = lengths(train);
                Map<String, double[]> p = paramsDouble(policy);
                double h = 1e-5;
                for (ParamLayout.Entry e : policy.layout().entries()) {
                    if (rnd.nextInt(3) != 0 && !e.name().equals("wte.weight")) continue;
                    double[] w = p.get(e.name());
                    int i = e.name().equals("wte.weight") ? train.get(0).chosen()[0] * TINY.nEmbd() + rnd.nextInt(TINY.nEmbd())
                            : rnd.nextInt(w.length);
                    double old = w[i];
                    w[i] = old + h;
                    double lp = refLoss(lc, alpha, seqLogps(TINY, p, train), refLp, len);
                    w[i] = old - h;
                    double lm = refLoss(lc, alpha, seqLogps(TINY, p, train), refLp, len);
                    w[i] = old;
                    Close.assertClose(at + " dL/d" + e.name() + "[" + i + "]", (lp - lm) / (2 * h),
                            grads[(int) (e.offset() + i)], 2e-5, 3e-3);
                }
            }
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /**
     * Without a reference model the policy's initial weights are the reference: at step 0 the implicit rewards are
     * 0 and the sigmoid loss is log 2; an explicit copy of the policy as the reference gives the same run; SimPO
     * ignores a given reference.
     */
    @Test
    void referenceCache(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        String at = "seed " + seed;
        Random rnd = new Random(seed);
        List<TokenizedPair> train = randomPairs(rnd, 6), eval = randomPairs(rnd, 4);
        DpoConfig cfg = DpoConfig.defaults().withSteps(3).withBatch(3, 1).withSchedule(1, 0).withSeed(seed);
        List<Map<String, Object>> a, b;
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, cfg, train, eval, PAD, tmp.resolve("a"))) {
            Map<String, Object> m0 = t.lossOn(new int[] {0, 1, 2, 3, 4, 5}, false);
            assertEquals(0.0, (double) m0.get("rewards/chosen"), 1e-5, at);
            assertEquals(0.0, (double) m0.get("rewards/rejected"), 1e-5, at);
            assertEquals(0.0, (double) m0.get("rewards/margins"), 1e-5, at);
            assertEquals(Math.log(2), (double) m0.get("loss"), 1e-5, at);
            a = t.train();
            assertEquals(Math.log(2), ((Number) a.get(0).get("loss")).doubleValue(), 1e-5, at + " step 1 (before its update)");
            assertTrue(((Number) a.get(2).get("loss")).doubleValue() != Math.log(2), at);
        }
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed); Gpt copy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, copy, cfg, train, eval, PAD, tmp.resolve("b"))) {
            b = t.train();
        }
        assertSameLines(at + " explicit copy as reference", a, b);
        List<Map<String, Object>> s1, s2;
        DpoConfig simpo = DpoConfig.simpo().withSteps(2).withBatch(3, 1).withSchedule(1, 0).withSeed(seed);
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, simpo, train, eval, PAD, tmp.resolve("c"))) {
            s1 = t.train();
        }
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed); Gpt other = Gpt.create(TINY, Device.cpu(), seed + 1);
             DpoTrainer t = DpoTrainer.create(policy, other, simpo, train, eval, PAD, tmp.resolve("d"))) {
            s2 = t.train();
        }
        assertSameLines(at + " SimPO with a reference given", s1, s2);
    }

    /**
     * Gradient accumulation: 2 micro-batches of 2 pairs give the step of one batch of 4 (the same pairs, the
     * sampler draws them in the same order), the NLL term normalised over the whole step's chosen tokens.
     */
    @Test
    void gradAccumEqualsOneBatch(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        List<TokenizedPair> train = randomPairs(rnd, 8);
        DpoConfig base = DpoConfig.defaults().withSteps(2).withNllCoef(0.4).withSchedule(0, 0).withSeed(seed)
                .withOptim(OptimConfig.constant(1e-3, 0));
        // step 2's metrics are measured on the weights after step 1's update, so they check that update too
        Map<String, Object> a, b;
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, base.withBatch(2, 2), train, null, PAD, tmp.resolve("a"))) {
            t.step();
            a = t.step();
        }
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, base.withBatch(4, 1), train, null, PAD, tmp.resolve("b"))) {
            t.step();
            b = t.step();
        }
        for (String k : new String[] {"loss", "nll_loss", "rewards/chosen", "rewards/margins", "logps/chosen", "grad_norm"})
            Close.assertClose("seed " + seed + " " + k, ((Number) b.get(k)).doubleValue(), ((Number) a.get(k)).doubleValue(), 1e-5, 1e-4);
    }

    static void assertSameLines(String what, List<Map<String, Object>> a, List<Map<String, Object>> b) {
        assertEquals(a.size(), b.size(), what);
        for (int i = 0; i < a.size(); i++) {
            Map<String, Object> x = new HashMap<>(a.get(i)), y = new HashMap<>(b.get(i));
            x.remove("time_s");
            y.remove("time_s");
            assertEquals(x, y, what + " line " + i);
        }
    }

    /**
     * DPO with LoRA on the task suite's pairs (gold answer against a near miss): the adapters alone learn the preference
     * (the implicit reward margin rises from 0), the reference is the policy with its adapters off,
     * the base's weights stay bit for bit.
     */
    @Test
    void loraLearnsTheTaskSuitesPreferences(@TempDir Path dir) throws IOException {
        Encoder enc = new Encoder(new ByteTokenizer(), SMALL.nCtx());
        List<TokenizedPair> train = new ArrayList<>(), eval;
        TaskSuite suite = TaskSuite.level(1);
        for (PreferencePair p : TaskSuite.corruptedPairs(suite.generate(128, 1, Split.TRAIN), 2)) train.add(enc.encode(p));
        eval = train.subList(0, 32); // what LoRA must show is learning, not a random-init model's generalisation
        DpoConfig cfg = DpoConfig.defaults().withSteps(60).withBatch(16, 1).withSchedule(30, 0).withSeed(5)
                .withOptim(OptimConfig.constant(2e-3, 0));
        List<Map<String, Object>> lines;
        try (Gpt policy = Gpt.load(TaskBase.sft(dir, SMALL, 6, 150), Device.cpu())) {
            float[] start = policy.params().toFloatArray();
            policy.attachLora(LoraConfig.defaults(8).withAlpha(16).withTargets(List.of(LoraConfig.ALL_LINEAR)), 7);
            try (DpoTrainer t = DpoTrainer.create(policy, null, cfg, train, eval, PAD, dir.resolve("run"))) {
                lines = t.train();
            }
            assertArrayEquals(start, policy.params().toFloatArray(), "the frozen base");
        }
        double m1 = ((Number) lines.get(29).get("eval/rewards/margins")).doubleValue();
        double m2 = ((Number) lines.get(59).get("eval/rewards/margins")).doubleValue();
        double acc = ((Number) lines.get(59).get("eval/rewards/accuracies")).doubleValue();
        assertTrue(m1 > 0 && m2 > m1 && acc > 0.7, "margins " + m1 + " -> " + m2 + ", accuracy " + acc);
    }

    /** Trains from random init on 64 generated pairs (eval = the same pairs); returns the last eval line. */
    static Map<String, Object> learn(PreferenceLoss.Config loss, long seed, Path dir, long steps) throws IOException {
        Random rnd = new Random(seed);
        List<TokenizedPair> train = reversalPairs(rnd, 64);
        DpoConfig cfg = DpoConfig.of(loss).withSteps(steps).withBatch(16, 1).withSchedule(steps / 3, 0).withSeed(seed);
        try (Gpt policy = Gpt.create(SMALL, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, cfg, train, train, PAD, dir)) {
            // the eval set's mean chosen log-prob before training (double reference), to compare the end with
            double start = java.util.Arrays.stream(seqLogps(SMALL, paramsDouble(policy), train)[0]).average().orElseThrow();
            long t0 = System.nanoTime();
            List<Map<String, Object>> lines = t.train();
            System.out.printf("DpoTrainerTest learns %s (seed %d): %d steps in %.1f s;%s%n", loss.type(), seed, steps,
                    (System.nanoTime() - t0) * 1e-9, evalLine(lines));
            Map<String, Object> last = lines.get(lines.size() - 1);
            // same pairs at both ends (comparing with step 1's training batch mixed two different sets of pairs)
            assertTrue(((Number) last.get("eval/logps/chosen")).doubleValue() > start,
                    "seed " + seed + ": at this rate the chosen log-probs rise from " + start + ": " + last);
            return last;
        }
    }

    /** DPO and SimPO steps on CUDA against the same steps on the CPU (same data, same init): equal up to fp32 order. */
    @GpuTest
    void cudaMatchesCpu(@TempDir Path dir) throws Exception {
        List<TokenizedPair> pairs = randomPairs(new Random(21), 16);
        for (PreferenceLoss.Config loss : new PreferenceLoss.Config[] {PreferenceLoss.Config.dpo(), PreferenceLoss.Config.simpo()}) {
            DpoConfig cfg = DpoConfig.of(loss).withSteps(3).withBatch(4, 1).withSchedule(0, 0);
            double[][] got = new double[2][];
            dev.align4j.tensor.Device[] devices = {dev.align4j.tensor.Device.cpu(), dev.align4j.tensor.Device.cuda(0)};
            for (int d = 0; d < 2; d++) {
                try (Gpt m = Gpt.create(TINY, devices[d], 22);
                     DpoTrainer t = DpoTrainer.create(m, null, cfg, pairs, null, TOK.padId(), dir.resolve(loss.type() + "-" + d))) {
                    got[d] = t.train().stream().mapToDouble(l -> ((Number) l.get("loss")).doubleValue()).toArray();
                }
            }
            for (int i = 0; i < got[0].length; i++)
                dev.align4j.testing.Close.assertClose(loss.type() + " loss step " + (i + 1) + " cuda vs cpu", got[0][i], got[1][i], 1e-4, 1e-3);
        }
    }

    static String evalLine(List<Map<String, Object>> lines) {
        StringBuilder b = new StringBuilder();
        for (Map<String, Object> m : lines)
            if (m.containsKey("eval/loss"))
                b.append(String.format(" [step %s: loss %.3f acc %.3f margin %.3f]", m.get("step"), m.get("eval/loss"),
                        m.get("eval/rewards/accuracies"), m.get("eval/rewards/margins")));
        return b.toString();
    }

    /** DPO with the default settings drives train-pair accuracy toward 1 (measured over 4 seeds at 150 steps: accuracy 0.98..1.0, margin 0.55..0.59, loss 0.45..0.46). */
    @Test
    void dpoLearnsThePreference(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        Map<String, Object> last = learn(PreferenceLoss.Config.dpo(), seed, tmp, 150);
        assertTrue((double) last.get("eval/rewards/accuracies") >= 0.9, "seed " + seed + ": " + last);
        assertTrue((double) last.get("eval/rewards/margins") > 0.25, "seed " + seed + ": " + last);
        assertTrue((double) last.get("eval/loss") < 0.6, "seed " + seed + " (log 2 at the start): " + last);
    }

    /** SimPO likewise (measured over 4 seeds at 150 steps: accuracy 1.0, margin 1.9..2.3). */
    @Test
    void simpoLearnsThePreference(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        Map<String, Object> last = learn(PreferenceLoss.Config.simpo(), seed, tmp, 150);
        assertTrue((double) last.get("eval/rewards/accuracies") >= 0.9, "seed " + seed + ": " + last);
        assertTrue((double) last.get("eval/rewards/margins") > 1.0, "seed " + seed + ": " + last);
    }

    /** 2k steps straight vs k, a stop after unsaved steps, a resume and the rest: identical metrics and weights. */
    @Test
    void resumeIsExact(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        String at = "seed " + seed;
        Random rnd = new Random(seed);
        List<TokenizedPair> train = randomPairs(rnd, 7), eval = randomPairs(rnd, 3);
        // no reference model: the cache holds the INITIAL policy's log-probs, which a resume cannot recompute
        DpoConfig cfg = DpoConfig.of(PreferenceLoss.Config.cdpo(0.1f)).withSteps(6).withBatch(2, 2).withNllCoef(0.2)
                .withSchedule(2, 3).withOptim(OptimConfig.cosine(3e-3, 3e-4, 2)).withSeed(seed);
        float[] full;
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, cfg, train, eval, PAD, tmp.resolve("a"))) {
            t.train();
            full = policy.params().toFloatArray();
        }
        Path b = tmp.resolve("b");
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, cfg, train, eval, PAD, b)) {
            for (int i = 0; i < 4; i++) t.step(); // checkpoint at 3; step 4 is lost with the "crash"
            assertEquals(b.resolve("step-3"), t.lastCheckpoint());
        }
        try (DpoTrainer t = DpoTrainer.resume(b, train, eval, PAD, Device.cpu())) {
            assertEquals(3, t.steps());
            assertEquals(cfg, t.config());
            t.train();
            assertArrayEquals(full, t.model().params().toFloatArray(), at + " final weights");
        }
        List<JsonNode> x = RunDirectory.readMetrics(tmp.resolve("a").resolve(RunDirectory.METRICS));
        List<JsonNode> y = RunDirectory.readMetrics(b.resolve(RunDirectory.METRICS));
        assertEquals(6, x.size(), at);
        assertEquals(6, y.size(), at);
        for (int i = 0; i < 6; i++) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) x.get(i)).remove("time_s");
            ((com.fasterxml.jackson.databind.node.ObjectNode) y.get(i)).remove("time_s");
            assertEquals(x.get(i), y.get(i), at + " metrics line " + (i + 1));
        }
        assertTrue(x.get(1).has("eval/rewards/accuracies") && x.get(1).has("nll_loss"), at);
        // a resume with other pairs is refused (the cached reference would not match)
        List<TokenizedPair> other = new ArrayList<>(train);
        other.set(3, train.get(4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DpoTrainer.resume(b, other, eval, PAD, Device.cpu()));
        assertTrue(e.getMessage().contains("train differs"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DpoTrainer.resume(b, train, train, PAD, Device.cpu()));
        assertTrue(e.getMessage().contains("eval differs"), e.getMessage());
        assertThrows(IOException.class, () -> DpoTrainer.resume(tmp.resolve("none"), train, eval, PAD, Device.cpu()));
    }

    /** The config survives its JSON round trip (the checkpoint) for every loss type. */
    @Test
    void configJsonRoundTrip() throws IOException {
        for (Type type : Type.values()) {
            DpoConfig c = DpoConfig.of(configOf(type)).withNllCoef(0.25).withBatch(3, 2).withSchedule(7, 9).withSeed(42);
            assertEquals(c, Checkpoint.JSON.readValue(Checkpoint.JSON.writeValueAsString(c), DpoConfig.class), type.name());
        }
        assertEquals(0.1f, DpoConfig.defaults().loss().beta());
        assertEquals(2.0f, DpoConfig.simpo().loss().beta());
        assertEquals(1.0f, DpoConfig.simpo().loss().gamma());
        assertEquals(0.0, DpoConfig.defaults().nllCoef());
    }

    /** A NaN in the policy stops the run before the update; the last good checkpoint stays. */
    @Test
    void nanStops(@TempDir Path tmp) throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        List<TokenizedPair> train = randomPairs(rnd, 4);
        DpoConfig cfg = DpoConfig.defaults().withSteps(5).withBatch(2, 1).withSchedule(0, 1).withSeed(seed);
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             DpoTrainer t = DpoTrainer.create(policy, null, cfg, train, null, PAD, tmp)) {
            t.step();
            float[] w = policy.param("ln_f.weight").toFloatArray();
            w[3] = Float.NaN;
            policy.setParam("ln_f.weight", w);
            float[] before = policy.params().toFloatArray();
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::step);
            assertEquals(2, e.step());
            assertEquals(tmp.resolve("step-1"), e.lastCheckpoint());
            assertTrue(e.getMessage().contains("log-prob"), e.getMessage());
            assertArrayEquals(before, policy.params().toFloatArray(), "no update");
            assertEquals(1, t.steps());
            assertEquals("step-1", Files.readString(tmp.resolve(RunDirectory.LATEST)).trim());
            assertEquals(1, RunDirectory.readMetrics(tmp.resolve(RunDirectory.METRICS)).size());
        }
        // a broken reference model is refused at creation
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed); Gpt ref = Gpt.create(TINY, Device.cpu(), seed)) {
            float[] w = ref.param("ln_f.bias").toFloatArray();
            w[0] = Float.POSITIVE_INFINITY;
            ref.setParam("ln_f.bias", w);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> DpoTrainer.create(policy, ref, cfg, train, null, PAD, tmp.resolve("r")));
            assertTrue(e.getMessage().contains("reference log-prob of train[0]"), e.getMessage());
        }
    }

    @Test
    void badInputs(@TempDir Path tmp) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        List<TokenizedPair> train = randomPairs(rnd, 3);
        DpoConfig cfg = DpoConfig.defaults().withSteps(2).withBatch(2, 1);
        try (Gpt policy = Gpt.create(TINY, Device.cpu(), seed);
             Gpt wide = Gpt.create(new GptConfig(1, 1, 8, 32, 300), Device.cpu(), seed)) {
            Path d = tmp.resolve("x");
            bad("train must hold", () -> DpoTrainer.create(policy, null, cfg, List.of(), null, PAD, d));
            bad("train must hold", () -> DpoTrainer.create(policy, null, cfg, null, null, PAD, d));
            bad("policy", () -> DpoTrainer.create(null, null, cfg, train, null, PAD, d));
            bad("config", () -> DpoTrainer.create(policy, null, null, train, null, PAD, d));
            bad("padId", () -> DpoTrainer.create(policy, null, cfg, train, null, 400, d));
            List<TokenizedPair> tooLong = new ArrayList<>(train);
            tooLong.set(1, new TokenizedPair(ids("p".repeat(20), true, false), ids("x", false, true), ids("y".repeat(20), false, true)));
            bad("train[1] has 42 tokens", () -> DpoTrainer.create(policy, null, cfg, tooLong, null, PAD, d));
            bad("eval[1] has 42 tokens", () -> DpoTrainer.create(policy, null, cfg, train, tooLong, PAD, d));
            List<TokenizedPair> badId = new ArrayList<>(train);
            badId.set(2, new TokenizedPair(new int[] {1}, new int[] {300}, new int[] {2}));
            bad("train[2].chosen[0] = 300", () -> DpoTrainer.create(policy, null, cfg, badId, null, PAD, d));
            List<TokenizedPair> withNull = new ArrayList<>(train);
            withNull.add(null);
            bad("train[3] is null", () -> DpoTrainer.create(policy, null, cfg, withNull, null, PAD, d));
            bad("reference has vocabulary 300", () -> DpoTrainer.create(policy, wide, cfg, train, null, PAD, d));
            bad("nllCoef", () -> cfg.withNllCoef(-1));
            bad("nllCoef", () -> cfg.withNllCoef(Double.NaN));
            bad("batchSize", () -> cfg.withBatch(0, 1));
            bad("gradAccum", () -> cfg.withBatch(1, 0));
            bad("steps", () -> cfg.withSteps(0));
            bad("loss must not be null", () -> cfg.withLoss(null));
        }
        assertTrue(!Files.exists(tmp.resolve("x").resolve(RunDirectory.LATEST)));
    }

    static void bad(String message, org.junit.jupiter.api.function.Executable e) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(message), "expected '" + message + "' in: " + x.getMessage());
    }
}
