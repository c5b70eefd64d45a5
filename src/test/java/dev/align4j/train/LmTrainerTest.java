package dev.align4j.train;

import static dev.align4j.testing.GpuTest.EMULATOR_SLOW;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.lm.ArithmeticInstructions;
import dev.align4j.data.lm.BatchSource;
import dev.align4j.data.lm.MidTrainingMixture;
import dev.align4j.data.lm.TextCorpus;
import dev.align4j.model.Gpt;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.testing.Close;
import dev.align4j.testing.GpuTest;
import dev.align4j.tokenizer.ByteTokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LmTrainerTest {
    static final GptConfig TINY = new GptConfig(2, 2, 32, 32, ByteTokenizer.BASE_VOCAB);

    static LmTrainConfig tinyConfig(long seed) {
        return LmTrainConfig.defaults().withSteps(8).withBatch(3, 16, 2).withLr(3e-3, 3e-4, 2).withEval(2, 2)
                .withCheckpointEvery(4).withSeed(seed);
    }

    static BatchSource mixedSource(TextCorpus c, long seed) {
        // instruction data from the middle of the run: the mixture's state must survive a resume too
        return BatchSource.mixed(c.train(), ArithmeticInstructions.generate(new ByteTokenizer(), 40, seed),
                MidTrainingMixture.of(0, 0, 0.5, 0.5), seed);
    }

    /** N steps uninterrupted vs N/2, a stop (after two more unsaved steps), and a resume: bit-identical. */
    @Test
    void resumeIsBitIdentical(@TempDir Path tmp) throws Exception {
        long seed = System.nanoTime();
        TextCorpus c = TextCorpus.of(DataTest.generatedText(seed, 400));
        LmTrainConfig cfg = tinyConfig(seed);
        List<StepMetrics> full;
        float[] fullParams, fullM;
        try (LmTrainer t = LmTrainer.create(TINY, Device.cpu(), cfg, mixedSource(c, seed), c.val(), tmp.resolve("a"))) {
            full = t.train().stream().map(StepMetrics::of).toList();
            fullParams = t.model().params().toFloatArray();
            fullM = null;
        }
        Path b = tmp.resolve("b");
        try (LmTrainer t = LmTrainer.create(TINY, Device.cpu(), cfg, mixedSource(c, seed), c.val(), b)) {
            for (int i = 0; i < 6; i++) t.step(); // checkpoint at 4; steps 5, 6 are lost with the "crash"
            assertEquals(b.resolve("step-4"), t.lastCheckpoint());
        }
        assertEquals("step-4", Files.readString(b.resolve(LmTrainer.LATEST)).trim());
        assertEquals(6, LmTrainer.readMetrics(b.resolve(LmTrainer.METRICS)).size());
        List<StepMetrics> resumed;
        try (LmTrainer t = LmTrainer.resume(b, mixedSource(c, seed), c.val(), Device.cpu())) {
            assertEquals(4, t.steps());
            assertEquals(cfg, t.config());
            resumed = t.train().stream().map(StepMetrics::of).toList();
            assertArrayEquals(fullParams, t.model().params().toFloatArray(), "seed " + seed + " final parameters");
        }
        assertEquals(4, resumed.size());
        List<StepMetrics> logged = LmTrainer.readMetrics(b.resolve(LmTrainer.METRICS));
        assertEquals(8, logged.size(), "metrics.jsonl: steps 5, 6 of the stopped run replaced");
        for (int i = 0; i < 8; i++) {
            StepMetrics x = full.get(i), y = logged.get(i);
            String at = "seed " + seed + " step " + (i + 1);
            assertEquals(x.step(), y.step(), at);
            assertEquals(x.loss(), y.loss(), 0, at + " loss");
            assertEquals(x.gradNorm(), y.gradNorm(), 0, at + " grad norm");
            assertEquals(x.lr(), y.lr(), 0, at + " lr");
            assertEquals(x.maskedTokens(), y.maskedTokens(), at);
            assertEquals(x.evalLoss(), y.evalLoss(), at + " eval loss");
        }
        assertTrue(full.get(7).mixShare() == 0.5 && full.get(7).maskedTokens() < 6 * 16, "instruction rows in the late steps");
        assertEquals(0.0, full.get(0).mixShare());
        assertNull(full.get(0).evalLoss());
        assertTrue(full.get(1).evalLoss() != null && full.get(7).evalLoss() != null);
        assertEquals("step-8", Files.readString(b.resolve(LmTrainer.LATEST)).trim());
        // the checkpoint's model is a Hugging Face GPT-2 directory
        try (Gpt g = Gpt.load(b.resolve("step-8"), Device.cpu())) {
            assertArrayEquals(fullParams, g.params().toFloatArray());
        }
    }

    /**
     * gradAccum = 2 with B = 2 equals one micro-batch of B = 4 (the same four sequences): the loss is the mean
     * over all the step's masked tokens and the accumulated gradient its gradient. Instruction rows (mask on
     * the answer only) make the micro-batches' token counts differ, so a mean of per-micro-batch means would not match.
     */
    @Test
    void gradientAccumulationNormalisesByTotalTokens(@TempDir Path tmp) throws Exception {
        long seed = System.nanoTime();
        TextCorpus c = TextCorpus.of(DataTest.generatedText(seed, 400));
        LmTrainConfig base = tinyConfig(seed).withSteps(1).withEval(0, 0).withCheckpointEvery(0);
        float[][] grads = new float[2][];
        double[] losses = new double[2];
        long[] counts = new long[2];
        int k = 0;
        for (LmTrainConfig cfg : new LmTrainConfig[] {base.withBatch(2, 16, 2), base.withBatch(4, 16, 1)}) {
            BatchSource src = BatchSource.mixed(c.train(), ArithmeticInstructions.generate(new ByteTokenizer(), 40, seed),
                    MidTrainingMixture.of(0, 0.5), seed);
            try (LmTrainer t = LmTrainer.create(TINY, Device.cpu(), cfg, src, c.val(), tmp.resolve("r" + k))) {
                StepMetrics m = StepMetrics.of(t.step());
                losses[k] = m.loss();
                counts[k] = m.maskedTokens();
                grads[k] = t.model().grads().toFloatArray(); // the step's accumulated gradient (AdamW leaves it)
                assertEquals(64, m.tokens());
            }
            k++;
        }
        assertEquals(counts[1], counts[0]);
        Close.assertClose("seed " + seed + " loss", losses[1], losses[0], 1e-6, 1e-5);
        double[] g1 = new double[grads[1].length];
        for (int i = 0; i < g1.length; i++) g1[i] = grads[1][i];
        Close.assertClose("seed " + seed + " accumulated gradient", g1, grads[0], 1e-6, 1e-4);
    }

    @Test
    void nonFiniteLossStopsAndKeepsTheLastCheckpoint(@TempDir Path dir) throws Exception {
        long seed = System.nanoTime();
        TextCorpus c = TextCorpus.of(DataTest.generatedText(seed, 300));
        LmTrainConfig cfg = tinyConfig(seed).withCheckpointEvery(2);
        try (LmTrainer t = LmTrainer.create(TINY, Device.cpu(), cfg, BatchSource.text(c.train(), seed), c.val(), dir)) {
            t.step();
            t.step();
            t.step();
            float[] nan = new float[TINY.nEmbd()];
            Arrays.fill(nan, Float.NaN);
            t.model().setParam("ln_f.bias", nan);
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, t::step);
            assertEquals(4, e.step());
            assertTrue(e.getMessage().contains("step 4") && e.getMessage().contains("step-2"), e.getMessage());
            assertEquals(dir.resolve("step-2"), e.lastCheckpoint());
            assertEquals(3, t.steps());
        }
        assertEquals("step-2", Files.readString(dir.resolve(LmTrainer.LATEST)).trim());
        assertEquals(3, LmTrainer.readMetrics(dir.resolve(LmTrainer.METRICS)).size());
        String line = Files.readAllLines(dir.resolve(LmTrainer.METRICS), StandardCharsets.UTF_8).get(1);
        for (String key : new String[] {"\"step\":2", "\"lr\":", "\"loss\":", "\"grad_norm\":", "\"tokens\":96", "\"tokens_per_s\":", "\"eval_loss\":"})
            assertTrue(line.contains(key), key + " in " + line);
        try (LmTrainer t = LmTrainer.resume(dir, BatchSource.text(c.train(), seed), c.val(), Device.cpu())) {
            assertEquals(2, t.steps());
            assertTrue(Float.isFinite(t.model().param("ln_f.bias").getFloat(0)));
            t.step();
            t.step(); // writes step-4
        }
        // a checkpoint whose model and optimizer state come from different steps is refused
        Files.copy(dir.resolve("step-2").resolve(Checkpoint.STATE_FILE), dir.resolve("step-4").resolve(Checkpoint.STATE_FILE),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        java.io.IOException mixed = assertThrows(java.io.IOException.class,
                () -> LmTrainer.resume(dir, BatchSource.text(c.train(), seed), c.val(), Device.cpu()));
        assertTrue(mixed.getMessage().contains("step 4") && mixed.getMessage().contains("step 2"), mixed.getMessage());
    }

    @Test
    void badArguments(@TempDir Path dir) throws Exception {
        TextCorpus c = TextCorpus.of(DataTest.generatedText(1, 300));
        assertThrows(IllegalArgumentException.class, () -> LmTrainConfig.defaults().withSteps(0));
        assertThrows(IllegalArgumentException.class, () -> LmTrainConfig.defaults().withLr(1e-3, 1e-2, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LmTrainer.create(TINY, Device.cpu(),
                tinyConfig(1).withBatch(2, 64, 1), BatchSource.text(c.train(), 1), c.val(), dir));
        assertTrue(e.getMessage().contains("seqLen"), e.getMessage());
        assertThrows(java.io.IOException.class, () -> LmTrainer.resume(dir.resolve("none"), BatchSource.text(c.train(), 1), c.val(), Device.cpu()));
    }

    /**
     * A tiny model on a repetitive text drives the train loss far below the text's unigram entropy (the loss
     * of the best context-free model) in a few hundred steps.
     */
    @Test
    void learnsARepetitiveCorpus(@TempDir Path dir) throws Exception {
        learns(Device.cpu(), dir);
    }

    /** 200 steps: minutes on the emulated GPU, which runs its kernels through the kernel tests instead. */
    @GpuTest
    @Tag(EMULATOR_SLOW)
    void learnsARepetitiveCorpusCuda(@TempDir Path dir) throws Exception {
        learns(Device.cuda(0), dir);
    }

    static void learns(Device device, Path dir) throws Exception {
        long seed = System.nanoTime();
        String text = "the quick brown fox jumps over the lazy dog. ".repeat(200);
        TextCorpus c = TextCorpus.of(text);
        double unigram = unigramEntropy(new ByteTokenizer().encode(text));
        LmTrainConfig cfg = LmTrainConfig.defaults().withSteps(200).withBatch(8, 32, 1).withLr(1e-2, 1e-3, 10)
                .withEval(200, 2).withCheckpointEvery(0).withSeed(seed);
        long t0 = System.nanoTime();
        try (LmTrainer t = LmTrainer.create(new GptConfig(2, 2, 32, 32, ByteTokenizer.BASE_VOCAB), device, cfg,
                BatchSource.text(c.train(), seed), c.val(), dir)) {
            List<StepMetrics> ms = t.train().stream().map(StepMetrics::of).toList();
            double first = ms.get(0).loss(), last = ms.get(ms.size() - 1).loss();
            String msg = "seed " + seed + ": loss " + first + " -> " + last + ", unigram entropy " + unigram + " nats, eval "
                    + ms.get(ms.size() - 1).evalLoss() + ", " + (System.nanoTime() - t0) / 1e9 + " s";
            System.out.println("learnsARepetitiveCorpus " + device + " " + msg);
            assertTrue(first > 5.0, msg + " (initial loss should be near ln 259 = 5.56)");
            assertTrue(last < 0.25 * unigram, msg);
            assertTrue(ms.get(ms.size() - 1).evalLoss() < 0.25 * unigram, msg);
        }
    }

    /** A few steps on tinyshakespeare (skipped when ../shared/data is absent): the loss falls towards the unigram entropy. */
    @Test
    void tinyShakespeareSteps(@TempDir Path dir) throws Exception {
        Path p = java.nio.file.Paths.get("../shared/data/tinyshakespeare.txt");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(p), "real data absent: " + p.toAbsolutePath().normalize());
        long seed = System.nanoTime();
        TextCorpus c = TextCorpus.read(p);
        LmTrainConfig cfg = LmTrainConfig.defaults().withSteps(40).withBatch(8, 64, 1).withLr(1e-2, 1e-3, 5)
                .withEval(40, 4).withCheckpointEvery(0).withSeed(seed);
        try (LmTrainer t = LmTrainer.create(new GptConfig(2, 2, 32, 64, ByteTokenizer.BASE_VOCAB), Device.cpu(), cfg,
                BatchSource.text(c.train(), seed), c.val(), dir)) {
            List<StepMetrics> ms = t.train().stream().map(StepMetrics::of).toList();
            StepMetrics last = ms.get(ms.size() - 1);
            String msg = "seed " + seed + ": loss " + ms.get(0).loss() + " -> " + last.loss() + ", eval " + last.evalLoss();
            System.out.println("tinyShakespeareSteps " + msg);
            assertTrue(last.loss() < 3.6 && last.evalLoss() < 3.6, msg);
        }
    }

    static double unigramEntropy(int[] ids) {
        java.util.Map<Integer, Integer> n = new java.util.HashMap<>();
        for (int id : ids) n.merge(id, 1, Integer::sum);
        double h = 0;
        for (int k : n.values()) {
            double p = k / (double) ids.length;
            h -= p * Math.log(p);
        }
        return h;
    }
}
