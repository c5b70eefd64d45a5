package dev.align4j.model;

import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Embedding;
import dev.align4j.kernels.FlashAttention;
import dev.align4j.kernels.Matmul;
import dev.align4j.kernels.RmsNorm;
import dev.align4j.kernels.Rope;
import dev.align4j.kernels.SwiGlu;
import dev.align4j.tensor.Blas;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Incremental decoding of a {@link Llama} with a KV cache (see {@link Decoder}): per layer K and V are
 * {@code [B, KV, maxT, D]} (grouped-query attention caches only the KV heads), holding keys after RoPE.
 *
 * <p><b>Left padding is exact without per-sequence positions.</b> Prompts are right-aligned as in {@link KvCache};
 * the fused attention takes each sequence's first real slot ({@code keyStart}) and never reads the padding keys. Unlike GPT-2's learned positions, RoPE
 * scores depend only on the distance between query and key ({@code R(m)q · R(n)k = q · R(n − m)k}), so every token
 * is rotated by its slot index, shared by the whole batch: a sequence padded by p sees all its distances as an
 * unpadded forward does. The logits equal a plain forward's up to float rounding (the rotations by m and by m − p
 * round differently, as do GEMMs of other shapes).
 *
 * <p>Attention is {@link FlashAttention} over the cache's first tk slots, read in place (slot stride maxT), grouped
 * query heads sharing their KV head: no score tensor. The model's parameters are read at each call; it
 * must stay open. Not thread-safe.
 */
public final class LlamaKvCache implements Decoder {
    private final Llama model;
    private final LlamaConfig config;
    private final Device device;
    private final int b, maxT, h, kv, d, c, f, v;
    private final float scale, eps;
    private final Scope scope = new Scope();
    private final Tensor[] kCache, vCache;
    private final Tensor keyStart;    // [B] int32: P − L_b, the first real slot of each sequence
    private final Tensor identity;    // [D, D]
    private final Tensor zeroPos;     // [maxT, C]: a zero "position table" for the embedding gather
    private final Tensor lastHidden, lastNorm, logits;
    private Work work;
    private boolean masked;
    private int length = -1;
    private int[] pad;

    /** A cache for {@code batch} sequences of up to {@code maxT} slots (maxT ≤ nCtx) on the model's device. */
    public LlamaKvCache(Llama model, int batch, int maxT) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        this.config = model.config();
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (maxT < 1 || maxT > config.nCtx())
            throw new IllegalArgumentException("maxT must be in [1, nCtx = " + config.nCtx() + "], got " + maxT);
        this.model = model;
        this.device = model.device();
        this.b = batch;
        this.maxT = maxT;
        this.h = config.numHeads();
        this.kv = config.numKvHeads();
        this.d = config.headDim();
        this.c = config.hiddenSize();
        this.f = config.intermediateSize();
        this.v = config.vocabSize();
        this.scale = (float) (1.0 / Math.sqrt(d));
        this.eps = (float) config.rmsNormEps();
        try {
            kCache = new Tensor[config.numLayers()];
            vCache = new Tensor[config.numLayers()];
            for (int l = 0; l < kCache.length; l++) {
                kCache[l] = scope.zeros(device, DType.F32, b, kv, maxT, d);
                vCache[l] = scope.zeros(device, DType.F32, b, kv, maxT, d);
            }
            keyStart = scope.zeros(device, DType.I32, b);
            float[] id = new float[d * d];
            for (int i = 0; i < d; i++) id[i * d + i] = 1f;
            identity = scope.of(device, id, d, d);
            zeroPos = scope.zeros(device, DType.F32, maxT, c);
            lastHidden = scope.empty(device, DType.F32, b, 1, c);
            lastNorm = scope.empty(device, DType.F32, b, 1, c);
            logits = scope.empty(device, DType.F32, b, v);
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
    }

    @Override
    public int batch() {
        return b;
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
        return pad.clone();
    }

    @Override
    public Tensor prefill(int[][] prompts) {
        if (prompts == null) throw new IllegalArgumentException("prompts must not be null");
        if (prompts.length != b)
            throw new IllegalArgumentException("prompts has " + prompts.length + " sequences, the cache holds " + b);
        int p = KvCache.longestPrompt(prompts, maxT, "more than the cache's maxT", v);
        pad = new int[b];
        int[] tok = new int[b * p];
        boolean anyPad = false;
        for (int i = 0; i < b; i++) {
            pad[i] = p - prompts[i].length;
            anyPad |= pad[i] > 0;
            System.arraycopy(prompts[i], 0, tok, i * p + pad[i], prompts[i].length);
        }
        keyStart.copyFrom(pad);
        masked = anyPad;
        length = 0;
        return run(tok, p);
    }

