package dev.align4j.data.lm;

import dev.align4j.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A tiny generated instruction set for tests: {@code "Q: 2+3=? A:"} then the answer {@code " 5"} and EOS,
 * loss on the answer and EOS only.
 */
public final class ArithmeticInstructions implements InstructionSource {
    private final List<Example> examples;
    private final int padId;

    private ArithmeticInstructions(List<Example> examples, int padId) {
        this.examples = examples;
        this.padId = padId;
    }

    /** {@code n} sums of two numbers in [0, 10), drawn with {@code seed}. */
    public static ArithmeticInstructions generate(Tokenizer tokenizer, int n, long seed) {
        if (n < 1) throw new IllegalArgumentException("n must be >= 1, got " + n);
        Random rnd = new Random(seed);
        List<Example> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int a = rnd.nextInt(10), b = rnd.nextInt(10);
            int[] prompt = tokenizer.encode("Q: " + a + "+" + b + "=? A:");
            int[] answer = tokenizer.encode(" " + (a + b));
            int[] tokens = new int[prompt.length + answer.length + 1];
            float[] mask = new float[tokens.length];
            System.arraycopy(prompt, 0, tokens, 0, prompt.length);
            System.arraycopy(answer, 0, tokens, prompt.length, answer.length);
            tokens[tokens.length - 1] = tokenizer.eosId();
            for (int j = prompt.length; j < tokens.length; j++) mask[j] = 1f;
            out.add(new Example(tokens, mask));
        }
        return new ArithmeticInstructions(List.copyOf(out), tokenizer.padId());
    }

    @Override
    public int size() {
        return examples.size();
    }

    @Override
    public Example get(int index) {
        return examples.get(index);
    }

    @Override
    public int padId() {
        return padId;
    }
}
