package dev.align4j.model;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * What {@link KvCache} (GPT-2) and {@link LlamaKvCache} share: the cache tensors of every layer
 * ({@code [B, heads, maxT, D]} for K and V), the bookkeeping of the left-padded layout (each sequence's padding and
 * first real slot, {@code keyStart}, the slots filled), the checks of {@link #prefill} and {@link #step}, and the
 * logits buffer {@code [B, V]}. A subclass runs its model on new tokens ({@link #run}).
 *
 * <p><b>Shared prompts are prefilled once.</b> Sampling several responses per prompt (preference pairs, best-of-n,
 * PPO's and GRPO's groups) puts each prompt in the batch several times, and the prefill is most of a short
 * generation's cost. The prefill runs on the distinct prompts only (in order of first appearance, so that each row's
 * source row is at or before it), then copies each duplicate row's K and V slots and logits from its source row. A
 * row's values are those of a batch of the distinct prompts: the same up to the float rounding of products of other
 * shapes as a batch holding every row (the layout, P and each row's padding are the same).
 */
abstract class KvDecoder implements Decoder {
    private final CausalLmBase<?> owner;
    private final Memory memory;
    final Device device;
    final int b, maxT, v;
    /** Elements of one sequence's slots in a layer's K or V cache: heads · maxT · D. */
    private final long rowElems;
    final Scope scope = new Scope();
    final Tensor[] kCache, vCache;
    /** [B] int32: P − L_b, the first real slot of each sequence (during a deduplicated prefill: of each distinct prompt). */
    final Tensor keyStart;
    /** [B, V]: the logits of each sequence's last token. */
    final Tensor logits;
    /** Some sequence has padding: pass keyStart to the attention. */
    boolean masked;
    /** Slots filled; -1 before the prefill. */
    int length = -1;
    /** The sequences held now (the first rows of every tensor): b after the prefill, fewer after {@link #retain}. */
    private int active;
    /** P − L_b per sequence. */
    private int[] pad;

    /**
     * A cache for {@code batch} sequences of up to {@code maxT} slots (maxT ≤ nCtx) of {@code layers} layers, each K
     * and V {@code [batch, heads, maxT, headDim]}, on {@code owner}'s device, in memory the owner lends. A subclass
     * allocates its own tensors in {@link #scope} and closes the decoder if that fails.
     */
    KvDecoder(CausalLmBase<?> owner, int nCtx, int vocab, int layers, int heads, int headDim, int batch, int maxT) {
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (maxT < 1 || maxT > nCtx) throw new IllegalArgumentException("maxT must be in [1, nCtx = " + nCtx + "], got " + maxT);
        this.owner = owner;
        this.device = owner.device();
        this.b = batch;
        this.maxT = maxT;
        this.v = vocab;
        this.rowElems = (long) heads * maxT * headDim;
        this.memory = owner.takeDecoderMemory();
        try {
            CausalLmBase.Buffers buf = memory.cache.reset();
            kCache = new Tensor[layers];
            vCache = new Tensor[layers];
            // not zeroed: the attention reads only slots in [keyStart_b, length), each written before it is read
            for (int l = 0; l < layers; l++) {
                kCache[l] = buf.f32(b, heads, maxT, headDim);
                vCache[l] = buf.f32(b, heads, maxT, headDim);
            }
            keyStart = buf.alloc(DType.I32, b);
            logits = buf.f32(b, vocab);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /**
     * A decoder's large buffers — the caches, the logits, the prefill's and the steps' scratch — which a model hands
     * from each closed decoder to its next one ({@link CausalLmBase#takeDecoderMemory}), each allocation re-used where
     * it is large enough: generating in many calls (sampling, evaluation, every RL step) would otherwise map and
     * fault in fresh memory for them every call (a quarter of a demo-shaped GRPO step on the CPU).
     */
    static final class Memory implements AutoCloseable {
        final CausalLmBase.Buffers cache, prefill, step;

        Memory(Device device) {
            cache = new CausalLmBase.Buffers(device);
            prefill = new CausalLmBase.Buffers(device);
            step = new CausalLmBase.Buffers(device);
        }

        @Override
        public void close() {
            cache.scope.close();
            prefill.scope.close();
            step.scope.close();
        }
    }

    /**
     * Runs {@code tq} new tokens of each of the first {@code rows} sequences at slots {@code [length, length + tq)}
     * ({@code tok}, {@code pos}: {@code [rows, tq]}; {@code pos} is each token's position in its own sequence) and
     * writes the logits of each one's last new token to the first {@code rows} rows of {@link #logits}. Called with
     * {@code rows < B} only by a deduplicated prefill.
     */
    abstract void run(int[] tok, int[] pos, int rows, int tq);

    /** The first {@code rows} sequences of {@code t} ({@code [B, ...]}). */
    static Tensor rows(Tensor t, int rows) {
        if (rows == t.dim(0)) return t;
        long[] shape = t.shape();
        shape[0] = rows;
        return t.view(0, shape);
    }

    @Override
    public int batch() {
        return length < 0 ? b : active;
    }

    @Override
    public int maxT() {
        return maxT;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int[] padding() {
        requirePrefill();
        return Arrays.copyOf(pad, active);
    }

    @Override
    public Tensor prefill(int[][] prompts) {
        if (prompts == null) throw new IllegalArgumentException("prompts must not be null");
        if (prompts.length != b)
            throw new IllegalArgumentException("prompts has " + prompts.length + " sequences, the cache holds " + b);
        int p = longestPrompt(prompts, maxT, "more than the cache's maxT", v);
        // the distinct prompts, in order of first appearance; source[i]: the distinct index of row i (≤ i)
        Map<PromptKey, Integer> index = new HashMap<>();
        int[] source = new int[b], firstRow = new int[b];
        int u = 0;
        for (int i = 0; i < b; i++) {
            Integer k = index.putIfAbsent(new PromptKey(prompts[i]), u);
            if (k == null) {
                firstRow[u] = i;
                k = u++;
            }
            source[i] = k;
        }
        pad = new int[b];
        boolean anyPad = false;
        for (int i = 0; i < b; i++) {
            pad[i] = p - prompts[i].length;
            anyPad |= pad[i] > 0;
        }
        int[] tok = new int[u * p], pos = new int[u * p], distinctPad = new int[b];
        for (int r = 0; r < u; r++) {
            int[] pr = prompts[firstRow[r]];
            int pd = p - pr.length;
            distinctPad[r] = pd;
            System.arraycopy(pr, 0, tok, r * p + pd, pr.length);
            for (int j = 0; j < p; j++) pos[r * p + j] = Math.max(0, j - pd);   // padding: any valid index
        }
        masked = anyPad;
        length = 0;
        active = b;
        keyStart.copyFrom(distinctPad);
        run(tok, pos, u, p);
        if (u < b) {
            keyStart.copyFrom(pad);
            // rows from the last down: row source[i] ≤ i is still the distinct prompt's own when row i is written
            for (int i = b - 1; i >= 0; i--) {
                if (source[i] != i) copySequence(source[i], i);
            }
        }
        return logits;
    }

    /** Sequence {@code from}'s slots of every layer and its logits, copied to sequence {@code to}. */
    private void copySequence(int from, int to) {
        for (int l = 0; l < kCache.length; l++) {
            copyRow(kCache[l], from, to, rowElems);
            copyRow(vCache[l], from, to, rowElems);
        }
        copyRow(logits, from, to, v);
    }

    private static void copyRow(Tensor t, int from, int to, long n) {
        t.view(to * n, n).copyFrom(t.view(from * n, n));
    }

    /** A prompt as a hash key (by content). */
    private record PromptKey(int[] ids) {
        @Override
        public boolean equals(Object o) {
            return o instanceof PromptKey k && Arrays.equals(ids, k.ids);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(ids);
        }
    }

    @Override
    public Tensor step(int[] tokens) {
        requirePrefill();
        if (tokens == null || tokens.length != active)
            throw new IllegalArgumentException("tokens must have " + active + " values, got "
                    + (tokens == null ? "null" : tokens.length));
        if (length >= maxT) throw new IllegalStateException("the cache is full (maxT = " + maxT + ")");
        for (int i = 0; i < active; i++)
            if (tokens[i] < 0 || tokens[i] >= v)
                throw new IllegalArgumentException("tokens[" + i + "] = " + tokens[i] + " is outside the vocabulary [0, "
                        + v + ")");
        int[] pos = new int[active];
        for (int i = 0; i < active; i++) pos[i] = length - pad[i];
        run(tokens.clone(), pos, active, 1);
        return rows(logits, active);
    }

    @Override
    public void retain(int[] keep) {
        requirePrefill();
        if (keep == null || keep.length == 0) throw new IllegalArgumentException("rows must not be null or empty");
        for (int j = 0; j < keep.length; j++)
            if (keep[j] < (j == 0 ? 0 : keep[j - 1] + 1) || keep[j] >= active)
                throw new IllegalArgumentException("rows must be ascending, distinct and below the batch " + active + ", got "
                        + Arrays.toString(keep));
        // row keep[j] ≥ j moves to j, in ascending order: a source is never a destination already written
        for (int j = 0; j < keep.length; j++) {
            if (keep[j] == j) continue;
            copySequence(keep[j], j);
            pad[j] = pad[keep[j]];
        }
        active = keep.length;
        if (masked) rows(keyStart, active).copyFrom(Arrays.copyOf(pad, active));
    }

    void requirePrefill() {
        if (length < 0) throw new IllegalStateException("call prefill first");
    }

    /**
     * The length of the longest of {@code prompts}, after checking each: not null or empty, at most {@code limit}
     * tokens (else "prompts[i] has N tokens, {@code overLimit} = limit"), every token in {@code [0, v)}.
     */
    static int longestPrompt(int[][] prompts, int limit, String overLimit, int v) {
        int p = 0;
        for (int i = 0; i < prompts.length; i++) {
            if (prompts[i] == null || prompts[i].length == 0)
                throw new IllegalArgumentException("prompts[" + i + "] must not be null or empty");
            if (prompts[i].length > limit)
                throw new IllegalArgumentException("prompts[" + i + "] has " + prompts[i].length + " tokens, " + overLimit
                        + " = " + limit);
            for (int j = 0; j < prompts[i].length; j++)
                if (prompts[i][j] < 0 || prompts[i][j] >= v)
                    throw new IllegalArgumentException("prompts[" + i + "][" + j + "] = " + prompts[i][j]
                            + " is outside the vocabulary [0, " + v + ")");
            p = Math.max(p, prompts[i].length);
        }
        return p;
    }

    /** A subclass's scratch tensors for tq new tokens of each of {@code rows} sequences, allocated from {@code buf}. */
    abstract static class Scratch {
        final CausalLmBase.Buffers buf;
        final int rows, tq;

        Scratch(CausalLmBase.Buffers buf, int rows, int tq) {
            this.buf = buf;
            this.rows = rows;
            this.tq = tq;
        }
    }

    private Scratch scratch;
    private boolean closed;

    /** New scratch for (rows, tq) from {@code buf}: a prefill's, then the steps' (tq = 1). */
    abstract Scratch newScratch(CausalLmBase.Buffers buf, int rows, int tq);

    /**
     * The scratch for (rows, tq): the last one when it has that shape, else a new one in the prefill's or the steps'
     * buffers (the last one of that kind is no longer used).
     */
    Scratch scratch(int rows, int tq) {
        if (scratch != null && scratch.rows == rows && scratch.tq == tq) return scratch;
        scratch = null;
        scratch = newScratch((tq == 1 ? memory.step : memory.prefill).reset(), rows, tq);
        return scratch;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        scratch = null;
        try {
            owner.keepDecoderMemory(memory);
        } finally {
            scope.close();
        }
    }
}
