package dev.align4j.model;

import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Embedding;
import dev.align4j.kernels.FlashAttention;
import dev.align4j.kernels.Gelu;
import dev.align4j.kernels.LayerNorm;
import dev.align4j.kernels.Matmul;
import dev.align4j.tensor.Blas;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Incremental decoding of a {@link Gpt} with a KV cache: {@link #prefill} the prompts, then {@link #step} one token
 * per sequence; each returns the next-token logits {@code [B, V]} of every sequence's last token.
 *
 * <p><b>Layout (exact for prompts of different lengths).</b> The cache has {@code maxT} slots; per layer K and V
 * are {@code [B, NH, maxT, HS]}. Prompts are stored right-aligned (left padding): prompt b of length L_b occupies
 * slots {@code [P − L_b, P)} with P the longest prompt, so every sequence's last real token is at slot P − 1, and
 * step s writes slot P + s for all sequences at once. Exactness for the padded ones comes from two things:
 * <ul>
 *   <li>positions restart at 0 for each sequence: the token at slot j of sequence b has position
 *       {@code j − (P − L_b)} (wpe is gathered per token, not per slot), so a sequence sees exactly the positions
 *       of an unpadded forward;</li>
 *   <li>the padding slots {@code j < P − L_b} are masked out of every query: the fused attention
 *       ({@link FlashAttention}) takes {@code keyStart[b] = P − L_b} and never reads them, so they carry exactly no
 *       weight. Padding queries see no key at all; their attention output is 0 (finite), and no real query reads
 *       them.</li>
 * </ul>
 * Hence the logits of sequence b equal (up to float rounding of differently-shaped products) those of a plain
 * {@link Gpt#forward} on its unpadded tokens.
 *
 * <p>Attention reads the cache in place: {@link FlashAttention} over the first {@code length + tq} of its
 * {@code maxT} slots (the slot stride), with no scores tensor. New K/V rows are copied into the cache by a GEMM with
 * the identity ({@link Blas#sgemm} with batch strides of {@code maxT·HS}; exact for finite values: x·1 + Σ 0).
 * Sampling is not here: see {@link Generator}. The model's parameters are read at each call (not copied); the model
 * must stay open. Not thread-safe.
 */
public final class KvCache implements Decoder {
    private final Gpt model;
    private final GptConfig config;
    private final Device device;
    private final int b, maxT, nh, hs, c, v;
    private final float scale, eps;
    private final Scope scope = new Scope();
    private final Tensor[] kCache, vCache;
    private final Tensor keyStart;    // [B] int32: P − L_b, the first real slot of each sequence
    private final Tensor identity;    // [HS, HS]
    private final Tensor zeroPos;     // [maxT, C]: zero "position table" for the per-token position gathers
    private final Tensor lastHidden, lastLn, lastMean, lastRstd, logits;
    private Work work;
    private boolean masked;           // some sequence has padding: pass keyStart to the attention
    private int length = -1;          // slots filled; -1 before the prefill
    private int[] pad;                // P − L_b per sequence

    /** A cache for {@code batch} sequences of up to {@code maxT} slots (maxT ≤ nCtx) on the model's device. */
    public KvCache(Gpt model, int batch, int maxT) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        this.config = model.config();
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (maxT < 1 || maxT > config.nCtx())
            throw new IllegalArgumentException("maxT must be in [1, nCtx = " + config.nCtx() + "], got " + maxT);
        this.model = model;
        this.device = model.device();
        this.b = batch;
        this.maxT = maxT;
        this.nh = config.nHead();
        this.hs = config.headSize();
        this.c = config.nEmbd();
        this.v = config.vocabSize();
        this.scale = (float) (1.0 / Math.sqrt(hs));
        this.eps = (float) config.layerNormEps();
        try {
            kCache = new Tensor[config.nLayer()];
            vCache = new Tensor[config.nLayer()];
            for (int l = 0; l < kCache.length; l++) {
                kCache[l] = scope.zeros(device, DType.F32, b, nh, maxT, hs);
                vCache[l] = scope.zeros(device, DType.F32, b, nh, maxT, hs);
            }
            keyStart = scope.zeros(device, DType.I32, b);
            float[] id = new float[hs * hs];
            for (int i = 0; i < hs; i++) id[i * hs + i] = 1f;
            identity = scope.of(device, id, hs, hs);
            zeroPos = scope.zeros(device, DType.F32, maxT, c);
            lastHidden = scope.empty(device, DType.F32, b, 1, c);
            lastLn = scope.empty(device, DType.F32, b, 1, c);
            lastMean = scope.empty(device, DType.F32, b, 1);
            lastRstd = scope.empty(device, DType.F32, b, 1);
            logits = scope.empty(device, DType.F32, b, v);
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
    }

    public int batch() {
        return b;
    }

    public int maxT() {
        return maxT;
    }

    /** Slots filled so far (P after the prefill, +1 per step); -1 before the prefill. */
    public int length() {
        return length;
    }

    /** The padding of each sequence ({@code P − L_b}: its first real slot). */
    public int[] padding() {
        requirePrefill();
        return pad.clone();
    }

    /**
     * Resets the cache and runs the prompts ({@code prompts[b]}, 1 ≤ length ≤ maxT, tokens in [0, V)).
     * Returns the logits {@code [B, V]} of each prompt's last token: a buffer of this cache, overwritten by the
     * next call.
     */
    public Tensor prefill(int[][] prompts) {
        if (prompts == null) throw new IllegalArgumentException("prompts must not be null");
        if (prompts.length != b)
            throw new IllegalArgumentException("prompts has " + prompts.length + " sequences, the cache holds " + b);
        int p = longestPrompt(prompts, maxT, "more than the cache's maxT", v);
        pad = new int[b];
        int[] tok = new int[b * p], pos = new int[b * p];
        boolean anyPad = false;
        for (int i = 0; i < b; i++) {
            pad[i] = p - prompts[i].length;
            anyPad |= pad[i] > 0;
            System.arraycopy(prompts[i], 0, tok, i * p + pad[i], prompts[i].length);
            for (int j = 0; j < p; j++) pos[i * p + j] = Math.max(0, j - pad[i]);   // padding: any valid index
        }
        keyStart.copyFrom(pad);
        masked = anyPad;
        length = 0;
        return run(tok, pos, p);
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

    /**
     * Appends one token per sequence ({@code tokens[b]} in [0, V)) at the next slot and returns the logits
     * {@code [B, V]} of the next token (the same buffer as {@link #prefill}'s).
     */
    public Tensor step(int[] tokens) {
        requirePrefill();
        if (tokens == null || tokens.length != b)
            throw new IllegalArgumentException("tokens must have " + b + " values, got "
                    + (tokens == null ? "null" : tokens.length));
        if (length >= maxT) throw new IllegalStateException("the cache is full (maxT = " + maxT + ")");
        for (int i = 0; i < b; i++)
            if (tokens[i] < 0 || tokens[i] >= v)
                throw new IllegalArgumentException("tokens[" + i + "] = " + tokens[i] + " is outside the vocabulary [0, "
                        + v + ")");
        int[] pos = new int[b];
        for (int i = 0; i < b; i++) pos[i] = length - pad[i];
        if (maxPosition(pos) >= config.nCtx())
            throw new IllegalStateException("position " + maxPosition(pos) + " exceeds the context nCtx = " + config.nCtx());
        return run(tokens.clone(), pos, 1);
    }

    private static int maxPosition(int[] pos) {
        int m = 0;
        for (int x : pos) m = Math.max(m, x);
        return m;
    }

    private void requirePrefill() {
        if (length < 0) throw new IllegalStateException("call prefill first");
    }

    /** Runs tq new tokens per sequence at slots [length, length + tq); returns the last slot's logits. */
    private Tensor run(int[] tok, int[] pos, int tq) {
        Work w = work(tq);
        int s = length, tk = s + tq;
        w.tokens.copyFrom(tok);
        w.pos.copyFrom(pos);
        // x = wte[tok] + wpe[pos]: two gathers against a zero table, one add (the same float sum as Embedding's)
        Embedding.forward(w.tokens, model.param("wte.weight"), zeroPos, w.x);
        Embedding.forward(w.pos, model.param("wpe.weight"), zeroPos, w.tmp);
        Bias.residual(w.x, w.tmp, w.x);
        long batchHeads = (long) b * nh, cacheStride = (long) maxT * hs;
        for (int l = 0; l < kCache.length; l++) {
            String h = "h." + l + ".";
            LayerNorm.forward(w.x, model.param(h + "ln_1.weight"), model.param(h + "ln_1.bias"), eps, w.ln, w.mean, w.rstd);
            linear(w.ln, h + "attn.c_attn", w.qkv);
            AttentionPermute.split(w.qkv, nh, w.q, w.k, w.v);
            Tensor kAt = kCache[l].view((long) s * hs, kCache[l].numel() - (long) s * hs);
            Tensor vAt = vCache[l].view((long) s * hs, vCache[l].numel() - (long) s * hs);
            // cache[b, h, s .. s+tq) = k, v  (GEMM with the identity: a strided copy)
            Blas.sgemm(w.k, identity, kAt, false, false, tq, hs, hs, 1f, 0f, batchHeads, (long) tq * hs, 0, cacheStride, false);
            Blas.sgemm(w.v, identity, vAt, false, false, tq, hs, hs, 1f, 0f, batchHeads, (long) tq * hs, 0, cacheStride, false);
            // y = causal attention of q over the cache's slots [0, tk), the padding slots [0, pad_b) masked
            FlashAttention.forward(w.q, kCache[l], vCache[l], tk, masked ? keyStart : null, scale, w.y, w.lse);
            AttentionPermute.merge(w.y, w.merged);
            linear(w.merged, h + "attn.c_proj", w.tmp);
            Bias.residual(w.x, w.tmp, w.x);
            LayerNorm.forward(w.x, model.param(h + "ln_2.weight"), model.param(h + "ln_2.bias"), eps, w.ln, w.mean, w.rstd);
            linear(w.ln, h + "mlp.c_fc", w.fc);
            Gelu.forward(w.fc, w.fc);
            linear(w.fc, h + "mlp.c_proj", w.tmp);
            Bias.residual(w.x, w.tmp, w.x);
        }
        // the last slot of every sequence → ln_f → tied head (a step's x is already [B, 1, C])
        Tensor last = w.x;
        if (tq > 1) {
            for (int i = 0; i < b; i++)
                lastHidden.view((long) i * c, c).copyFrom(w.x.view(((long) i * tq + tq - 1) * c, c));
            last = lastHidden;
        }
        LayerNorm.forward(last, model.param("ln_f.weight"), model.param("ln_f.bias"), eps, lastLn, lastMean, lastRstd);
        Matmul.matmul(lastLn, model.param("wte.weight"), logits, false, true, 1f, 0f);
        length = tk;
        return logits;
    }

    /** out = x·Wᵀ + bias with the model's {@code name.weight [out, in]} and {@code name.bias}. */
    private void linear(Tensor x, String name, Tensor out) {
        Matmul.matmul(x, model.param(name + ".weight"), out, false, true, 1f, 0f);
        Bias.add(out, model.param(name + ".bias"));
    }

    private Work work(int tq) {
        if (work != null && work.tq == tq) return work;
        if (work != null) work.scope.close();
        work = null;
        work = new Work(tq);
        return work;
    }

    /** Scratch for tq new tokens per sequence (the prefill's, then the steps' with tq = 1). */
    private final class Work {
        final Scope scope = new Scope();
        final int tq;
        final Tensor tokens, pos, x, tmp, ln, mean, rstd, qkv, q, k, v, lse, y, merged, fc;

        Work(int tq) {
            this.tq = tq;
            try {
                tokens = scope.empty(device, DType.I32, b, tq);
                pos = scope.empty(device, DType.I32, b, tq);
                x = f32(b, tq, c);
                tmp = f32(b, tq, c);
                ln = f32(b, tq, c);
                mean = f32(b, tq);
                rstd = f32(b, tq);
                qkv = f32(b, tq, 3L * c);
                q = f32(b, nh, tq, hs);
                k = f32(b, nh, tq, hs);
                v = f32(b, nh, tq, hs);
                lse = f32(b, nh, tq);
                y = f32(b, nh, tq, hs);
                merged = f32(b, tq, c);
                fc = f32(b, tq, 4L * c);
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        private Tensor f32(long... shape) {
            return scope.empty(device, DType.F32, shape);
        }
    }

    @Override
    public void close() {
        if (work != null) work.scope.close();
        work = null;
        scope.close();
    }
}
