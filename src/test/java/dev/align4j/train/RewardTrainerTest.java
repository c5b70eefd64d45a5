package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.align4j.data.Datasets.PairFormat;
import dev.align4j.data.Datasets;
import dev.align4j.data.Encoder;
import dev.align4j.data.PreferencePair;
import dev.align4j.data.ReadOptions;
import dev.align4j.data.SequenceBatch;
import dev.align4j.data.TokenizedPair;
import dev.align4j.eval.RewardAccuracy;
import dev.align4j.kernels.RewardLoss;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.model.RewardModel;
import dev.align4j.reference.RewardLossReference;
import dev.align4j.rl.PpoTrainer;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.GpuTest;
import dev.align4j.tokenizer.ByteTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RewardModel, RewardTrainer and RewardAccuracy on the CPU: loss = reference, gradients, score position, learning, resume. */
class RewardTrainerTest {
    static final ByteTokenizer TOK = new ByteTokenizer();
    static final int PAD = ByteTokenizer.PAD;
    static final GptConfig TINY = new GptConfig(2, 4, 64, 64, TOK.vocabSize());
    static final GptConfig MICRO = new GptConfig(1, 2, 16, 32, TOK.vocabSize());
    static final Path DATA = Path.of("..", "shared", "data");

    /**
     * A generated preference task: the prompt is 4–7 random letters and ":", the chosen response those letters
     * sorted, the rejected one the same letters in a random unsorted order (each response ends with EOS).
     */
    static List<TokenizedPair> sortingPairs(long seed, int n) {
        return sortingPairs(seed, n, false);
    }

