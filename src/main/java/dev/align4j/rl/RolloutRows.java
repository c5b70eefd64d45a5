package dev.align4j.rl;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.SharedPrefixBatch;
import dev.align4j.model.CausalLm;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntUnaryOperator;

/**
 * A micro-batch of rollout rows ({@code prompt ++ completion}) in the layout the models run: the full rows, or, when
 * every model of the step shares prefixes ({@link CausalLm#sharesPrefixes}), a {@link SharedPrefixBatch} in which
 * each distinct prompt runs once for its rows — GRPO's G samples of a prompt, PPO's group of k — and only each
 * row's last prompt token and completion run per row. The per-token tensors (mask, log-probs, advantages) are in
 * {@link #batch()}'s layout either way; {@link #first(int)} says where row q's first completion token is predicted.
 *
 * @param batch  the layout's rows: the full rows, or the shared batch's own rows
 * @param shared the shared-prefix batch, or null
 * @param firsts each row's column of its first completion token's prediction
 */
record RolloutRows(SequenceBatch batch, SharedPrefixBatch shared, int[] firsts) {
    /**
     * Rows {@code prompts[q] ++ completions[q]}, the completion trained on where {@code trained[q]}; shared prefixes
     * when {@code share}.
     */
    static RolloutRows of(List<int[]> prompts, List<int[]> completions, boolean[] trained, int padId, boolean share) {
        int n = prompts.size();
        int[] firsts = new int[n];
        if (share) {
            SharedPrefixBatch sp = SharedPrefixBatch.ofResponses(prompts, completions, trained, padId);
            return new RolloutRows(sp.rows(), sp, firsts);
        }
        List<int[]> seqs = new ArrayList<>(n);
        List<float[]> masks = new ArrayList<>(n);
        for (int q = 0; q < n; q++) {
            int[] p = prompts.get(q), c = completions.get(q), x = Arrays.copyOf(p, p.length + c.length);
            System.arraycopy(c, 0, x, p.length, c.length);
            float[] m = new float[x.length];
            if (trained == null || trained[q]) Arrays.fill(m, p.length, x.length, 1f);
            seqs.add(x);
            masks.add(m);
            firsts[q] = p.length - 1;
        }
        return new RolloutRows(SequenceBatch.ofRows(seqs, masks, padId), null, firsts);
    }

    /** Whether every model a step runs on these rows shares prefixes (null ones are absent). */
    static boolean canShare(CausalLm... models) {
        for (CausalLm m : models)
            if (m != null && !m.sharesPrefixes()) return false;
        return true;
    }

    /** The model's forward on these rows (its log-probs, entropies and backward then in {@link #batch()}'s layout). */
    float forward(CausalLm model) {
        SequenceBatch sb = batch;
        return shared != null ? model.forward(shared) : model.forward(sb.inputs(), sb.targets(), sb.mask(), sb.b(), sb.t());
    }

    /** Row q's column of its first completion token's prediction (its prompt's last token). */
    int first(int q) {
        return firsts[q];
    }

    /**
     * Micro-batches of {@code rows} (each group's rows consecutive in the rollout, {@code group(i)} naming row i's)
     * of at most {@code size} rows: with shared prefixes whole groups stay together, the groups ordered by their
     * longest completion then their prompt's length (each micro-batch is padded to its longest own row, and its
     * prefixes to their longest); else by {@code length}, as {@link SequenceBatch#lengthChunks} cuts them.
     */
    static int[][] chunks(int[] rows, int size, boolean share, IntUnaryOperator length, IntUnaryOperator group,
                          IntUnaryOperator completionLength, IntUnaryOperator promptLength) {
        return share ? SharedPrefixBatch.groupChunks(rows, size, group, completionLength, promptLength)
                : SequenceBatch.lengthChunks(rows, length, size);
    }
}
