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
 * query heads sharing their KV head: no score tensor. A prompt that appears in several rows is prefilled once
 * ({@link KvDecoder}). The model's parameters are read at each call; it must stay open. Not thread-safe.
 */
public final class LlamaKvCache extends KvDecoder {
    private final Llama model;
    private final LlamaConfig config;
    private final int h, kv, d, c, f;
    private final float scale, eps;
    private final Tensor identity;    // [D, D]
    private final Tensor zeroPos;     // [maxT, C]: a zero "position table" for the embedding gather
    private final Tensor lastHidden, lastNorm;

    /** A cache for {@code batch} sequences of up to {@code maxT} slots (maxT ≤ nCtx) on the model's device. */
    public LlamaKvCache(Llama model, int batch, int maxT) {
        super(requireModel(model), model.config().nCtx(), model.config().vocabSize(), model.config().numLayers(),
                model.config().numKvHeads(), model.config().headDim(), batch, maxT);
        this.model = model;
        this.config = model.config();
        this.h = config.numHeads();
        this.kv = config.numKvHeads();
        this.d = config.headDim();
        this.c = config.hiddenSize();
        this.f = config.intermediateSize();
        this.scale = (float) (1.0 / Math.sqrt(d));
        this.eps = (float) config.rmsNormEps();
        try {
            float[] id = new float[d * d];
            for (int i = 0; i < d; i++) id[i * d + i] = 1f;
            identity = scope.of(device, id, d, d);
            zeroPos = scope.zeros(device, DType.F32, maxT, c);
            lastHidden = scope.empty(device, DType.F32, b, 1, c);
            lastNorm = scope.empty(device, DType.F32, b, 1, c);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private static Llama requireModel(Llama model) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        return model;
    }

    /** Every token is rotated by its slot index ({@code pos} is not used: see the class comment). */
    @Override
    void run(int[] tok, int[] pos, int rows, int tq) {
        Work w = (Work) scratch(rows, tq);
        int s = length, tk = s + tq;
        long bkv = (long) rows * kv, cacheStride = (long) maxT * d;
        w.tokens.copyFrom(tok);
        Embedding.forward(w.tokens, model.param("model.embed_tokens.weight"), zeroPos, w.x);
        for (int l = 0; l < kCache.length; l++) {
            String p = "model.layers." + l + ".";
            Tensor kc = rows(kCache[l], rows), vc = rows(vCache[l], rows);
            RmsNorm.forward(w.x, model.param(p + "input_layernorm.weight"), eps, w.norm, null);
            linear(w.norm, p + "self_attn.q_proj", w.q);
            linear(w.norm, p + "self_attn.k_proj", w.k);
            linear(w.norm, p + "self_attn.v_proj", w.v);
            if (config.qkNorm()) {
                Tensor q4 = w.q.view(0, rows, tq, h, d), k4 = w.k.view(0, rows, tq, kv, d);
                RmsNorm.forward(q4, model.param(p + "self_attn.q_norm.weight"), eps, q4, null);
                RmsNorm.forward(k4, model.param(p + "self_attn.k_norm.weight"), eps, k4, null);
            }
            AttentionPermute.mergeBackward(w.q, w.qh);   // [B, tq, H·D] -> [B, H, tq, D]
            AttentionPermute.mergeBackward(w.k, w.kh);
            AttentionPermute.mergeBackward(w.v, w.vh);
            Rope.forward(w.qh, model.invFreq(), s, w.qh);  // slot positions (class comment)
            Rope.forward(w.kh, model.invFreq(), s, w.kh);
            Tensor kAt = kc.view((long) s * d, kc.numel() - (long) s * d);
            Tensor vAt = vc.view((long) s * d, vc.numel() - (long) s * d);
            // cache[b, kv, s .. s+tq) = k, v  (GEMM with the identity: a strided copy, exact for finite values)
            Blas.sgemm(w.kh, identity, kAt, false, false, tq, d, d, 1f, 0f, bkv, (long) tq * d, 0, cacheStride, false);
            Blas.sgemm(w.vh, identity, vAt, false, false, tq, d, d, 1f, 0f, bkv, (long) tq * d, 0, cacheStride, false);
            FlashAttention.forward(w.qh, kc, vc, tk, masked ? rows(keyStart, rows) : null, scale, w.y, w.lse);
            AttentionPermute.merge(w.y, w.ym);
            linear(w.ym, p + "self_attn.o_proj", w.tmp);
            Bias.residual(w.x, w.tmp, w.x);
            RmsNorm.forward(w.x, model.param(p + "post_attention_layernorm.weight"), eps, w.norm, null);
            Matmul.matmul(w.norm, gateUp(p), w.gu, false, true, 1f, 0f);
            if (model.lora() != null) model.lora().forwardPair(p + "mlp.gate_proj", p + "mlp.up_proj", w.norm, w.gu, false);
            SwiGlu.forward(w.gu, w.act);
            linear(w.act, p + "mlp.down_proj", w.tmp);
            Bias.residual(w.x, w.tmp, w.x);
        }
        Tensor last = w.x;
        if (tq > 1) {
            for (int i = 0; i < rows; i++)
                lastHidden.view((long) i * c, c).copyFrom(w.x.view(((long) i * tq + tq - 1) * c, c));
            last = rows(lastHidden, rows);
        }
        RmsNorm.forward(last, model.param("model.norm.weight"), eps, rows(lastNorm, rows), null);
        Matmul.matmul(rows(lastNorm, rows), model.headWeight(), rows(logits, rows), false, true, 1f, 0f);
        length = tk;
    }

    /** gate_proj and up_proj as one {@code [2F, C]} matrix (they are adjacent in the model's layout). */
    private Tensor gateUp(String p) {
        return model.params().view(model.layout().entry(p + "mlp.gate_proj.weight").offset(), 2L * f, c);
    }

    /** out = x·Wᵀ (+ bias) with the model's {@code name.weight [out, in]} and, when it has one, {@code name.bias}. */
    private void linear(Tensor x, String name, Tensor out) {
        Matmul.matmul(x, model.param(name + ".weight"), out, false, true, 1f, 0f);
        if (model.layout().has(name + ".bias")) Bias.add(out, model.param(name + ".bias"));
        if (model.lora() != null) model.lora().forward(name, x, out, false);
    }

    @Override
    Work newScratch(CausalLmBase.Buffers buf, int rows, int tq) {
        return new Work(buf, rows, tq);
    }

    /** Scratch for tq new tokens of each of {@code rows} sequences (the prefill's, then the steps' with tq = 1). */
    private final class Work extends Scratch {
        final Tensor tokens, x, norm, tmp, q, k, v, qh, kh, vh, y, lse, ym, gu, act;

        Work(CausalLmBase.Buffers buf, int rows, int tq) {
            super(buf, rows, tq);
            int b = rows;
            tokens = buf.alloc(DType.I32, b, tq);
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
        }

        private Tensor f32(long... shape) {
            return buf.f32(shape);
        }
    }
}