    /** With {@code oneSwap}, the rejected response is the sorted one with one adjacent pair swapped (harder). */
    static List<TokenizedPair> sortingPairs(long seed, int n, boolean oneSwap) {
        Random rnd = new Random(seed);
        Encoder enc = new Encoder(TOK, 64);
        List<TokenizedPair> out = new ArrayList<>(n);
        while (out.size() < n) {
            char[] s = new char[4 + rnd.nextInt(4)];
            for (int i = 0; i < s.length; i++) s[i] = (char) ('a' + rnd.nextInt(26));
            char[] sorted = s.clone();
            Arrays.sort(sorted);
            char[] shuffled = sorted.clone();
            if (oneSwap) {
                int at = rnd.nextInt(s.length - 1);
                char t = shuffled[at];
                shuffled[at] = shuffled[at + 1];
                shuffled[at + 1] = t;
            } else {
                for (int i = shuffled.length - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1);
                    char t = shuffled[i];
                    shuffled[i] = shuffled[j];
                    shuffled[j] = t;
                }
            }
            if (Arrays.equals(shuffled, sorted)) continue;
            out.add(enc.encode(new PreferencePair(new String(s) + ":", new String(sorted), new String(shuffled), "gen")));
        }
        return out;
    }

    static RewardConfig fast(long steps) {
        return RewardConfig.defaults().withSteps(steps).withBatchSize(8).withSchedule(0, 0);
    }

    // ------------------------------------------------------------------------------------------ loss = reference

    @Test
    void stepLossAndMetricsEqualReferenceOnTheScores(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        List<TokenizedPair> pairs = sortingPairs(seed, 6);
        double margin = 0.25, center = 0.05;
        RewardConfig cfg = fast(3).withBatchSize(6).withMargin(margin).withCenterRewardsCoef(center);
        try (RewardModel rm = RewardModel.create(TINY, Device.cpu(), seed);
             RewardTrainer tr = RewardTrainer.create(rm, cfg, pairs, null, PAD, dir)) {
            for (int k = 0; k < 2; k++) {
                // the step's batch is all 6 pairs (one epoch, permuted); every statistic is a mean, order-free
                RewardModel.PairScores sc = rm.scorePairs(pairs, 4, PAD);
                float[] m = new float[pairs.size()];
                Arrays.fill(m, (float) margin);
                double[] ref = RewardLossReference.stats(sc.chosen(), sc.rejected(), m, center);
                Map<String, Object> got = tr.step();
                String msg = "seed " + seed + " step " + (k + 1);
                assertEquals(ref[0], (double) got.get("loss"), 1e-5 * Math.max(1, Math.abs(ref[0])), msg + " loss");
                assertEquals(ref[1], (double) got.get("accuracy"), 1e-6, msg + " accuracy");
                assertEquals(ref[2], (double) got.get("rewards/chosen"), 1e-5, msg + " rewards/chosen");
                assertEquals(ref[3], (double) got.get("rewards/rejected"), 1e-5, msg + " rewards/rejected");
                assertEquals(ref[4], (double) got.get("margin"), 1e-5, msg + " margin");
                assertTrue(Double.isFinite((double) got.get("grad_norm")) && (double) got.get("grad_norm") > 0, msg);
                assertTrue((double) got.get("lr") > 0, msg);
            }
            // eval statistics = reference on all pairs
            RewardModel.PairScores sc = rm.scorePairs(pairs, 2, PAD);
            float[] m = new float[pairs.size()];
            Arrays.fill(m, (float) margin);
            double[] ref = RewardLossReference.stats(sc.chosen(), sc.rejected(), m, center);
            RewardLoss.Stats ev = tr.evaluate(pairs);
            assertEquals(ref[0], ev.loss(), 1e-5 * Math.max(1, Math.abs(ref[0])), "seed " + seed + " eval loss");
            assertEquals(ref[1], ev.accuracy(), 1e-6);
            RewardAccuracy acc = RewardAccuracy.of(rm, pairs, 3, PAD);
            assertEquals(ref[1], acc.accuracy(), 1e-6);
            assertEquals(ref[4], acc.meanMargin(), 1e-5);
            assertEquals(ref[2], acc.meanChosen(), 1e-5);
            assertEquals(ref[3], acc.meanRejected(), 1e-5);
            assertEquals(pairs.size(), acc.n());
        }
    }

    // ------------------------------------------------------------------------------------------ gradients

    @Test
    void gradientsMatchFiniteDifferencesOfTheReferenceLoss(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        List<TokenizedPair> pairs = sortingPairs(seed, 3);
        double margin = 0.3, center = 0.1;
        RewardConfig cfg = fast(1).withMargin(margin).withCenterRewardsCoef(center);
        try (RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed);
             RewardTrainer tr = RewardTrainer.create(rm, cfg, pairs, null, PAD, dir)) {
            // a head large enough that the backbone's gradients are well above float noise
            float[] hp = rm.head().params().toFloatArray();
            for (int i = 0; i < hp.length; i++) hp[i] *= 4;
            rm.head().params().copyFrom(hp);
            RewardLoss.Stats st = tr.gradients(pairs);
            assertEquals(refLoss(rm, pairs, margin, center), st.loss(), 1e-5, "seed " + seed);
            float[] headGrad = rm.head().grads().toFloatArray();
            float[] gptGrad = rm.backbone().grads().toFloatArray();
            checkFd("head", rm.head().params(), headGrad, rm, pairs, margin, center, seed, 0, headGrad.length);
            for (String name : new String[] {"ln_f.weight", "h.0.attn.c_attn.weight", "h.0.mlp.c_fc.bias", "wpe.weight", "wte.weight"}) {
                long off = rm.backbone().layout().entry(name).offset();
                long n = rm.backbone().param(name).numel();
                checkFd(name, rm.backbone().params(), gptGrad, rm, pairs, margin, center, seed, off, n);
            }
        }
    }

    @Test
    void microBatchesOfWholePairsGiveTheStepsGradient(@TempDir Path dir) throws IOException {
        // pairs of 5-8 letters: one forward of 11 pairs and micro-batches of 4 pairs (sorted by length, padded
        // each to its own longest row) give the same stats and gradient, to float summation order
        long seed = System.nanoTime();
        List<TokenizedPair> pairs = sortingPairs(seed, 11);
        double[][] stats = new double[2][];
        float[][] grads = new float[2][];
        int[] micros = {11, 4};
        for (int c = 0; c < 2; c++) {
            RewardConfig cfg = fast(1).withBatchSize(11).withMicroBatch(micros[c]).withMargin(0.2).withCenterRewardsCoef(0.05);
            try (RewardModel rm = RewardModel.create(TINY, Device.cpu(), 7);
                 RewardTrainer tr = RewardTrainer.create(rm, cfg, pairs, null, PAD, dir.resolve("m" + c))) {
                RewardLoss.Stats st = tr.gradients(pairs);
                stats[c] = new double[] {st.loss(), st.accuracy(), st.rewardsChosen(), st.rewardsRejected(), st.margin()};
                float[] g = rm.backbone().grads().toFloatArray(), h = rm.head().grads().toFloatArray();
                grads[c] = Arrays.copyOf(g, g.length + h.length);
                System.arraycopy(h, 0, grads[c], g.length, h.length);
            }
        }
        for (int k = 0; k < 5; k++) assertEquals(stats[0][k], stats[1][k], 1e-5 * (1 + Math.abs(stats[0][k])), "seed " + seed + " stat " + k);
        double maxG = 0;
        for (float g : grads[0]) maxG = Math.max(maxG, Math.abs(g));
        assertTrue(maxG > 0);
        for (int i = 0; i < grads[0].length; i++)
            assertEquals(grads[0][i], grads[1][i], 1e-5 * maxG, "seed " + seed + " gradient " + i);
    }

    @Test
    void sharedPromptsGiveTheFullRowsScoresAndGradients() {
        // a pair's prompt runs once for both responses (RewardModel.forwardPairScores); against the full rows
        long seed = System.nanoTime();
        List<TokenizedPair> pairs = sortingPairs(seed, 7);
        try (RewardModel rm = RewardModel.create(TINY, Device.cpu(), seed)) {
            assertTrue(rm.backbone().sharesPrefixes());
            float[] w = new float[14];
            java.util.Random rnd = new java.util.Random(seed);
            for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
            float[][] scores = new float[2][], grads = new float[2][];
            for (int c = 0; c < 2; c++) {
                rm.zeroGrad();
                scores[c] = c == 0 ? rm.forwardScores(SequenceBatch.ofPairs(pairs, PAD)) : rm.forwardPairScores(pairs, PAD);
                rm.backward(w);
                float[] g = rm.backbone().grads().toFloatArray(), h = rm.head().grads().toFloatArray();
                grads[c] = Arrays.copyOf(g, g.length + h.length);
                System.arraycopy(h, 0, grads[c], g.length, h.length);
            }
            // and score(), which cuts each row before its response and shares equal prompts
            float[] scored = rm.score(SequenceBatch.ofPairs(pairs, PAD));
            for (int i = 0; i < 14; i++) {
                assertEquals(scores[0][i], scores[1][i], 1e-5 * (1 + Math.abs(scores[0][i])), "seed " + seed + " score " + i);
                assertEquals(scores[0][i], scored[i], 1e-5 * (1 + Math.abs(scores[0][i])), "seed " + seed + " score() " + i);
            }
            double maxG = 0;
            for (float g : grads[0]) maxG = Math.max(maxG, Math.abs(g));
            assertTrue(maxG > 0);
            for (int i = 0; i < grads[0].length; i++)
                assertEquals(grads[0][i], grads[1][i], 1e-5 * maxG, "seed " + seed + " gradient " + i);
        }
    }

    /** Central differences at the 3 entries of [off, off + n) with the largest analytic gradient. */
    private static void checkFd(String what, Tensor params, float[] grad, RewardModel rm, List<TokenizedPair> pairs,
                                double margin, double center, long seed, long off, long n) {
        Integer[] idx = new Integer[(int) n];
        for (int i = 0; i < n; i++) idx[i] = (int) (off + i);
        Arrays.sort(idx, (a, b) -> Float.compare(Math.abs(grad[b]), Math.abs(grad[a])));
        float[] p = params.toFloatArray();
        for (int k = 0; k < 3; k++) {
            int i = idx[k];
            float orig = p[i];
            double eps = 2e-3;
            p[i] = (float) (orig + eps);
            params.copyFrom(p);
            double up = refLoss(rm, pairs, margin, center);
            p[i] = (float) (orig - eps);
            params.copyFrom(p);
            double down = refLoss(rm, pairs, margin, center);
            p[i] = orig;
            params.copyFrom(p);
            double fd = (up - down) / (2 * eps);
            assertEquals(fd, grad[i], 2e-3 + 0.03 * Math.abs(fd), "seed " + seed + ": d loss / d " + what + "[" + (i - off) + "]");
        }
    }

    private static double refLoss(RewardModel rm, List<TokenizedPair> pairs, double margin, double center) {
        RewardModel.PairScores s = rm.scorePairs(pairs, pairs.size(), PAD);
        double[] m = new double[pairs.size()];
        Arrays.fill(m, margin);
        return RewardLossReference.loss(RewardLossReference.toDouble(s.chosen()), RewardLossReference.toDouble(s.rejected()), m, center);
    }

    // ------------------------------------------------------------------------------------------ score position

    @Test
    void scoreIsTheHeadValueAtTheLastRealToken() {
        long seed = System.nanoTime();
        List<TokenizedPair> pairs = sortingPairs(seed, 4);
        try (RewardModel rm = RewardModel.create(TINY, Device.cpu(), seed)) {
            SequenceBatch batch = SequenceBatch.ofPairs(pairs, PAD);
            float[] together = rm.score(batch);
            PpoTrainer.RewardFunction asPpoReward = rm::score; // what PPO consumes
            assertTrue(Arrays.equals(together, asPpoReward.score(batch)), "seed " + seed + ": scoring is deterministic");
            // a longer extra row pads every real row further; a different row order changes the batch's makeup
            List<int[]> seqs = new ArrayList<>(), prompts = new ArrayList<>(), responses = new ArrayList<>();
            List<float[]> trained = new ArrayList<>();
            for (int i = batch.b() - 1; i >= 0; i--) {
                TokenizedPair p = pairs.get(i % pairs.size());
                int[] r = i < pairs.size() ? p.chosen() : p.rejected();
                int[] row = Arrays.copyOf(p.prompt(), p.prompt().length + r.length);
                System.arraycopy(r, 0, row, p.prompt().length, r.length);
                seqs.add(row);
                trained.add(new float[row.length]);
                prompts.add(p.prompt());
                responses.add(r);
            }
            int[] longRow = new int[40];
            Arrays.fill(longRow, 'z');
            seqs.add(longRow);
            trained.add(new float[longRow.length]);
            float[] padded = rm.score(SequenceBatch.ofRows(seqs, trained, PAD));
            float[] viaLists = rm.score(prompts, responses, 3);
            for (int i = 0; i < batch.b(); i++) {
                int j = batch.b() - 1 - i;
                String msg = "seed " + seed + " row " + i;
                assertEquals(together[i], padded[j], 1e-4 * (1 + Math.abs(together[i])), msg + ": padding / batch makeup");
                assertEquals(together[i], viaLists[j], 1e-4 * (1 + Math.abs(together[i])), msg + ": score(prompts, responses)");
                // a single-row forward, read by hand at the last position
                int[] row = seqs.get(j);
                rm.backbone().forward(row, null, null, 1, row.length);
                try (Scope sc = new Scope()) {
                    Tensor values = sc.empty(Device.cpu(), dev.align4j.tensor.DType.F32, 1, row.length);
                    rm.head().forward(rm.backbone().hidden(), values);
                    assertEquals(values.getFloat(row.length - 1), together[i], 1e-4 * (1 + Math.abs(together[i])), msg + ": single row");
                }
            }
            // 150 rows of 5 to 15 tokens, more than one scoring forward: length-sorted chunks, each row scored as in one
            SequenceBatch many = SequenceBatch.ofPairs(sortingPairs(seed + 1, 75), PAD);
            float[] chunked = rm.score(many), whole = rm.forwardScores(many);
            for (int i = 0; i < whole.length; i++)
                assertEquals(whole[i], chunked[i], 1e-5 * (1 + Math.abs(whole[i])), "seed " + seed + " row " + i + " of 150");
        }
    }

    @Test
    void saveLoadAndFromPolicy(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        List<TokenizedPair> pairs = sortingPairs(seed, 4);
        try (Gpt sft = Gpt.create(TINY, Device.cpu(), seed); RewardModel rm = RewardModel.fromPolicy(sft, seed + 1)) {
            float[] before = sft.params().toFloatArray();
            assertTrue(Arrays.equals(before, rm.backbone().params().toFloatArray()), "the backbone is a copy of the policy");
            try (RewardTrainer tr = RewardTrainer.create(rm, fast(2), pairs, null, PAD, dir.resolve("run"))) {
                tr.train();
            }
            assertTrue(Arrays.equals(before, sft.params().toFloatArray()), "the SFT policy stays untouched");
            assertFalse(Arrays.equals(before, rm.backbone().params().toFloatArray()), "the reward model's backbone trained");
            rm.save(dir.resolve("rm"));
            assertTrue(Files.isRegularFile(dir.resolve("rm").resolve(RewardModel.HEAD_FILE)));
            try (RewardModel back = RewardModel.load(dir.resolve("rm"), Device.cpu())) {
                assertTrue(Arrays.equals(rm.score(SequenceBatch.ofPairs(pairs, PAD)), back.score(SequenceBatch.ofPairs(pairs, PAD))));
            }
            sft.save(dir.resolve("policy"));
            IOException e = assertThrows(IOException.class, () -> RewardModel.load(dir.resolve("policy"), Device.cpu()));
            assertTrue(e.getMessage().contains(RewardModel.HEAD_FILE), e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------ learning

    @Test
    void learnsAGeneratedPreferenceTask(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        List<TokenizedPair> train = sortingPairs(seed, 512), eval = sortingPairs(seed + 1, 128);
        RewardConfig cfg = RewardConfig.defaults().withSteps(LEARN_STEPS).withBatchSize(8).withSchedule(LEARN_STEPS, 0).withSeed(seed);
        try (RewardModel rm = RewardModel.create(TINY, Device.cpu(), seed)) {
            RewardAccuracy before = RewardAccuracy.of(rm, eval, 64, PAD);
            Map<String, Object> last;
            try (RewardTrainer tr = RewardTrainer.create(rm, cfg, train, eval, PAD, dir)) {
                List<Map<String, Object>> lines = tr.train();
                last = lines.get(lines.size() - 1);
            }
            RewardAccuracy after = RewardAccuracy.of(rm, eval, 64, PAD);
            String msg = "seed " + seed + ": held-out accuracy " + before.accuracy() + " -> " + after.accuracy() + ", last " + last;
            assertTrue(after.accuracy() >= 0.75, msg);
            assertTrue(after.meanMargin() > 0, msg);
            assertEquals(after.accuracy(), (double) last.get("eval/accuracy"), 1e-6, msg);
            assertTrue(last.containsKey("eval/loss") && last.containsKey("eval/margin"), msg);
        }
    }

    static final long LEARN_STEPS = 120;

    // ------------------------------------------------------------------------------------------ real data

    @Test
    void trainsOnHhRlhfSample(@TempDir Path dir) throws IOException {
        Path f = DATA.resolve("hh_rlhf_harmless_base_test.jsonl.gz");
        assumeTrue(Files.isRegularFile(f), "no " + f);
        trainsOnRealPairs(Datasets.readPairs(f, PairFormat.HH, ReadOptions.skippingBad().withMaxRecords(64)).items(), dir);
    }

    @Test
    void trainsOnOasstSample(@TempDir Path dir) throws IOException {
        Path f = DATA.resolve("oasst2_trees_sample.jsonl");
        assumeTrue(Files.isRegularFile(f), "no " + f);
        trainsOnRealPairs(Datasets.readPairs(f, PairFormat.OASST, ReadOptions.skippingBad().withMaxRecords(80)).items(), dir);
    }

    private static void trainsOnRealPairs(List<PreferencePair> raw, Path dir) throws IOException {
        assertTrue(raw.size() >= 16, "pairs read: " + raw.size());
        raw = raw.subList(0, Math.min(raw.size(), 64));
        Encoder enc = new Encoder(TOK, TINY.nCtx());
        List<TokenizedPair> pairs = new ArrayList<>();
        for (PreferencePair p : raw) pairs.add(enc.encode(p));
        List<TokenizedPair> train = pairs.subList(0, pairs.size() - 8), eval = pairs.subList(pairs.size() - 8, pairs.size());
        try (RewardModel rm = RewardModel.create(TINY, Device.cpu(), 3);
             RewardTrainer tr = RewardTrainer.create(rm, fast(6).withSchedule(3, 3), train, eval, PAD, dir)) {
            for (Map<String, Object> m : tr.train())
                for (Map.Entry<String, Object> e : m.entrySet())
                    if (e.getValue() instanceof Double d) assertTrue(Double.isFinite(d), e.getKey() + " in " + m);
            assertTrue(RunDirectory.hasCheckpoint(dir));
        }
    }

    // ------------------------------------------------------------------------------------------ resume

    @Test
    void resumeContinuesExactly(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        List<TokenizedPair> train = sortingPairs(seed, 20), eval = sortingPairs(seed + 1, 6);
        int k = 3;
        RewardConfig cfg = fast(2 * k).withBatchSize(4).withSchedule(2, k).withMargin(0.1).withCenterRewardsCoef(0.01).withSeed(seed);
        List<Map<String, Object>> straight;
        try (RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed);
             RewardTrainer tr = RewardTrainer.create(rm, cfg, train, eval, PAD, dir.resolve("a"))) {
            straight = tr.train();
        }
        try (RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed);
             RewardTrainer tr = RewardTrainer.create(rm, cfg, train, eval, PAD, dir.resolve("b"))) {
            for (int i = 0; i < k; i++) tr.step();
            tr.step(); // a step past the checkpoint, lost by the "crash"
        }
        try (RewardTrainer tr = RewardTrainer.resume(dir.resolve("b"), train, eval, PAD, Device.cpu())) {
            assertEquals(k, tr.steps());
            assertEquals(cfg, tr.config());
            tr.train();
        }
        List<JsonNode> a = RunDirectory.readMetrics(dir.resolve("a").resolve(RunDirectory.METRICS));
        List<JsonNode> b = RunDirectory.readMetrics(dir.resolve("b").resolve(RunDirectory.METRICS));
        assertEquals(2 * k, a.size());
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) a.get(i)).remove("time_s");
            ((com.fasterxml.jackson.databind.node.ObjectNode) b.get(i)).remove("time_s");
            assertEquals(a.get(i), b.get(i), "seed " + seed + " line " + i);
        }
        assertEquals(straight.get(2 * k - 1).get("loss"), a.get(2 * k - 1).get("loss").asDouble());
    }

    // ------------------------------------------------------------------------------------------ NaN stop

    @Test
    void nanStopsTheRunAndKeepsTheLastCheckpoint(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        List<TokenizedPair> train = sortingPairs(seed, 8);
        try (RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed);
             RewardTrainer tr = RewardTrainer.create(rm, fast(10).withBatchSize(4).withSchedule(0, 2), train, null, PAD, dir)) {
            tr.step();
            tr.step();
            Path ck = tr.lastCheckpoint();
            assertNotNull(ck);
            byte[] weights = Files.readAllBytes(ck.resolve("model.safetensors"));
            byte[] head = Files.readAllBytes(ck.resolve(RewardModel.HEAD_FILE));
            byte[] state = Files.readAllBytes(ck.resolve(Checkpoint.STATE_FILE));
            float[] p = rm.backbone().param("ln_f.bias").toFloatArray();
            p[0] = Float.NaN;
            rm.backbone().setParam("ln_f.bias", p);
            float[] headBefore = rm.head().params().toFloatArray();
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, tr::step);
            assertEquals(3, e.step());
            assertEquals(ck, e.lastCheckpoint());
            assertTrue(e.getMessage().contains("score") && e.getMessage().contains(ck.toString()), e.getMessage());
            assertTrue(Arrays.equals(headBefore, rm.head().params().toFloatArray()), "no update after the NaN");
            assertEquals(ck, RunDirectory.latest(dir));
            assertTrue(Arrays.equals(weights, Files.readAllBytes(ck.resolve("model.safetensors"))));
            assertTrue(Arrays.equals(head, Files.readAllBytes(ck.resolve(RewardModel.HEAD_FILE))));
            assertTrue(Arrays.equals(state, Files.readAllBytes(ck.resolve(Checkpoint.STATE_FILE))));
            assertEquals(2, tr.steps());
        }
    }

    // ------------------------------------------------------------------------------------------ bad input

    @Test
    void badInputIsNamed(@TempDir Path dir) {
        long seed = System.nanoTime();
        List<TokenizedPair> ok = sortingPairs(seed, 4);
        try (RewardModel rm = RewardModel.create(MICRO, Device.cpu(), seed)) {
            RewardConfig cfg = fast(1);
            assertMessage("train", () -> RewardTrainer.create(rm, cfg, List.of(), null, PAD, dir));
            assertMessage("train", () -> RewardTrainer.create(rm, cfg, null, null, PAD, dir));
            List<TokenizedPair> tooLong = new ArrayList<>(ok);
            int[] longResp = new int[MICRO.nCtx()];
            Arrays.fill(longResp, 'a');
            tooLong.add(1, new TokenizedPair(new int[] {'q'}, longResp, new int[] {'b'}));
            assertMessage("train[1] has " + (MICRO.nCtx() + 1) + " tokens", () -> RewardTrainer.create(rm, cfg, tooLong, null, PAD, dir));
            List<TokenizedPair> badId = new ArrayList<>(ok);
            badId.set(0, new TokenizedPair(new int[] {'q'}, new int[] {'a', 'b', MICRO.vocabSize()}, new int[] {'b'}));
            assertMessage("train[0].chosen[2] = " + MICRO.vocabSize(), () -> RewardTrainer.create(rm, cfg, badId, null, PAD, dir));
            List<TokenizedPair> negId = List.of(new TokenizedPair(new int[] {-1}, new int[] {'a'}, new int[] {'b'}));
            assertMessage("eval[0].prompt[0] = -1", () -> RewardTrainer.create(rm, cfg, ok, negId, PAD, dir));
            assertMessage("padId", () -> RewardTrainer.create(rm, cfg, ok, null, MICRO.vocabSize(), dir));
            assertMessage("margin", () -> cfg.withMargin(Double.NaN));
            assertMessage("centerRewardsCoef", () -> cfg.withCenterRewardsCoef(-1));
            assertMessage("batchSize", () -> cfg.withBatchSize(0));
            assertThrows(IllegalStateException.class, () -> rm.backward(new float[2]));
        }
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable x) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, x);
        assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' should name '" + part + "'");
    }

    // ------------------------------------------------------------------------------------------ CUDA

    /** The same model and steps on CUDA and on the CPU give the same scores and metrics (float tolerance). */
    @GpuTest
    void cudaMatchesCpu(@TempDir Path dir) throws IOException {
        long seed = System.nanoTime();
        List<TokenizedPair> train = sortingPairs(seed, 16), eval = sortingPairs(seed + 1, 8);
        RewardConfig cfg = fast(3).withBatchSize(8).withSchedule(3, 0).withMargin(0.2).withCenterRewardsCoef(0.01).withSeed(seed);
        List<Map<String, Object>> cpu, gpu;
        float[] sc, sg;
        try (RewardModel rm = RewardModel.create(TINY, Device.cpu(), seed);
             RewardTrainer tr = RewardTrainer.create(rm, cfg, train, eval, PAD, dir.resolve("cpu"))) {
            sc = rm.score(SequenceBatch.ofPairs(eval, PAD));
            cpu = tr.train();
        }
        try (RewardModel rm = RewardModel.create(TINY, Device.cuda(0), seed);
             RewardTrainer tr = RewardTrainer.create(rm, cfg, train, eval, PAD, dir.resolve("gpu"))) {
            sg = rm.score(SequenceBatch.ofPairs(eval, PAD));
            gpu = tr.train();
        }
        for (int i = 0; i < sc.length; i++) assertEquals(sc[i], sg[i], 1e-3 * (1 + Math.abs(sc[i])), "seed " + seed + " score " + i);
        for (int s = 0; s < cpu.size(); s++)
            for (String k : new String[] {"loss", "margin", "rewards/chosen", "rewards/rejected", "grad_norm"})
                assertEquals((double) cpu.get(s).get(k), (double) gpu.get(s).get(k), 2e-3 * (1 + Math.abs((double) cpu.get(s).get(k))),
                        "seed " + seed + " step " + (s + 1) + " " + k);
        assertTrue(gpu.get(cpu.size() - 1).containsKey("eval/accuracy"));
    }
}
