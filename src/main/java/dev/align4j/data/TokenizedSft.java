package dev.align4j.data;

/**
 * An encoded SFT example: {@code trained[j] = 1} when token {@code j} is a training target (predicted from the
 * tokens before it); token 0 is never a target. At least 2 tokens.
 */
public record TokenizedSft(int[] tokens, float[] trained) {
    public TokenizedSft {
        if (tokens == null || trained == null || tokens.length != trained.length)
            throw new IllegalArgumentException("tokens and trained must have the same length");
        if (tokens.length < 2) throw new IllegalArgumentException("an example needs at least 2 tokens, got " + tokens.length);
        for (float m : trained)
            if (m != 0f && m != 1f) throw new IllegalArgumentException("trained must hold 0 or 1, got " + m);
        if (trained[0] != 0f) throw new IllegalArgumentException("token 0 cannot be trained on (nothing precedes it)");
    }

    public int length() {
        return tokens.length;
    }

    /** Number of trained tokens. */
    public int trainedTokens() {
        int n = 0;
        for (float m : trained) n += (int) m;
        return n;
    }
}
