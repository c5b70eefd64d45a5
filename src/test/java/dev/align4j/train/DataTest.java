package dev.align4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.align4j.data.lm.ArithmeticInstructions;
import dev.align4j.data.lm.Batch;
import dev.align4j.data.lm.BatchSource;
import dev.align4j.data.lm.InstructionSource;
import dev.align4j.data.lm.MidTrainingMixture;
import dev.align4j.data.lm.TextCorpus;
import dev.align4j.data.lm.TokenStream;
import dev.align4j.tokenizer.ByteTokenizer;
import dev.align4j.tokenizer.Gpt2Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** TextCorpus, TokenStream, the text and mixed batch sources, the arithmetic instruction set. */
class DataTest {
    static String generatedText(long seed, int words) {
        String[] vocab = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"};
        Random rnd = new Random(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) sb.append(vocab[rnd.nextInt(vocab.length)]).append(i % 9 == 8 ? ".\n" : " ");
        return sb.toString();
    }

    @Test
    void corpusSplitAndWindows() {
        long seed = System.nanoTime();
        String text = generatedText(seed, 500);
        TextCorpus c = TextCorpus.of(text);
        int n = text.length(); // ASCII: one byte token per char
        assertEquals(n, c.train().length() + c.val().length(), "seed " + seed);
        assertEquals(Math.round(n * 0.1), c.val().length());
        int[] all = new ByteTokenizer().encode(text);
        assertEquals(all[c.train().length()], c.val().get(0), "val continues where train ends");

        int b = 3, t = 17;
        Batch x = c.train().randomBatch(seed, 5, b, t);
        for (int i = 0; i < b; i++) {
            long start = c.train().randomWindow(seed, 5 + i, t);
            assertTrue(start >= 0 && start + t + 1 <= c.train().length());
            for (int j = 0; j < t; j++) {
                assertEquals(c.train().get((int) start + j), x.inputs()[i * t + j]);
                assertEquals(c.train().get((int) start + j + 1), x.targets()[i * t + j]);
                assertEquals(1f, x.mask()[i * t + j]);
            }
        }
        assertEquals((long) b * t, x.maskedTokens());
        // deterministic in (seed, position), and position-shifted rows agree
        Batch again = c.train().randomBatch(seed, 5, b, t);
        assertArrayEquals(x.inputs(), again.inputs());
        Batch shifted = c.train().randomBatch(seed, 6, 1, t);
        assertArrayEquals(java.util.Arrays.copyOfRange(x.inputs(), t, 2 * t), shifted.inputs());
        assertNotEquals(java.util.Arrays.toString(x.inputs()),
                java.util.Arrays.toString(c.train().randomBatch(seed + 1, 5, b, t).inputs()));
        // eval batches are fixed and contiguous
        Batch e0 = c.val().evalBatch(0, 2, 8);
        assertEquals(c.val().get(0), e0.inputs()[0]);
        assertEquals(c.val().get(8), e0.inputs()[8]);
        assertArrayEquals(e0.targets(), c.val().evalBatch(0, 2, 8).targets());
        assertThrows(IllegalArgumentException.class, () -> new TokenStream(new int[] {1, 2}).randomBatch(0, 0, 1, 2));
    }

    @Test
    void sourceSeekReplaysExactly() {
        long seed = System.nanoTime();
        TextCorpus c = TextCorpus.of(generatedText(seed, 300));
        ArithmeticInstructions ins = ArithmeticInstructions.generate(new ByteTokenizer(), 50, seed);
        BatchSource a = BatchSource.mixed(c.train(), ins, MidTrainingMixture.of(0, 0.5), seed);
        Batch[] first = new Batch[6];
        for (int i = 0; i < first.length; i++) first[i] = a.next(4, 16, i, 6);
        assertEquals(24, a.position());
        BatchSource b = BatchSource.mixed(c.train(), ins, MidTrainingMixture.of(0, 0.5), seed);
        b.seek(12);
        for (int i = 3; i < first.length; i++) {
            Batch x = b.next(4, 16, i, 6);
            assertArrayEquals(first[i].inputs(), x.inputs(), "seed " + seed + " batch " + i);
            assertArrayEquals(first[i].targets(), x.targets());
            assertArrayEquals(first[i].mask(), x.mask());
        }
    }

