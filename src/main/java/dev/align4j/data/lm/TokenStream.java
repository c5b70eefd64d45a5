package dev.align4j.data.lm;

import dev.align4j.tensor.Seeds;

/**
 * A tokenised text as one int array, cut into windows of {@code t + 1} tokens: the first {@code t} are the
 * inputs, the last {@code t} the targets (all trained on). Random windows are a pure function of
 * (seed, window index) — see {@link #randomWindow} — and evaluation windows are fixed, so both are exactly
 * reproducible.
 */
public final class TokenStream {
    private final int[] tokens;

    public TokenStream(int[] tokens) {
        if (tokens == null) throw new IllegalArgumentException("tokens must not be null");
        this.tokens = tokens.clone();
    }

    public int length() {
        return tokens.length;
    }

    public int get(int i) {
        return tokens[i];
    }

    /** A copy of the tokens. */
    public int[] toArray() {
        return tokens.clone();
    }

    /** Number of distinct start positions of a {@code t + 1} window. */
    public long windows(int t) {
        return Math.max(0, (long) tokens.length - t);
    }

    private void requireWindow(int t) {
        if (t < 1) throw new IllegalArgumentException("t must be >= 1, got " + t);
        if (windows(t) < 1)
            throw new IllegalArgumentException("the stream has " + tokens.length + " tokens, fewer than a window of t + 1 = " + (t + 1));
    }

    /** Copies the window starting at {@code start} into row {@code row} of {@code into}; mask all ones. */
    void copyWindow(long start, int t, Batch into, int row) {
        int s = Math.toIntExact(start), o = row * t;
        System.arraycopy(tokens, s, into.inputs(), o, t);
        System.arraycopy(tokens, s + 1, into.targets(), o, t);
        java.util.Arrays.fill(into.mask(), o, o + t, 1f);
    }

    /** The start of random window {@code index} under {@code seed}: uniform over the {@link #windows} starts. */
    public long randomWindow(long seed, long index, int t) {
        requireWindow(t);
        return Seeds.below(seed, index, 1, windows(t));
    }

    /** Rows {@code position .. position + b - 1} of the random windows under {@code seed}. */
    public Batch randomBatch(long seed, long position, int b, int t) {
        requireWindow(t);
        Batch out = new Batch(b, t, new int[b * t], new int[b * t], new float[b * t]);
        for (int i = 0; i < b; i++) copyWindow(randomWindow(seed, position + i, t), t, out, i);
        return out;
    }

    /**
     * Evaluation batch {@code k}: windows {@code k·b .. k·b + b − 1} laid end to end from the start (window
     * {@code j} starts at {@code (j·t) mod windows(t)}), the same every call.
     */
    public Batch evalBatch(int k, int b, int t) {
        requireWindow(t);
        Batch out = new Batch(b, t, new int[b * t], new int[b * t], new float[b * t]);
        for (int i = 0; i < b; i++) copyWindow(((long) k * b + i) * t % windows(t), t, out, i);
        return out;
    }
}
