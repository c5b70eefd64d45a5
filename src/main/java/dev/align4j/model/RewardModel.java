package dev.align4j.model;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.SharedPrefixBatch;
import dev.align4j.data.TokenizedPair;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Seeds;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A reward model: a {@link CausalLm} backbone with a {@link ScalarHead} on its final hidden states. The score of a
 * sequence {@code prompt ++ response} is the head's value at the input column of its LAST real token
 * ({@link SequenceBatch#endIndex()}): the hidden state after reading the whole sequence — the EOS of a finished
 * response. Rows are right-padded and attention is causal, so padding and the other rows of a batch never change
 * a row's score (up to float summation order).
 *
 * <p>Training use: {@link #forwardScores} keeps the forward's state, {@link #backward} takes {@code ∂L/∂scores}
 * and accumulates gradients into the head ({@link ScalarHead#grads()}) and the backbone ({@link CausalLm#grads()}):
 * {@code dvalues [B, T]} is zero except {@code dscore[b]} at {@code endIndex[b]}, then {@code head.backward},
 * then {@code gpt.backward(null, dhidden)}.
 *
 * <p>The backbone's LM head is never evaluated (its logits run in chunks and no targets are given), so scoring
 * costs no {@code [B, T, V]} buffer; {@code gpt().logits()} is therefore unavailable.
 *
 * <p>Files ({@link #save}): the backbone in Hugging Face's GPT-2 layout ({@code model.safetensors},
 * {@code config.json}) and the head in {@value #HEAD_FILE} ({@code score.weight [1, C]}, {@code score.bias [1]}).
 */
public final class RewardModel implements AutoCloseable {
    /** The head's file beside the backbone's. */
    public static final String HEAD_FILE = "score_head.safetensors";
    /** Rows of the (unused) LM head per chunk: only a [1, V] logits buffer is allocated. */
    private static final int LM_CHUNK_ROWS = 1;

    private final CausalLm gpt;
    private final ScalarHead head;
    private Scope buffers;
    private int bufB = -1, bufT = -1;
    private Tensor values, dvalues, dhidden;
    /** The batch of the last {@link #forwardScores}, until its {@link #backward}. */
    private SequenceBatch pending;

    /** Takes ownership of {@code gpt} and {@code head} (closed with this model); their widths must agree. */
    public RewardModel(CausalLm gpt, ScalarHead head) {
        if (gpt == null) throw new IllegalArgumentException("gpt must not be null");
        if (head == null) throw new IllegalArgumentException("head must not be null");
        if (head.nEmbd() != gpt.config().hiddenSize())
            throw new IllegalArgumentException("head width " + head.nEmbd() + " differs from the backbone's hidden size " + gpt.config().hiddenSize());
        if (!head.device().equals(gpt.device()))
            throw new IllegalArgumentException("head is on " + head.device() + ", the backbone on " + gpt.device());
        this.gpt = gpt;
        this.head = head;
        gpt.setLogitsChunkRows(LM_CHUNK_ROWS);
    }

    /**
     * A reward model initialised from an SFT policy: a COPY of its weights (the policy is left untouched and stays
     * the caller's) plus a fresh head ({@link ScalarHead#initialize} with {@code headSeed}).
     */
    public static RewardModel fromPolicy(CausalLm sft, long headSeed) {
        if (sft == null) throw new IllegalArgumentException("sft must not be null");
        CausalLm copy = sft.copy();
        ScalarHead head = null;
        try {
            head = new ScalarHead(sft.config().hiddenSize(), sft.device());
            head.initialize(headSeed);
            return new RewardModel(copy, head);
        } catch (RuntimeException | Error e) {
            if (head != null) head.close();
            copy.close();
            throw e;
        }
    }

    /** A reward model with a freshly initialised backbone (GPT-2 init, {@code seed}) and head. */
    public static RewardModel create(LmConfig config, Device device, long seed) {
        CausalLm gpt = CausalLm.create(config, device, seed);
        ScalarHead head = null;
        try {
            head = new ScalarHead(config.hiddenSize(), device);
            head.initialize(Seeds.mix(seed, 0, 0x4EAD));
            return new RewardModel(gpt, head);
        } catch (RuntimeException | Error e) {
            if (head != null) head.close();
            gpt.close();
            throw e;
        }
    }

    public CausalLm backbone() {
        return gpt;
    }

    public ScalarHead head() {
        return head;
    }

    public LmConfig config() {
        return gpt.config();
    }

    public Device device() {
        return gpt.device();
    }

    /** Rows per forward of {@link #score(SequenceBatch)}. */
    static final int SCORE_ROWS = 64;

    /**
     * Scores of the rows of {@code batch} (no state is kept for a backward), in forwards of up to {@value #SCORE_ROWS}
     * rows of like length: each padded only to its own longest row, so a long row does not pad the whole batch.
     */
    public float[] score(SequenceBatch batch) {
        checkIds(batch);
        float[] out = new float[batch.b()];
        boolean share = gpt.sharesPrefixes();
        for (int[] rows : share ? byPrompt(batch) : batch.lengthChunks(SCORE_ROWS)) {
            SequenceBatch mb = batch.rows(rows);
            SharedPrefixBatch sp = share ? SharedPrefixBatch.forScoring(mb) : null;
            float[] s = sp != null ? forwardChecked(sp.rows(), sp) : forwardChecked(mb);
            for (int q = 0; q < rows.length; q++) out[rows[q]] = s[q];
        }
        pending = null;
        return out;
    }

    /**
     * The rows in forwards of up to {@value #SCORE_ROWS} that keep rows with equal prompts (the tokens before the
     * first masked target) together: ordered by their longest response, then the prompt's length and first row.
     */
    private static int[][] byPrompt(SequenceBatch batch) {
        SharedPrefixBatch all = SharedPrefixBatch.forScoring(batch);
        int[] rows = new int[batch.b()], own = all.rows().endIndex(), group = all.group();
        for (int i = 0; i < rows.length; i++) rows[i] = i;
        return SharedPrefixBatch.groupChunks(rows, SCORE_ROWS, i -> group[i], i -> own[i], i -> all.prefixes()[group[i]].length);
    }

    /**
     * Scores of {@code prompts[i] ++ responses[i]}, all in one batch. The padding id is irrelevant to the scores
     * (it follows the real tokens), so id 0 is used.
     */
    public float[] score(List<int[]> prompts, List<int[]> responses) {
        return score(SequenceBatch.ofResponses(prompts, responses, 0));
    }

    /** As {@link #score(List, List)}, {@code batchSize} rows per forward. */
    public float[] score(List<int[]> prompts, List<int[]> responses, int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (prompts.size() != responses.size())
            throw new IllegalArgumentException("prompts (" + prompts.size() + ") and responses (" + responses.size() + ") differ in number");
        float[] out = new float[prompts.size()];
        for (int i = 0; i < out.length; i += batchSize) {
            int j = Math.min(out.length, i + batchSize);
            System.arraycopy(score(prompts.subList(i, j), responses.subList(i, j)), 0, out, i, j - i);
        }
        return out;
    }

    /** Chosen and rejected scores of {@code pairs}, {@code batchSize} pairs (2·batchSize rows) per forward. */
    public PairScores scorePairs(List<TokenizedPair> pairs, int batchSize, int padId) {
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        int n = pairs.size();
        float[] c = new float[n], r = new float[n];
        for (int i = 0; i < n; i += batchSize) {
            int j = Math.min(n, i + batchSize);
            float[] s = score(SequenceBatch.ofPairs(pairs.subList(i, j), padId));
            System.arraycopy(s, 0, c, i, j - i);
            System.arraycopy(s, j - i, r, i, j - i);
        }
        return new PairScores(c, r);
    }

    /** Scores of preference pairs: {@code chosen[i]}, {@code rejected[i]} of pair i. */
    public record PairScores(float[] chosen, float[] rejected) {}

    /**
     * Forward keeping the state for {@link #backward}: returns the score of each row, {@code values[b, endIndex[b]]}.
     * The batch's ids must lie in [0, vocabSize) and T ≤ nCtx.
     */
    public float[] forwardScores(SequenceBatch batch) {
        checkIds(batch);
        return forwardChecked(batch);
    }

    /**
     * {@link #forwardScores} of preference pairs: the chosen rows then the rejected rows (as
     * {@link SequenceBatch#ofPairs}), their scores in that order. When the backbone shares prefixes
     * ({@link CausalLm#sharesPrefixes}) a pair's prompt runs once for both responses ({@link SharedPrefixBatch}):
     * the same scores to float rounding, in about 0.6 of the tokens on short responses.
     */
    public float[] forwardPairScores(List<TokenizedPair> pairs, int padId) {
        if (!gpt.sharesPrefixes()) return forwardScores(SequenceBatch.ofPairs(pairs, padId));
        SharedPrefixBatch sp = SharedPrefixBatch.ofPairs(pairs, padId);
        checkIds(sp.rows());
        for (int[] prefix : sp.prefixes())
            for (int id : prefix)
                if (id < 0 || id >= gpt.config().vocabSize())
                    throw new IllegalArgumentException("a prompt holds id " + id + " outside the vocabulary [0, " + gpt.config().vocabSize() + ")");
        return forwardChecked(sp.rows(), sp);
    }

    /** {@link #forwardScores} of a batch whose ids are already checked. */
    private float[] forwardChecked(SequenceBatch batch) {
        return forwardChecked(batch, null);
    }

    /** The forward of {@code batch}'s rows, or of {@code shared} (whose rows {@code batch} is) when not null. */
    private float[] forwardChecked(SequenceBatch batch, SharedPrefixBatch shared) {
        pending = null;
        if (shared != null) gpt.forward(shared);
        else gpt.forward(batch.inputs(), null, null, batch.b(), batch.t());
        ensureBuffers(batch.b(), batch.t());
        head.forward(gpt.hidden(), values);
        float[] all = values.toFloatArray();
        float[] s = new float[batch.b()];
        for (int b = 0; b < s.length; b++) s[b] = all[b * batch.t() + batch.endIndex()[b]];
        pending = batch;
        return s;
    }

    private void checkIds(SequenceBatch batch) {
        if (batch == null) throw new IllegalArgumentException("batch must not be null");
        int v = gpt.config().vocabSize();
        for (int i = 0; i < batch.inputs().length; i++) {
            int id = batch.inputs()[i];
            if (id < 0 || id >= v)
                throw new IllegalArgumentException("batch row " + i / batch.t() + " column " + i % batch.t() + " holds id " + id
                        + " outside the vocabulary [0, " + v + ")");
        }
    }

    /**
     * Backward of the last {@link #forwardScores} from {@code dscores[b] = ∂L/∂score[b]}: gradients ACCUMULATE
     * into the head's and the backbone's (zero them first, e.g. {@link Optimizer#zeroGrad}).
     */
    public void backward(float[] dscores) {
        if (pending == null) throw new IllegalStateException("backward needs a forwardScores since the last backward");
        SequenceBatch batch = pending;
        if (dscores == null || dscores.length != batch.b())
            throw new IllegalArgumentException("dscores must have " + batch.b() + " values (one per row), got "
                    + (dscores == null ? "null" : dscores.length));
        float[] dv = new float[batch.b() * batch.t()];
        for (int b = 0; b < batch.b(); b++) dv[b * batch.t() + batch.endIndex()[b]] = dscores[b];
        dvalues.copyFrom(dv);
        head.backward(dvalues, gpt.hidden(), dhidden);
        pending = null;
        gpt.backward(null, dhidden);
    }

    /** Zeroes the head's and the backbone's gradients. */
    public void zeroGrad() {
        gpt.zeroGrad();
        head.zeroGrad();
    }

    private void ensureBuffers(int b, int t) {
        if (b == bufB && t == bufT) return;
        if (buffers != null) buffers.close();
        buffers = new Scope();
        Device d = gpt.device();
        values = buffers.empty(d, DType.F32, b, t);
        dvalues = buffers.empty(d, DType.F32, b, t);
        dhidden = buffers.empty(d, DType.F32, b, t, gpt.config().hiddenSize());
        bufB = b;
        bufT = t;
    }

    /** Writes the backbone ({@code model.safetensors}, {@code config.json}) and {@value #HEAD_FILE} into {@code dir}. */
    public void save(Path dir) throws IOException {
        save(dir, SafeTensorsDType.F32);
    }

    /** As {@link #save(Path)} with the backbone's weights in {@code dtype} (the head stays F32). */
    public void save(Path dir, SafeTensorsDType dtype) throws IOException {
        gpt.save(dir, SaveOptions.DEFAULT.withDtype(dtype).withFile(HEAD_FILE, head.toBytes()));
    }

    /** Loads what {@link #save} wrote. */
    public static RewardModel load(Path dir, Device device) throws IOException {
        return withHead(CausalLm.load(dir, device), dir);
    }

    /** {@code gpt} (loaded from {@code dir}; closed on failure) with the head saved beside it. */
    public static RewardModel withHead(CausalLm gpt, Path dir) throws IOException {
        ScalarHead head = null;
        try {
            Path f = dir.resolve(HEAD_FILE);
            if (!java.nio.file.Files.isRegularFile(f))
                throw new IOException(f + " does not exist: " + dir + " holds a " + HfGpt2Layout.WEIGHTS_FILE
                        + " but no reward head (a policy, not a reward model?)");
            head = ScalarHead.load(f, gpt.config().hiddenSize(), gpt.device());
            return new RewardModel(gpt, head);
        } catch (RuntimeException | IOException | Error e) {
            if (head != null) head.close();
            gpt.close();
            throw e;
        }
    }

    /** Frees the backbone, the head and the buffers. */
    @Override
    public void close() {
        if (buffers != null) buffers.close();
        buffers = null;
        head.close();
        gpt.close();
    }
}
