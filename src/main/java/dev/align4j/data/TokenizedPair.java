package dev.align4j.data;

/**
 * An encoded preference pair: the prompt's ids and each response's ids (each ending with EOS unless truncated).
 * The model sees {@code prompt ++ chosen} and {@code prompt ++ rejected}; the response tokens are the mask.
 */
public record TokenizedPair(int[] prompt, int[] chosen, int[] rejected) {
    public TokenizedPair {
        if (prompt == null || chosen == null || rejected == null)
            throw new IllegalArgumentException("prompt, chosen and rejected must not be null");
        if (prompt.length < 1) throw new IllegalArgumentException("the prompt needs at least one token (BOS or text)");
        if (chosen.length < 1 || rejected.length < 1) throw new IllegalArgumentException("responses must not be empty");
    }
}