    @Override
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
        return run(tokens.clone(), 1);
    }

    private void requirePrefill() {
        if (length < 0) throw new IllegalStateException("call prefill first");
    }

    /** Runs tq new tokens per sequence at slots [length, length + tq); returns the last slot's logits. */
    private Tensor run(int[] tok, int tq) {
        Work w = work(tq);
        int s = length, tk = s + tq;
        long bkv = (long) b * kv, cacheStride = (long) maxT * d;
        w.tokens.copyFrom(tok);
        Embedding.forward(w.tokens, model.param("model.embed_tokens.weight"), zeroPos, w.x);
        for (int l = 0; l < kCache.length; l++) {
            String p = "model.layers." + l + ".";
            RmsNorm.forward(w.x, model.param(p + "input_layernorm.weight"), eps, w.norm, null);
            linear(w.norm, p + "self_attn.q_proj", w.q);
            linear(w.norm, p + "self_attn.k_proj", w.k);
            linear(w.norm, p + "self_attn.v_proj", w.v);
            if (config.qkNorm()) {
                Tensor q4 = w.q.view(0, b, tq, h, d), k4 = w.k.view(0, b, tq, kv, d);
                RmsNorm.forward(q4, model.param(p + "self_attn.q_norm.weight"), eps, q4, null);
                RmsNorm.forward(k4, model.param(p + "self_attn.k_norm.weight"), eps, k4, null);
            }
            AttentionPermute.mergeBackward(w.q, w.qh);   // [B, tq, H·D] -> [B, H, tq, D]
            AttentionPermute.mergeBackward(w.k, w.kh);
            AttentionPermute.mergeBackward(w.v, w.vh);
            Rope.forward(w.qh, model.invFreq(), s, w.qh);  // slot positions (class comment)
            Rope.forward(w.kh, model.invFreq(), s, w.kh);
            Tensor kAt = kCache[l].view((long) s * d, kCache[l].numel() - (long) s * d);
            Tensor vAt = vCache[l].view((long) s * d, vCache[l].numel() - (long) s * d);
            // cache[b, kv, s .. s+tq) = k, v  (GEMM with the identity: a strided copy, exact for finite values)
            Blas.sgemm(w.kh, identity, kAt, false, false, tq, d, d, 1f, 0f, bkv, (long) tq * d, 0, cacheStride, false);
            Blas.sgemm(w.vh, identity, vAt, false, false, tq, d, d, 1f, 0f, bkv, (long) tq * d, 0, cacheStride, false);
            FlashAttention.forward(w.qh, kCache[l], vCache[l], tk, masked ? keyStart : null, scale, w.y, w.lse);
            AttentionPermute.merge(w.y, w.ym);
            linear(w.ym, p + "self_attn.o_proj", w.tmp);
            Bias.residual(w.x, w.tmp, w.x);
            RmsNorm.forward(w.x, model.param(p + "post_attention_layernorm.weight"), eps, w.norm, null);
            Matmul.matmul(w.norm, gateUp(p), w.gu, false, true, 1f, 0f);
            SwiGlu.forward(w.gu, w.act);
            linear(w.act, p + "mlp.down_proj", w.tmp);
            Bias.residual(w.x, w.tmp, w.x);
        }
        Tensor last = w.x;
        if (tq > 1) {
            for (int i = 0; i < b; i++)
                lastHidden.view((long) i * c, c).copyFrom(w.x.view(((long) i * tq + tq - 1) * c, c));
            last = lastHidden;
        }
        RmsNorm.forward(last, model.param("model.norm.weight"), eps, lastNorm, null);
        Matmul.matmul(lastNorm, model.headWeight(), logits, false, true, 1f, 0f);
        length = tk;
        return logits;
    }

    /** gate_proj and up_proj as one {@code [2F, C]} matrix (they are adjacent in the model's layout). */
    private Tensor gateUp(String p) {
        return model.params().view(model.layout().entry(p + "mlp.gate_proj.weight").offset(), 2L * f, c);
    }

    /** out = x·Wᵀ (+ bias) with the model's {@code name.weight [out, in]} and, when it has one, {@code name.bias}. */
    private void linear(Tensor x, String name, Tensor out) {
        Matmul.matmul(x, model.param(name + ".weight"), out, false, true, 1f, 0f);
        if (model.layout().has(name + ".bias")) Bias.add(out, model.param(name + ".bias"));
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
        final Tensor tokens, x, norm, tmp, q, k, v, qh, kh, vh, y, lse, ym, gu, act;

        Work(int tq) {
            this.tq = tq;
            try {
                tokens = scope.empty(device, DType.I32, b, tq);
                x = f32(b, tq, c);
                norm = f32(b, tq, c);
                tmp = f32(b, tq, c);
                q = f32(b, tq, (long) h * d);
                k = f32(b, tq, (long) kv * d);
                v = f32(b, tq, (long) kv * d);
                qh = f32(b, h, tq, d);
                kh = f32(b, kv, tq, d);
                vh = f32(b, kv, tq, d);
                y = f32(b, h, tq, d);
                lse = f32(b, h, tq);
                ym = f32(b, tq, (long) h * d);
                gu = f32(b, tq, 2L * f);
                act = f32(b, tq, f);
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
