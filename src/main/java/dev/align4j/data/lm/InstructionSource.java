package dev.align4j.data.lm;

/**
 * Instruction examples for mid-training: token sequences with a per-token loss mask (1 on the tokens the
 * model is trained to produce — the answer and its EOS — 0 on the prompt). The real data comes with issue 4;
 * {@link ArithmeticInstructions} is a tiny generated one.
 */
public interface InstructionSource {
    /** One example: {@code lossMask[j] = 1} when token {@code j} is trained on (predicted from tokens before it). */
    record Example(int[] tokens, float[] lossMask) {
        public Example {
            if (tokens == null || lossMask == null || tokens.length != lossMask.length)
                throw new IllegalArgumentException("tokens and lossMask must have the same length");
            if (tokens.length < 2) throw new IllegalArgumentException("an example needs at least 2 tokens");
        }
    }

    int size();

    Example get(int index);

    /** The id written after an example shorter than the window (masked out). */
    int padId();
}
