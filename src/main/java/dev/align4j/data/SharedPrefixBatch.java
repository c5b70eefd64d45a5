package dev.align4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Rows that share prompts, laid out so that each prompt runs through the model once (GRPO's G samples of a prompt,
 * PPO's group of k): the prompt minus its last token is a <em>prefix</em>, and each row keeps only its own tokens,
 * the prompt's last token then the completion. Row q's full sequence is {@code prefixes[group[q]] ++ own(q)}, and
 * a model that shares prefixes ({@link dev.align4j.model.CausalLm#sharesPrefixes}) gives every token of it the
 * outputs the full row would get: the own tokens attend to the prefix's keys and values, computed once per group,
 * and the gradients those receive from the group's rows are summed into the prefix's backward.
 *
 * <p>{@link #rows()} is an ordinary {@link SequenceBatch} of the own tokens: its column j predicts completion token
 * j (the prompt's last token is input column 0), and its mask, log-probs and entropies are in that layout. Keeping
 * the last prompt token in every row costs one token a row and leaves one prediction per position, as the loss
 * kernels expect. Prompts of one token have an empty prefix.
 *
 * @param rows     the own tokens, right-padded (see {@link SequenceBatch})
 * @param prefixes each group's prefix: its prompt without the last token (possibly empty)
 * @param group    each row's group, an index into {@code prefixes}
 */
public record SharedPrefixBatch(SequenceBatch rows, int[][] prefixes, int[] group) {
    public SharedPrefixBatch {
        if (rows == null || prefixes == null || group == null) throw new IllegalArgumentException("rows, prefixes and group must not be null");
        if (group.length != rows.b()) throw new IllegalArgumentException("group has " + group.length + " rows, the batch " + rows.b());
        for (int q = 0; q < group.length; q++)
            if (group[q] < 0 || group[q] >= prefixes.length)
                throw new IllegalArgumentException("row " + q + "'s group " + group[q] + " is outside [0, " + prefixes.length + ")");
    }

    /**
     * Rows {@code prompt ++ completion}, rows with equal prompts (by content) sharing one prefix; the completions'
     * tokens are trained on where {@code trained[q]} (null: every row).
     */
    public static SharedPrefixBatch ofResponses(List<int[]> prompts, List<int[]> completions, boolean[] trained, int padId) {
        int b = prompts.size();
        if (completions.size() != b)
            throw new IllegalArgumentException("prompts (" + b + ") and completions (" + completions.size() + ") differ in number");
        if (trained != null && trained.length != b) throw new IllegalArgumentException("trained has " + trained.length + " rows, not " + b);
        Map<List<Integer>, Integer> index = new HashMap<>();
        List<int[]> prefixes = new ArrayList<>();
        int[] group = new int[b];
        List<int[]> own = new ArrayList<>(b);
        List<float[]> mask = new ArrayList<>(b);
        for (int q = 0; q < b; q++) {
            int[] p = prompts.get(q), c = completions.get(q);
            if (p.length < 1) throw new IllegalArgumentException("prompts[" + q + "] is empty (the first token cannot be a target)");
            int[] prefix = Arrays.copyOf(p, p.length - 1);
            group[q] = index.computeIfAbsent(Arrays.stream(prefix).boxed().toList(), k -> {
                prefixes.add(prefix);
                return prefixes.size() - 1;
            });
            // different prompts may share a prefix and differ in their last token: that token is each row's own
            int[] s = new int[1 + c.length];
            s[0] = p[p.length - 1];
            System.arraycopy(c, 0, s, 1, c.length);
            float[] m = new float[s.length];
            if (trained == null || trained[q]) Arrays.fill(m, 1, s.length, 1f);
            own.add(s);
            mask.add(m);
        }
        return new SharedPrefixBatch(SequenceBatch.ofRows(own, mask, padId), prefixes.toArray(int[][]::new), group);
    }

    /**
     * The rows of {@code batch} for reading hidden states (a reward model's score at each row's last token), each
     * cut before the prediction of its first masked target (a response's first token; a row with none, before its
     * last token): rows whose tokens before the cut are equal share them. Every token after the cut is a target of
     * the new mask; row q's last token is its own row's {@code endIndex}.
     */
    public static SharedPrefixBatch forScoring(SequenceBatch batch) {
        int b = batch.b(), t = batch.t();
        List<int[]> prompts = new ArrayList<>(b), rest = new ArrayList<>(b);
        for (int q = 0; q < b; q++) {
            int end = batch.endIndex()[q], cut = end - 1;
            for (int j = 0; j < end; j++)
                if (batch.mask()[q * t + j] != 0f) {
                    cut = j;
                    break;
                }
            prompts.add(Arrays.copyOfRange(batch.inputs(), q * t, q * t + cut + 1));
            rest.add(Arrays.copyOfRange(batch.inputs(), q * t + cut + 1, q * t + end + 1));
        }
        return ofResponses(prompts, rest, null, 0);
    }

    /** Preference pairs as {@link SequenceBatch#ofPairs} lays them out: the chosen rows, then the rejected rows. */
    public static SharedPrefixBatch ofPairs(List<TokenizedPair> pairs, int padId) {
        List<int[]>[] rows = SequenceBatch.pairRows(pairs);
        return ofResponses(rows[0], rows[1], null, padId);
    }

    /**
     * {@code rows} in micro-batches of at most {@code size} that keep each group ({@code group(i)} naming row i's)
     * together: groups ordered by their longest completion among these rows, then their prompt's length, then the
     * group; each micro-batch is then padded to its longest own row and its prefixes to their longest. In the given
     * order when they make one micro-batch.
     */
    public static int[][] groupChunks(int[] rows, int size, java.util.function.IntUnaryOperator group,
                                      java.util.function.IntUnaryOperator completionLength, java.util.function.IntUnaryOperator promptLength) {
        Map<Integer, Integer> longest = new HashMap<>();
        for (int i : rows) longest.merge(group.applyAsInt(i), completionLength.applyAsInt(i), Math::max);
        Integer[] sorted = new Integer[rows.length];
        for (int q = 0; q < rows.length; q++) sorted[q] = rows[q];
        java.util.Comparator<Integer> order = java.util.Comparator.comparingInt(i -> longest.get(group.applyAsInt(i)));
        order = order.thenComparingInt(promptLength::applyAsInt).thenComparingInt(group::applyAsInt);
        if (size < rows.length) Arrays.sort(sorted, order);
        int[] ordered = new int[rows.length];
        for (int q = 0; q < ordered.length; q++) ordered[q] = sorted[q];
        return SequenceBatch.lengthChunks(ordered, i -> 0, size);
    }

    /** The longest prefix (0 when every prompt is one token). */
    public int maxPrefix() {
        int m = 0;
        for (int[] p : prefixes) m = Math.max(m, p.length);
        return m;
    }

    /** Row q's full length: its prefix and its own tokens. */
    public int fullLength(int q) {
        return prefixes[group[q]].length + rows.endIndex()[q] + 1;
    }

    /** Tokens the model runs: each prefix once and the own rows, padded as the forward pads them. */
    public long paddedTokens() {
        return (long) prefixes.length * maxPrefix() + (long) rows.b() * rows.t();
    }
}
