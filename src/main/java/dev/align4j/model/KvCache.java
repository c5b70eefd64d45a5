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
 * Sampling is not here: see {@link Generator}. A prompt that appears in several rows is prefilled once
 * ({@link KvDecoder}). The model's parameters are read at each call (not copied); the model must stay open. Not
 * thread-safe.
 */
public final class KvCache extends KvDecoder {
    private final Gpt model;
    private final GptConfig config;
    private final int nh, hs, c;
    private final float scale, eps;
    private final Tensor identity;    // [HS, HS]
    private final Tensor zeroPos;     // [maxT, C]: zero "position table" for the per-token position gathers
    private final Tensor lastHidden, lastLn, lastMean, lastRstd;

    /** A cache for {@code batch} sequences of up to {@code maxT} slots (maxT ≤ nCtx) on the model's device. */
    public KvCache(Gpt model, int batch, int maxT) {
        super(requireModel(model), model.config().nCtx(), model.config().vocabSize(), model.config().nLayer(),
                model.config().nHead(), model.config().headSize(), batch, maxT);
        this.model = model;
        this.config = model.config();
        this.nh = config.nHead();
        this.hs = config.headSize();
        this.c = config.nEmbd();
        this.scale = (float) (1.0 / Math.sqrt(hs));
        this.eps = (float) config.layerNormEps();
        try {
            float[] id = new float[hs * hs];
            for (int i = 0; i < hs; i++) id[i * hs + i] = 1f;
            identity = scope.of(device, id, hs, hs);
            zeroPos = scope.zeros(device, DType.F32, maxT, c);
            lastHidden = scope.empty(device, DType.F32, b, 1, c);
            lastLn = scope.empty(device, DType.F32, b, 1, c);
            lastMean = scope.empty(device, DType.F32, b, 1);
            lastRstd = scope.empty(device, DType.F32, b, 1);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private static Gpt requireModel(Gpt model) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        return model;
    }

    /**
     * The length of the longest of {@code prompts}, after checking each: not null or empty, at most {@code limit}
     * tokens (else "prompts[i] has N tokens, {@code overLimit} = limit"), every token in {@code [0, v)}.
     */
    static int longestPrompt(int[][] prompts, int limit, String overLimit, int v) {
        return KvDecoder.longestPrompt(prompts, limit, overLimit, v);
    }

    @Override
    void run(int[] tok, int[] pos, int rows, int tq) {
        Work w = (Work) scratch(rows, tq);
        int s = length, tk = s + tq;
        w.tokens.copyFrom(tok);
        w.pos.copyFrom(pos);
        // x = wte[tok] + wpe[pos]: two gathers against a zero table, one add (the same float sum as Embedding's)
        Embedding.forward(w.tokens, model.param("wte.weight"), zeroPos, w.x);
        Embedding.forward(w.pos, model.param("wpe.weight"), zeroPos, w.tmp);
        Bias.residual(w.x, w.tmp, w.x);
        long batchHeads = (long) rows * nh, cacheStride = (long) maxT * hs;
        for (int l = 0; l < kCache.length; l++) {
            String h = "h." + l + ".";
            Tensor kc = rows(kCache[l], rows), vc = rows(vCache[l], rows);
            LayerNorm.forward(w.x, model.param(h + "ln_1.weight"), model.param(h + "ln_1.bias"), eps, w.ln, w.mean, w.rstd);
            linear(w.ln, h + "attn.c_attn", w.qkv);
            AttentionPermute.split(w.qkv, nh, w.q, w.k, w.v);
            Tensor kAt = kc.view((long) s * hs, kc.numel() - (long) s * hs);
            Tensor vAt = vc.view((long) s * hs, vc.numel() - (long) s * hs);
            // cache[b, h, s .. s+tq) = k, v  (GEMM with the identity: a strided copy)
            Blas.sgemm(w.k, identity, kAt, false, false, tq, hs, hs, 1f, 0f, batchHeads, (long) tq * hs, 0, cacheStride, false);
            Blas.sgemm(w.v, identity, vAt, false, false, tq, hs, hs, 1f, 0f, batchHeads, (long) tq * hs, 0, cacheStride, false);
            // y = causal attention of q over the cache's slots [0, tk), the padding slots [0, pad_b) masked
            FlashAttention.forward(w.q, kc, vc, tk, masked ? rows(keyStart, rows) : null, scale, w.y, w.lse);
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
            for (int i = 0; i < rows; i++)
                lastHidden.view((long) i * c, c).copyFrom(w.x.view(((long) i * tq + tq - 1) * c, c));
            last = rows(lastHidden, rows);
        }
        LayerNorm.forward(last, model.param("ln_f.weight"), model.param("ln_f.bias"), eps, rows(lastLn, rows),
                rows(lastMean, rows), rows(lastRstd, rows));
        Matmul.matmul(rows(lastLn, rows), model.param("wte.weight"), rows(logits, rows), false, true, 1f, 0f);
        length = tk;
    }

    /** out = x·Wᵀ + bias with the model's {@code name.weight [out, in]} and {@code name.bias}. */
    private void linear(Tensor x, String name, Tensor out) {
        Matmul.matmul(x, model.param(name + ".weight"), out, false, true, 1f, 0f);
        Bias.add(out, model.param(name + ".bias"));
        if (model.lora() != null) model.lora().forward(name, x, out, false);
    }

    @Override
    Work newScratch(CausalLmBase.Buffers buf, int rows, int tq) {
        return new Work(buf, rows, tq);
    }

    /** Scratch for tq new tokens of each of {@code rows} sequences (the prefill's, then the steps' with tq = 1). */
    private final class Work extends Scratch {
        final Tensor tokens, pos, x, tmp, ln, mean, rstd, qkv, q, k, v, lse, y, merged, fc;

        Work(CausalLmBase.Buffers buf, int rows, int tq) {
            super(buf, rows, tq);
            int b = rows;
            tokens = buf.alloc(DType.I32, b, tq);
            pos = buf.alloc(DType.I32, b, tq);
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
        }

        private Tensor f32(long... shape) {
            return buf.f32(shape);
        }
    }
}