    @Test
    void instructionsMaskTheAnswerOnly() {
        ByteTokenizer tok = new ByteTokenizer();
        ArithmeticInstructions ins = ArithmeticInstructions.generate(tok, 20, 7);
        for (int e = 0; e < ins.size(); e++) {
            InstructionSource.Example ex = ins.get(e);
            StringBuilder trained = new StringBuilder();
            int[] ids = ex.tokens();
            for (int j = 0; j < ids.length; j++) if (ex.lossMask()[j] == 1f) trained.append(tok.decode(new int[] {ids[j]}));
            String prompt = tok.decode(ids, true);
            String[] parts = prompt.substring(3, prompt.indexOf('=')).split("\\+");
            int sum = Integer.parseInt(parts[0]) + Integer.parseInt(parts[1]);
            assertEquals(" " + sum + "<|endoftext|>", trained.toString(), prompt);
        }
        // a share of 1: every row is an instruction example, targets shifted, mask on the answer, padding masked
        TextCorpus c = TextCorpus.of(generatedText(1, 100));
        BatchSource src = BatchSource.mixed(c.train(), ins, MidTrainingMixture.of(0, 1.0), 3);
        int t = 24;
        Batch x = src.next(5, t, 0, 1);
        for (int i = 0; i < 5; i++) {
            String row = tok.decode(java.util.Arrays.copyOfRange(x.inputs(), i * t, i * t + t), false);
            assertTrue(row.startsWith("Q: "), row);
            StringBuilder trained = new StringBuilder();
            for (int j = 0; j < t; j++) {
                if (x.mask()[i * t + j] == 1f) trained.append(tok.tokenText(x.targets()[i * t + j]));
                if (j + 1 < t && x.inputs()[i * t + j + 1] != ByteTokenizer.PAD) assertEquals(x.inputs()[i * t + j + 1], x.targets()[i * t + j]);
            }
            assertTrue(trained.toString().matches(" \\d+<\\|endoftext\\|>"), trained.toString());
        }
        // a share of 0: text windows only, all targets trained
        Batch y = BatchSource.mixed(c.train(), ins, MidTrainingMixture.of(0, 0.0), 3).next(5, t, 0, 1);
        assertEquals(5L * t, y.maskedTokens());
    }

    @Test
    void mixtureShareIsDrawnWithItsProbability() {
        long seed = System.nanoTime();
        TextCorpus c = TextCorpus.of(generatedText(seed, 300));
        ArithmeticInstructions ins = ArithmeticInstructions.generate(new ByteTokenizer(), 30, seed);
        BatchSource src = BatchSource.mixed(c.train(), ins, MidTrainingMixture.DEFAULT, seed);
        int t = 32, rows = 2000;
        int[] instr = new int[10];
        for (int step = 0; step < 10; step++) {
            Batch x = src.next(rows, t, step, 10);
            for (int i = 0; i < rows; i++) if (x.mask()[i * t] == 0f) instr[step]++; // instruction rows start on the prompt
        }
        double[] want = {0, 0, 0, 0, 0, 0, 0, 0.1, 0.3, 0.5};
        for (int s = 0; s < 10; s++)
            assertEquals(want[s], instr[s] / (double) rows, 0.04, "seed " + seed + " step " + s);
        assertThrows(IllegalArgumentException.class, () -> BatchSource.mixed(c.train(), null, MidTrainingMixture.DEFAULT, 0));
    }

    @Test
    void gpt2Tokenizer() {
        String text = generatedText(3, 400);
        TextCorpus c = TextCorpus.of(text, new Gpt2Tokenizer(), 0.2);
        int[] all = new Gpt2Tokenizer().encode(text);
        assertEquals(all.length, c.train().length() + c.val().length());
        assertTrue(all.length < text.length() / 2, "BPE merges words");
        Batch x = c.train().randomBatch(1, 0, 2, 8);
        for (int id : x.inputs()) assertTrue(id >= 0 && id < 50257);
    }

    @Test
    void tinyShakespeare() throws Exception {
        Path p = Paths.get("../shared/data/tinyshakespeare.txt");
        assumeTrue(Files.isRegularFile(p), "real data absent: " + p.toAbsolutePath().normalize());
        TextCorpus c = TextCorpus.read(p);
        assertEquals(Files.size(p), c.train().length() + c.val().length(), "byte tokens = file bytes");
        assertTrue(c.val().length() > 100_000);
        Batch x = c.train().randomBatch(42, 0, 4, 256);
        String row = new ByteTokenizer().decode(java.util.Arrays.copyOf(x.inputs(), 256));
        assertEquals(256, row.length(), "ASCII text");
    }
}
