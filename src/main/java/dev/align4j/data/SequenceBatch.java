package dev.align4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntUnaryOperator;

/**
 * A right-padded batch of token sequences as a {@link dev.align4j.model.CausalLm} consumes them: row b's sequence s
 * (length L) gives {@code inputs[b, j] = s[j]} for j < L and {@code targets[b, j] = s[j + 1]} for j < L − 1,
 * and {@code mask[b, j] = 1} when target j is trained on (a response token, EOS included). Padding (inputs and
 * targets {@code padId}, mask 0) follows the real tokens, so positions start at 0 in every row and causal
 * attention never reads padding. {@code T = max L}: every token, the last included, is an input, so the hidden
 * state after reading a row's final token exists (a reward model scores there).
 *
 * <p>{@code lastIndex[b]}: the target column of row b's last masked token, −1 when the row has none;
 * {@code endIndex[b] = L − 1}: the input column of its last real token (where a reward model's score is read —
 * the EOS when the response has one); {@code lengths[b]}: its count of masked targets |y|.
 */
public record SequenceBatch(int b, int t, int[] inputs, int[] targets, float[] mask, int[] lastIndex, int[] endIndex,
                            float[] lengths) {

    /** Rows from encoded SFT examples (the mask is their {@code trained} flags shifted onto targets). */
    public static SequenceBatch ofSft(List<TokenizedSft> examples, int padId) {
        List<int[]> seqs = new ArrayList<>(examples.size());
        List<float[]> trained = new ArrayList<>(examples.size());
        for (TokenizedSft e : examples) {
            seqs.add(e.tokens());
            trained.add(e.trained());
        }
        return ofRows(seqs, trained, padId);
    }

    /** Rows {@code prompt ++ response}, the response's tokens trained on. */
    public static SequenceBatch ofResponses(List<int[]> prompts, List<int[]> responses, int padId) {
        if (prompts.size() != responses.size())
            throw new IllegalArgumentException("prompts (" + prompts.size() + ") and responses (" + responses.size() + ") differ in number");
        List<int[]> seqs = new ArrayList<>(prompts.size());
        List<float[]> trained = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            int[] p = prompts.get(i), r = responses.get(i);
            if (p.length < 1) throw new IllegalArgumentException("prompts[" + i + "] is empty (the first token cannot be a target)");
            int[] s = Arrays.copyOf(p, p.length + r.length);
            System.arraycopy(r, 0, s, p.length, r.length);
            float[] m = new float[s.length];
            Arrays.fill(m, p.length, s.length, 1f);
            seqs.add(s);
            trained.add(m);
        }
        return ofRows(seqs, trained, padId);
    }

    /** The chosen rows then the rejected rows of {@code pairs}: rows [0, n) chosen, [n, 2n) rejected. */
    public static SequenceBatch ofPairs(List<TokenizedPair> pairs, int padId) {
        List<int[]>[] rows = pairRows(pairs);
        return ofResponses(rows[0], rows[1], padId);
    }

    /** {prompts, responses} of the rows of {@link #ofPairs}: the chosen rows, then the rejected rows. */
    @SuppressWarnings("unchecked")
    static List<int[]>[] pairRows(List<TokenizedPair> pairs) {
        List<int[]> prompts = new ArrayList<>(2 * pairs.size()), responses = new ArrayList<>(2 * pairs.size());
        for (TokenizedPair p : pairs) {
            prompts.add(p.prompt());
            responses.add(p.chosen());
        }
        for (TokenizedPair p : pairs) {
            prompts.add(p.prompt());
            responses.add(p.rejected());
        }
        return new List[] {prompts, responses};
    }

    /** General rows: {@code trained[b][j] = 1} when token j of row b is a target trained on (token 0 never is). */
    public static SequenceBatch ofRows(List<int[]> seqs, List<float[]> trained, int padId) {
        int b = seqs.size();
        if (b < 1) throw new IllegalArgumentException("a batch needs at least one row");
        if (trained.size() != b) throw new IllegalArgumentException("seqs and trained differ in number");
        int maxLen = 0;
        for (int i = 0; i < b; i++) {
            int[] s = seqs.get(i);
            if (s.length < 2) throw new IllegalArgumentException("row " + i + " has " + s.length + " tokens, needs >= 2");
            if (trained.get(i).length != s.length) throw new IllegalArgumentException("row " + i + ": trained and tokens differ in length");
            maxLen = Math.max(maxLen, s.length);
        }
        int t = maxLen;
        int[] inputs = new int[b * t], targets = new int[b * t], last = new int[b], end = new int[b];
        float[] mask = new float[b * t], lengths = new float[b];
        Arrays.fill(inputs, padId);
        Arrays.fill(targets, padId);
        for (int i = 0; i < b; i++) {
            int[] s = seqs.get(i);
            float[] m = trained.get(i);
            last[i] = -1;
            end[i] = s.length - 1;
            inputs[i * t + s.length - 1] = s[s.length - 1];
            for (int j = 0; j + 1 < s.length; j++) {
                inputs[i * t + j] = s[j];
                targets[i * t + j] = s[j + 1];
                float mm = m[j + 1];
                if (mm != 0f && mm != 1f) throw new IllegalArgumentException("row " + i + ": trained[" + (j + 1) + "] = " + mm + ", must be 0 or 1");
                mask[i * t + j] = mm;
                if (mm == 1f) {
                    last[i] = j;
                    lengths[i]++;
                }
            }
        }
        return new SequenceBatch(b, t, inputs, targets, mask, last, end, lengths);
    }

    /**
     * Rows {@code rows} of this batch, in that order, padded only to their own longest row (causal attention never
     * reads the padding after a row, so a model gives each row the same outputs in either batch).
     */
    public SequenceBatch rows(int[] rows) {
        if (rows == null || rows.length == 0) throw new IllegalArgumentException("rows must name at least one row");
        int m = rows.length, tm = 0;
        for (int i : rows) {
            if (i < 0 || i >= b) throw new IllegalArgumentException("row " + i + " outside [0, " + b + ")");
            tm = Math.max(tm, endIndex[i] + 1);
        }
        int[] in = new int[m * tm], tg = new int[m * tm], last = new int[m], end = new int[m];
        float[] mk = new float[m * tm], len = new float[m];
        for (int q = 0; q < m; q++) {
            int i = rows[q];
            System.arraycopy(inputs, i * t, in, q * tm, tm);
            System.arraycopy(targets, i * t, tg, q * tm, tm);
            System.arraycopy(mask, i * t, mk, q * tm, tm);
            last[q] = lastIndex[i];
            end[q] = endIndex[i];
            len[q] = lengths[i];
        }
        return new SequenceBatch(m, tm, in, tg, mk, last, end, len);
    }

    /** {@link #lengthChunks(int[], IntUnaryOperator, int)} of rows {@code subset} of this batch, by their length. */
    public int[][] lengthChunks(int[] subset, int size) {
        return lengthChunks(subset, i -> endIndex[i], size);
    }

    /**
     * {@code rows} sorted by {@code length} (stably) and cut into chunks of at most {@code size}: micro-batches of
     * rows of like length, each padded the least; in the given order when they make one chunk.
     */
    public static int[][] lengthChunks(int[] rows, IntUnaryOperator length, int size) {
        if (size < 1) throw new IllegalArgumentException("size must be >= 1, got " + size);
        Integer[] sorted = new Integer[rows.length];
        for (int q = 0; q < rows.length; q++) sorted[q] = rows[q];
        if (size < rows.length) Arrays.sort(sorted, java.util.Comparator.comparingInt(length::applyAsInt));
        int[][] out = new int[(rows.length + size - 1) / size][];
        for (int c = 0; c < out.length; c++) {
            out[c] = new int[Math.min(size, rows.length - c * size)];
            for (int q = 0; q < out[c].length; q++) out[c][q] = sorted[c * size + q];
        }
        return out;
    }

    /** {@link #lengthChunks(int[], int)} of every row. */
    public int[][] lengthChunks(int size) {
        int[] all = new int[b];
        for (int i = 0; i < b; i++) all[i] = i;
        return lengthChunks(all, size);
    }

    /** Masked targets in the whole batch. */
    public long maskedTokens() {
        long n = 0;
        for (float l : lengths) n += (long) l;
        return n;
    }

    /** Row-sums of {@code values [B, T]} under the mask (e.g. sequence log-probs from token log-probs). */
    public double[] rowSums(float[] values) {
        double[] out = new double[b];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++) out[i] += mask[i * t + j] * (double) values[i * t + j];
        return out;
    }
}
