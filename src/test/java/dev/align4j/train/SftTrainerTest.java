package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.align4j.data.Encoder;
import dev.align4j.data.SequenceBatch;
import dev.align4j.data.TokenizedSft;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.GpuTest;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SftTrainerTest {
    static final Tokenizer TOK = Tokenizers.byName("byte");
    static final GptConfig CFG = new GptConfig(2, 2, 32, 48, TOK.vocabSize());

    /** "copy: abc" → " abc": learnable by a tiny model in a few hundred steps. */
    static List<TokenizedSft> copyTask(int n, long seed) {
        Random r = new Random(seed);
        Encoder enc = new Encoder(TOK, CFG.nCtx());
        List<TokenizedSft> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder w = new StringBuilder();
            int len = 2 + r.nextInt(3);
            for (int k = 0; k < len; k++) w.append((char) ('a' + r.nextInt(6)));
            out.add(enc.encode("copy " + w + ":", " " + w));
        }
        return out;
    }

    static SftConfig config(long steps) {
        return SftConfig.defaults().withSteps(steps).withBatch(8, 1).withSchedule(0, 0)
                .withOptim(OptimConfig.cosine(3e-3, 3e-4, 10));
    }

    @Test
    void lossIsTheTokenWeightedMeanOverAllMicroBatches(@TempDir Path dir) throws Exception {
        List<TokenizedSft> data = copyTask(64, 1);
        SftConfig cfg = config(1).withBatch(4, 3);
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 7)) {
            // the rows the first step draws, in order: the sampler is a pure function of (seed, position)
            EpochSampler es = new EpochSampler(data.size(), cfg.seed(), true);
            double nll = 0;
            long n = 0;
            for (int k = 0; k < 3; k++) {
                List<TokenizedSft> rows = new ArrayList<>();
                for (int idx : es.next(4)) rows.add(data.get(idx));
                SequenceBatch mb = SequenceBatch.ofSft(rows, TOK.padId());
                m.forward(mb.inputs(), null, null, mb.b(), mb.t());
                float[] logits = m.logits().toFloatArray();
                int v = CFG.vocabSize();
                for (int r = 0; r < mb.b() * mb.t(); r++) {
                    if (mb.mask()[r] == 0f) continue;
                    double max = Double.NEGATIVE_INFINITY, z = 0;
                    for (int j = 0; j < v; j++) max = Math.max(max, logits[r * v + j]);
                    for (int j = 0; j < v; j++) z += Math.exp(logits[r * v + j] - max);
                    nll -= logits[r * v + mb.targets()[r]] - max - Math.log(z);
                    n++;
                }
            }
            try (SftTrainer t = SftTrainer.create(m, cfg, data, null, TOK.padId(), dir)) {
                Map<String, Object> line = t.step();
                Close.assertClose("sft loss", nll / n, ((Number) line.get("loss")).doubleValue(), 1e-6, 1e-5);
                assertEquals(n, ((Number) line.get("tokens")).longValue());
            }
        }
    }

    @Test
    void learnsTheResponsesAndEvaluates(@TempDir Path dir) throws Exception {
        List<TokenizedSft> train = copyTask(256, 2), eval = copyTask(32, 3);
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 8)) {
            SftTrainer.Eval before = SftTrainer.evaluate(m, eval, 16, TOK.padId());
            try (SftTrainer t = SftTrainer.create(m, config(300).withSchedule(100, 0), train, eval, TOK.padId(), dir)) {
                t.train();
            }
            SftTrainer.Eval after = SftTrainer.evaluate(m, eval, 16, TOK.padId());
            assertTrue(after.loss() < 0.5 * before.loss(), "eval loss " + before.loss() + " -> " + after.loss());
            assertTrue(after.tokenAccuracy() > 0.4, "token accuracy " + before.tokenAccuracy() + " -> " + after.tokenAccuracy());
            List<JsonNode> lines = RunDirectory.readMetrics(dir.resolve(RunDirectory.METRICS));
            assertEquals(300, lines.size());
            assertTrue(lines.get(99).has("eval/loss") && lines.get(99).has("eval/token_accuracy"));
            assertTrue(Files.isRegularFile(dir.resolve("step-300").resolve("model.safetensors")));
            assertEquals("step-300", Files.readString(dir.resolve(RunDirectory.LATEST)).trim());
        }
    }

    @Test
    void allTokensTrainsOnThePromptToo(@TempDir Path dir) throws Exception {
        List<TokenizedSft> data = copyTask(16, 4);
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 9);
             SftTrainer t = SftTrainer.create(m, config(1).withAllTokens(true), data, null, TOK.padId(), dir)) {
            long all = ((Number) t.step().get("tokens")).longValue();
            long resp = 0;
            EpochSampler es = new EpochSampler(data.size(), t.config().seed(), true);
            long every = 0;
            for (int idx : es.next(8)) {
                resp += data.get(idx).trainedTokens();
                every += data.get(idx).length() - 1;
            }
            assertEquals(every, all);
            assertTrue(all > resp);
        }
    }

    @Test
    void resumeContinuesExactly(@TempDir Path dir) throws Exception {
        List<TokenizedSft> data = copyTask(40, 5);
        SftConfig cfg = config(8).withSchedule(0, 4);
        Path a = dir.resolve("a"), b = dir.resolve("b");
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 10); SftTrainer t = SftTrainer.create(m, cfg, data, null, TOK.padId(), a)) {
            t.train();
        }
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 10); SftTrainer t = SftTrainer.create(m, cfg, data, null, TOK.padId(), b)) {
            for (int i = 0; i < 6; i++) t.step(); // checkpoint at 4; steps 5, 6 are lost with the "crash"
        }
        try (SftTrainer t = SftTrainer.resume(b, data, null, TOK.padId(), Device.cpu())) {
            assertEquals(4, t.steps());
            t.train();
        }
        List<JsonNode> la = RunDirectory.readMetrics(a.resolve(RunDirectory.METRICS));
        List<JsonNode> lb = RunDirectory.readMetrics(b.resolve(RunDirectory.METRICS));
        assertEquals(8, lb.size());
        for (int i = 0; i < 8; i++) {
            assertEquals(la.get(i).get("loss").asDouble(), lb.get(i).get("loss").asDouble(), 0.0, "loss at step " + (i + 1));
            assertEquals(la.get(i).get("grad_norm").asDouble(), lb.get(i).get("grad_norm").asDouble(), 0.0);
        }
    }

    @Test
    void nanStopsTheRunAndKeepsTheLastCheckpoint(@TempDir Path dir) throws Exception {
        List<TokenizedSft> data = copyTask(16, 6);
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 11);
             SftTrainer t = SftTrainer.create(m, config(10).withSchedule(0, 2), data, null, TOK.padId(), dir)) {
            t.step();
            t.step();
            float[] p = m.params().toFloatArray();
            p[5] = Float.NaN;
            m.params().copyFrom(p);
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::step);
            assertEquals(3, e.step());
            assertEquals(dir.resolve("step-2"), e.lastCheckpoint());
            assertEquals("step-2", Files.readString(dir.resolve(RunDirectory.LATEST)).trim());
        }
    }

    @Test
    void badInputsAreNamed(@TempDir Path dir) throws Exception {
        try (Gpt m = Gpt.create(CFG, Device.cpu(), 12)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SftTrainer.create(m, config(1), List.of(), null, TOK.padId(), dir));
            assertTrue(e.getMessage().contains("train"), e.getMessage());
            TokenizedSft tooLong = new Encoder(TOK, 200).encode("x".repeat(60), "y");
            e = assertThrows(IllegalArgumentException.class,
                    () -> SftTrainer.create(m, config(1), List.of(tooLong), null, TOK.padId(), dir));
            assertTrue(e.getMessage().contains("train[0]") && e.getMessage().contains("nCtx"), e.getMessage());
            TokenizedSft badId = new TokenizedSft(new int[] {1, 5000}, new float[] {0, 1});
            e = assertThrows(IllegalArgumentException.class,
                    () -> SftTrainer.create(m, config(1), copyTask(2, 1), List.of(badId), TOK.padId(), dir));
            assertTrue(e.getMessage().contains("eval[0]") && e.getMessage().contains("5000"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> config(0));
        }
    }

    /** The same run on CUDA and on the CPU: equal losses and gradient norms up to fp32 summation order. */
    @GpuTest
    void cudaMatchesCpu(@TempDir Path dir) throws Exception {
        List<TokenizedSft> data = copyTask(32, 13);
        SftConfig cfg = config(5);
        double[][] got = new double[2][];
        Device[] devices = {Device.cpu(), Device.cuda(0)};
        for (int d = 0; d < 2; d++) {
            try (Gpt m = Gpt.create(CFG, devices[d], 14);
                 SftTrainer t = SftTrainer.create(m, cfg, data, null, TOK.padId(), dir.resolve("d" + d))) {
                got[d] = t.train().stream().mapToDouble(l -> ((Number) l.get("loss")).doubleValue()).toArray();
            }
        }
        Close.assertClose("SFT losses cuda vs cpu", got[0], toFloat(got[1]), 1e-4, 1e-3);
    }

    static float[] toFloat(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (float) x[i];
        return f;
    }
}
