package dev.align4j.model;

import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.AttentionSoftmax;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Embedding;
import dev.align4j.kernels.Matmul;
import dev.align4j.kernels.RmsNorm;
import dev.align4j.kernels.Rope;
import dev.align4j.kernels.SwiGlu;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Llama-family causal LM (Llama 2/3, Mistral, SmolLM2, TinyLlama, Qwen2 with q/k/v biases, Qwen3 with per-head
 * q/k RMSNorm; see {@link LlamaConfig}) on the project's kernels, <b>forward only</b>: logits and log-probs for
 * inference and scoring. There is no backward yet (training a Llama is a later slice of issue 14).
 * <pre>
 *   h = embed_tokens[tokens]
 *   per layer:  x = rmsnorm(h);  q, k, v = x·Wqᵀ (+bq), x·Wkᵀ (+bk), x·Wvᵀ (+bv)
 *               q, k = rope(q_norm(q)), rope(k_norm(k))          (q_norm/k_norm: Qwen3 only; RoPE at positions 0..T)
 *               h += o_proj(causal_softmax(q·kᵀ / √D)·v)        (grouped-query: query head i reads kv head i / g)
 *               x = rmsnorm(h);  h += down_proj(silu(gate_proj(x)) ⊙ up_proj(x))
 *   logits = rmsnorm(h)·lm_headᵀ                               (lm_head = embed_tokens when tied)
 * </pre>
 * The math is that of {@code dev.align4j.reference.LlamaReference} (Hugging Face's modeling_llama.py), in F32.
 *
 * <p>Layout. Weights are device tensors in PyTorch's Linear layout {@code [out, in]}; gate_proj and up_proj are
 * stacked at load into one {@code [2F, C]} weight so that one GEMM gives {@link SwiGlu}'s fused gate|up rows.
 * q, k and v are three GEMMs. The transposes {@code [B, T, H·D] ↔ [B, H, T, D]} are {@link AttentionPermute}'s
 * merge kernels: {@link AttentionPermute#mergeBackward} is the map {@code [B, T, H·D] → [B, H, T, D]}
 * (attention_unpermute_bwd) and {@link AttentionPermute#merge} the map back (attention_unpermute_fwd).
 *
 * <p>Grouped-query attention copies no key or value: the g = H / KV query heads {@code kv·g + j} of one key/value
 * head are contiguous in {@code q [B, H, T, D]}, so q viewed as {@code [B·KV, g·T, D]} times
 * {@code k [B·KV, T, D]ᵀ} gives scores {@code [B·KV, g·T, T]}, which in memory is exactly {@code [B·H, T, T]} for
 * {@link AttentionSoftmax} (causal, scale 1/√D); then {@code y = P·v} as {@code [B·KV, g·T, T]·[B·KV, T, D]}.
 * The T×T scores are materialised (a fused attention kernel is a later slice).
 *
 * <p>Embedding: {@link Embedding#forward} with a zero position table {@code [T, C]} (Llama has no learned
 * positions; the kernel adds wpe, so a zero table makes it a pure row gather).
 *
 * <p>Loading ({@link #load}): every tensor the config implies is checked by name and shape before any is read; a
 * missing or mis-shaped one fails naming it, and so does any tensor in the checkpoint that the model does not use
 * (except {@code rotary_emb.inv_freq} buffers, which are recomputed from the config, and {@code lm_head.weight} of
 * a tied model when it has the embedding's shape: the head is the embedding). Not thread-safe.
 */
public final class Llama implements AutoCloseable {
    private final LlamaConfig config;
    private final Device device;
    private final Scope weights = new Scope();
    private final Tensor embed, lmHead, finalNorm, invFreq;
    private final Layer[] layers;

    /** One decoder layer's weights; biases and q/k norms null when the model has none. */
    private record Layer(Tensor inNorm, Tensor q, Tensor k, Tensor v, Tensor qBias, Tensor kBias, Tensor vBias,
                         Tensor qNorm, Tensor kNorm, Tensor o, Tensor postNorm, Tensor gateUp, Tensor down) {}

    private Llama(LlamaConfig config, Device device, Map<String, float[]> w) {
        this.config = config;
        this.device = device;
        try {
            int c = config.hiddenSize(), v = config.vocabSize(), f = config.intermediateSize();
            int qd = config.numHeads() * config.headDim(), kvd = config.numKvHeads() * config.headDim();
            embed = put(w, "model.embed_tokens.weight", v, c);
            lmHead = config.tieWordEmbeddings() ? embed : put(w, "lm_head.weight", v, c);
            finalNorm = put(w, "model.norm.weight", c);
            invFreq = weights.of(device, config.invFreq());
            layers = new Layer[config.numLayers()];
            for (int l = 0; l < layers.length; l++) {
                String p = "model.layers." + l + ".";
                boolean bias = config.attentionBias(), qk = config.qkNorm();
                float[] gate = w.get(p + "mlp.gate_proj.weight"), up = w.get(p + "mlp.up_proj.weight");
                float[] gateUp = Arrays.copyOf(gate, gate.length + up.length);
                System.arraycopy(up, 0, gateUp, gate.length, up.length);
                layers[l] = new Layer(put(w, p + "input_layernorm.weight", c),
                        put(w, p + "self_attn.q_proj.weight", qd, c), put(w, p + "self_attn.k_proj.weight", kvd, c),
                        put(w, p + "self_attn.v_proj.weight", kvd, c),
                        bias ? put(w, p + "self_attn.q_proj.bias", qd) : null,
                        bias ? put(w, p + "self_attn.k_proj.bias", kvd) : null,
                        bias ? put(w, p + "self_attn.v_proj.bias", kvd) : null,
                        qk ? put(w, p + "self_attn.q_norm.weight", config.headDim()) : null,
                        qk ? put(w, p + "self_attn.k_norm.weight", config.headDim()) : null,
                        put(w, p + "self_attn.o_proj.weight", c, qd), put(w, p + "post_attention_layernorm.weight", c),
                        weights.of(device, gateUp, 2L * f, c), put(w, p + "mlp.down_proj.weight", c, f));
            }
        } catch (RuntimeException | Error e) {
            weights.close();
            throw e;
        }
    }

    private Tensor put(Map<String, float[]> w, String name, long... shape) {
        return weights.of(device, w.get(name), shape);
    }

    /**
     * Loads a Hugging Face folder: {@code config.json} ({@link LlamaConfig#read}) and the weights
     * ({@link SafeTensorsCheckpoint}: model.safetensors or shards). Fails with an {@link IOException} naming the
     * tensor when one is missing, mis-shaped or not part of the model (see the class comment).
     */
    public static Llama load(Path hfFolder, Device device) throws IOException {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        LlamaConfig config = LlamaConfig.read(hfFolder.resolve("config.json"));
        Map<String, long[]> expected = expectedShapes(config);
        Map<String, float[]> w = new LinkedHashMap<>();
        try (SafeTensorsCheckpoint ck = SafeTensorsCheckpoint.open(hfFolder)) {
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                String name = e.getKey();
                if (!ck.contains(name))
                    throw new SafeTensorsException(hfFolder + ": tensor " + name + " " + Arrays.toString(e.getValue())
                            + " is missing from the checkpoint (model_type " + config.modelType() + ")");
                long[] shape = ck.info(name).shape();
                if (!Arrays.equals(shape, e.getValue()))
                    throw new SafeTensorsException(hfFolder + ": tensor " + name + " has shape " + Arrays.toString(shape)
                            + ", expected " + Arrays.toString(e.getValue()) + " from config.json");
            }
            for (String name : ck.names()) {
                if (expected.containsKey(name) || name.endsWith("rotary_emb.inv_freq")) continue;
                if (name.equals("lm_head.weight") && config.tieWordEmbeddings()) {
                    long[] shape = ck.info(name).shape();
                    long[] want = {config.vocabSize(), config.hiddenSize()};
                    if (Arrays.equals(shape, want)) continue;  // tied: the head is embed_tokens
                    throw new SafeTensorsException(hfFolder + ": tensor " + name + " has shape " + Arrays.toString(shape)
                            + ", expected " + Arrays.toString(want) + " (tied to model.embed_tokens.weight)");
                }
                throw new SafeTensorsException(hfFolder + ": tensor " + name + " in the checkpoint is not part of a "
                        + config.modelType() + " model with this config.json (unexpected tensor)");
            }
            for (Map.Entry<String, long[]> e : expected.entrySet())
                w.put(e.getKey(), ck.floats(e.getKey(), e.getValue()));
        }
        return new Llama(config, device, w);
    }

    /** Every tensor name the config implies, with its shape, in Hugging Face's naming. */
    static Map<String, long[]> expectedShapes(LlamaConfig c) {
        long C = c.hiddenSize(), V = c.vocabSize(), F = c.intermediateSize(), D = c.headDim();
        long qd = c.numHeads() * D, kvd = c.numKvHeads() * D;
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new long[] {V, C});
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            m.put(p + "input_layernorm.weight", new long[] {C});
            m.put(p + "self_attn.q_proj.weight", new long[] {qd, C});
            m.put(p + "self_attn.k_proj.weight", new long[] {kvd, C});
            m.put(p + "self_attn.v_proj.weight", new long[] {kvd, C});
            if (c.attentionBias()) {
                m.put(p + "self_attn.q_proj.bias", new long[] {qd});
                m.put(p + "self_attn.k_proj.bias", new long[] {kvd});
                m.put(p + "self_attn.v_proj.bias", new long[] {kvd});
            }
            if (c.qkNorm()) {
                m.put(p + "self_attn.q_norm.weight", new long[] {D});
                m.put(p + "self_attn.k_norm.weight", new long[] {D});
            }
            m.put(p + "self_attn.o_proj.weight", new long[] {C, qd});
            m.put(p + "post_attention_layernorm.weight", new long[] {C});
            m.put(p + "mlp.gate_proj.weight", new long[] {F, C});
            m.put(p + "mlp.up_proj.weight", new long[] {F, C});
            m.put(p + "mlp.down_proj.weight", new long[] {C, F});
        }
        m.put("model.norm.weight", new long[] {C});
        if (!c.tieWordEmbeddings()) m.put("lm_head.weight", new long[] {V, C});
        return m;
    }

    public LlamaConfig config() {
        return config;
    }

    public Device device() {
        return device;
    }

    /**
     * The logits {@code [B, T, V]} (F32, a new tensor of {@code scope}) of {@code tokens} (row-major {@code [B, T]},
     * each in {@code [0, V)}), position t of each row seeing tokens 0..t at positions 0..t. Full recomputation, no
     * cache. Temporaries are freed before it returns.
     */
    public Tensor logits(Scope scope, int[] tokens, int batch, int seqLen) {
        if (scope == null) throw new IllegalArgumentException("scope must not be null");
        if (tokens == null) throw new IllegalArgumentException("tokens must not be null");
        if (batch < 1 || seqLen < 1)
            throw new IllegalArgumentException("batch and seqLen must be >= 1, got " + batch + ", " + seqLen);
        if (tokens.length != (long) batch * seqLen)
            throw new IllegalArgumentException("tokens has " + tokens.length + " values, expected batch·seqLen = "
                    + (long) batch * seqLen);
        int V = config.vocabSize();
        for (int i = 0; i < tokens.length; i++)
            if (tokens[i] < 0 || tokens[i] >= V)
                throw new IllegalArgumentException("tokens[" + i + "] = " + tokens[i] + " is not in [0, " + V + ")");
        if (weights.isClosed()) throw new IllegalStateException("the model is closed");
        long B = batch, T = seqLen, C = config.hiddenSize(), F = config.intermediateSize(), D = config.headDim();
        long H = config.numHeads(), KV = config.numKvHeads(), g = config.groupSize();
        float eps = (float) config.rmsNormEps();
        float scale = (float) (1.0 / Math.sqrt(D));
        Tensor logits = scope.empty(device, DType.F32, B, T, V);
        try (Scope tmp = new Scope()) {
            Tensor tok = tmp.of(device, tokens, B, T);
            Tensor h = tmp.empty(device, DType.F32, B, T, C);
            Embedding.forward(tok, embed, tmp.zeros(device, DType.F32, T, C), h);
            Tensor x = tmp.empty(device, DType.F32, B, T, C);
            Tensor out = tmp.empty(device, DType.F32, B, T, C);
            Tensor q = tmp.empty(device, DType.F32, B, T, H * D);
            Tensor k = tmp.empty(device, DType.F32, B, T, KV * D);
            Tensor v = tmp.empty(device, DType.F32, B, T, KV * D);
            Tensor qh = tmp.empty(device, DType.F32, B, H, T, D);
            Tensor kh = tmp.empty(device, DType.F32, B, KV, T, D);
            Tensor vh = tmp.empty(device, DType.F32, B, KV, T, D);
            Tensor att = tmp.empty(device, DType.F32, B * H, T, T);
            Tensor y = tmp.empty(device, DType.F32, B, H, T, D);
            Tensor ym = tmp.empty(device, DType.F32, B, T, H * D);
            Tensor gu = tmp.empty(device, DType.F32, B, T, 2 * F);
            Tensor act = tmp.empty(device, DType.F32, B, T, F);
            // GQA views (see the class comment): q as [B·KV, g·T, D], scores as [B·KV, g·T, T], y likewise
            Tensor qg = qh.view(0, B * KV, g * T, D), kg = kh.view(0, B * KV, T, D), vg = vh.view(0, B * KV, T, D);
            Tensor attG = att.view(0, B * KV, g * T, T), yg = y.view(0, B * KV, g * T, D);
            for (Layer L : layers) {
                RmsNorm.forward(h, L.inNorm(), eps, x, null);
                linear(x, L.q(), L.qBias(), q);
                linear(x, L.k(), L.kBias(), k);
                linear(x, L.v(), L.vBias(), v);
                if (L.qNorm() != null) {
                    Tensor q4 = q.view(0, B, T, H, D), k4 = k.view(0, B, T, KV, D);
                    RmsNorm.forward(q4, L.qNorm(), eps, q4, null);
                    RmsNorm.forward(k4, L.kNorm(), eps, k4, null);
                }
                AttentionPermute.mergeBackward(q, qh);  // [B, T, H·D] -> [B, H, T, D]
                AttentionPermute.mergeBackward(k, kh);
                AttentionPermute.mergeBackward(v, vh);
                Rope.forward(qh, invFreq, 0, qh);
                Rope.forward(kh, invFreq, 0, kh);
                Matmul.matmulBatched(qg, kg, attG, false, true);
                AttentionSoftmax.forward(att, scale, att);
                Matmul.matmulBatched(attG, vg, yg, false, false);
                AttentionPermute.merge(y, ym);          // [B, H, T, D] -> [B, T, H·D]
                linear(ym, L.o(), null, out);
                Bias.residual(h, out, h);
                RmsNorm.forward(h, L.postNorm(), eps, x, null);
                linear(x, L.gateUp(), null, gu);
                SwiGlu.forward(gu, act);
                linear(act, L.down(), null, out);
                Bias.residual(h, out, h);
            }
            RmsNorm.forward(h, finalNorm, eps, x, null);
            linear(x, lmHead, null, logits);
        } catch (RuntimeException | Error e) {
            logits.close();
            throw e;
        }
        return logits;
    }

    /** {@code out = x·Wᵀ (+ bias)} with {@code W [out, in]}. */
    private static void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        Matmul.matmul(x, w, out, false, true, 1f, 0f);
        if (bias != null) Bias.add(out, bias);
    }

    /** Frees the weights; idempotent. */
    @Override
    public void close() {
        weights.close();
    }
}
