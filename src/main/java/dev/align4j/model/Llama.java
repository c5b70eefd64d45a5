package dev.align4j.model;

import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Embedding;
import dev.align4j.kernels.FlashAttention;
import dev.align4j.kernels.Matmul;
import dev.align4j.kernels.RmsNorm;
import dev.align4j.kernels.Rope;
import dev.align4j.kernels.SwiGlu;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A Llama-family causal LM (Llama 2/3, Mistral, SmolLM2, TinyLlama, Qwen2 with q/k/v biases, Qwen3 with per-head
 * q/k RMSNorm; see {@link LlamaConfig}) on the project's kernels: a {@link CausalLm} with forward, backward
 * (every trainer runs on it), KV-cache decoding ({@link LlamaKvCache}) and Hugging Face checkpoints.
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
 * <p>Layout. The parameters are one flat buffer in Hugging Face's names and order ({@link #expectedShapes}),
 * linear weights in PyTorch's layout {@code [out, in]}. gate_proj is followed by up_proj in that order, so the two
 * are one {@code [2F, C]} matrix in memory and one GEMM gives {@link SwiGlu}'s fused gate|up rows, with no copy.
 * q, k and v are three GEMMs. The transposes {@code [B, T, H·D] ↔ [B, H, T, D]} are {@link AttentionPermute}'s
 * merge kernels: {@link AttentionPermute#mergeBackward} is the map {@code [B, T, H·D] → [B, H, T, D]}
 * (attention_unpermute_bwd) and {@link AttentionPermute#merge} the map back (attention_unpermute_fwd).
 *
 * <p>Attention is {@link FlashAttention}: causal, scale 1/√D, grouped-query (query head h reads key/value head
 * h / g, no key or value copied), with no {@code [B, H, T, T]} tensor; per layer it saves only the row log-sum-exp
 * {@code [B, H, T]} and recomputes the probabilities tile by tile in the backward.
 *
 * <p>Embedding: {@link Embedding#forward} with a zero position table {@code [T, C]} (Llama has no learned
 * positions; the kernel adds wpe, so a zero table makes it a pure row gather). A tied model's LM head is the
 * embedding's view, so both gradients accumulate into it.
 *
 * <p>Backward, per layer in reverse: the MLP (down, {@link SwiGlu}, gate|up, post-attention RMSNorm with the
 * residual gradient fused), then attention (o_proj, FlashAttention's backward — which sums the g query heads'
 * gradients into each shared key/value head — RoPE's inverse rotation, Qwen3's q/k norms, the three projections
 * into one dx, the input RMSNorm).
 *
 * <p>Loading ({@link #load}): every tensor the config implies is checked by name and shape before any is read; a
 * missing or mis-shaped one fails naming it, and so does any tensor in the checkpoint that the model does not use
 * (except {@code rotary_emb.inv_freq} buffers, which are recomputed from the config, and {@code lm_head.weight} of
 * a tied model when it has the embedding's shape: the head is the embedding). Not thread-safe.
 */
public final class Llama extends CausalLmBase<Llama.State> {
    private final LlamaConfig config;
    /** Keys of the source config.json that {@link LlamaConfig#toJson} does not write (token ids, ...), kept on save. */
    private final Map<String, JsonNode> extraConfig;
    private final Tensor invFreq;
    private final Layer[] p;
    private final Tensor embed, lmHead, finalNorm;
    /** Each layer's module-name prefixes ("model.layers.3.self_attn.", "...mlp."), made once: LoRA looks modules up by name. */
    private final String[] attnPrefix, mlpPrefix;
    /** Gradient views, made on the first backward that trains the base (a frozen base has no gradient buffer). */
    private Layer[] g;
    private Tensor dEmbed, dLmHead, dFinalNorm;

    /** One decoder layer's parameter (or gradient) views; biases and q/k norms null when the model has none. */
    private record Layer(Tensor inNorm, Tensor q, Tensor k, Tensor v, Tensor qBias, Tensor kBias, Tensor vBias,
                         Tensor qNorm, Tensor kNorm, Tensor o, Tensor postNorm, Tensor gateUp, Tensor down) {
        static Layer of(LlamaConfig c, ParamLayout layout, Tensor flat, int l) {
            String p = "model.layers." + l + ".";
            boolean bias = c.attentionBias(), qk = c.qkNorm();
            long gate = layout.entry(p + "mlp.gate_proj.weight").offset();
            if (layout.entry(p + "mlp.up_proj.weight").offset() != gate + (long) c.intermediateSize() * c.hiddenSize())
                throw new IllegalStateException("gate_proj and up_proj are not adjacent in the layout");
            return new Layer(layout.view(flat, p + "input_layernorm.weight"),
                    layout.view(flat, p + "self_attn.q_proj.weight"), layout.view(flat, p + "self_attn.k_proj.weight"),
                    layout.view(flat, p + "self_attn.v_proj.weight"),
                    bias ? layout.view(flat, p + "self_attn.q_proj.bias") : null,
                    bias ? layout.view(flat, p + "self_attn.k_proj.bias") : null,
                    bias ? layout.view(flat, p + "self_attn.v_proj.bias") : null,
                    qk ? layout.view(flat, p + "self_attn.q_norm.weight") : null,
                    qk ? layout.view(flat, p + "self_attn.k_norm.weight") : null,
                    layout.view(flat, p + "self_attn.o_proj.weight"),
                    layout.view(flat, p + "post_attention_layernorm.weight"),
                    flat.view(gate, 2L * c.intermediateSize(), c.hiddenSize()),
                    layout.view(flat, p + "mlp.down_proj.weight"));
        }
    }

    /** A model with zero parameters (fill them with {@link #initialize}, {@link #load} or {@link #setParam}). */
    public Llama(LlamaConfig config, Device device) {
        this(config, device, Map.of());
    }

    private Llama(LlamaConfig config, Device device, Map<String, JsonNode> extraConfig) {
        super(device, new ParamLayout(expectedShapes(requireConfig(config))));
        this.config = config;
        this.extraConfig = Map.copyOf(extraConfig);
        try {
            invFreq = scope.of(device, config.invFreq());
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
        ParamLayout layout = layout();
        p = new Layer[config.numLayers()];
        for (int l = 0; l < p.length; l++) p[l] = Layer.of(config, layout, params(), l);
        attnPrefix = new String[p.length];
        mlpPrefix = new String[p.length];
        for (int l = 0; l < p.length; l++) {
            attnPrefix[l] = layerPrefix(l) + "self_attn.";
            mlpPrefix[l] = layerPrefix(l) + "mlp.";
        }
        embed = param("model.embed_tokens.weight");
        lmHead = config.tieWordEmbeddings() ? embed : param("lm_head.weight");
        finalNorm = param("model.norm.weight");
    }

    private void gradViews() {
        if (g != null) return;
        Layer[] v = new Layer[p.length];
        for (int l = 0; l < v.length; l++) v[l] = Layer.of(config, layout(), grads(), l);
        dEmbed = grad("model.embed_tokens.weight");
        dLmHead = config.tieWordEmbeddings() ? dEmbed : grad("lm_head.weight");
        dFinalNorm = grad("model.norm.weight");
        g = v;
    }

    private static LlamaConfig requireConfig(LlamaConfig config) {
        if (config == null) throw new IllegalArgumentException("config must not be null");
        return config;
    }

    /** A model initialised as Hugging Face's LlamaPreTrainedModel does (see {@link #initialize}) with {@code seed}. */
    public static Llama create(LlamaConfig config, Device device, long seed) {
        Llama m = new Llama(config, device);
        try {
            m.initialize(seed);
            return m;
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
    }

    /**
     * Hugging Face's {@code _init_weights} with {@code initializer_range} 0.02: every linear weight and the
     * embedding N(0, 0.02), biases 0, RMSNorm weights 1.
     */
    @Override
    public void initialize(long seed) {
        Random rnd = new Random(seed);
        params().zero(); // biases
        // tensor by tensor, so no host array of the whole model is made (a 7B model has more than 2^31 parameters)
        for (ParamLayout.Entry e : layout().entries()) {
            int n = Math.toIntExact(e.numel());
            float[] x;
            if (e.name().endsWith("norm.weight")) Arrays.fill(x = new float[n], 1f);
            else if (e.shape().length == 2) {
                x = new float[n];
                for (int i = 0; i < n; i++) x[i] = (float) (0.02 * rnd.nextGaussian());
            } else continue;
            params().view(e.offset(), n).copyFrom(x);
        }
    }

    @Override
    Llama copyBase() {
        Llama c = new Llama(config, device(), extraConfig);
        try {
            c.params().copyFrom(params());
            c.carryFiles(this);
            return c;
        } catch (RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    @Override
    public LlamaConfig config() {
        return config;
    }

    /** The RoPE frequencies {@code [headDim / 2]} on the model's device. */
    Tensor invFreq() {
        return invFreq;
    }

    @Override
    Tensor headWeight() {
        return lmHead;
    }

    @Override
    Tensor headGrad() {
        gradViews();
        return dLmHead;
    }

    @Override
    String family() {
        return config.modelType();
    }

    @Override
    String layerPrefix(int layer) {
        return "model.layers." + layer + ".";
    }

    /** q, k, v, o and gate, up, down of each layer. */
    @Override
    List<LoraAdapters.Site> linearModules() {
        List<LoraAdapters.Site> out = new ArrayList<>();
        long c = config.hiddenSize(), f = config.intermediateSize();
        long qd = (long) config.numHeads() * config.headDim(), kvd = (long) config.numKvHeads() * config.headDim();
        for (int l = 0; l < p.length; l++) {
            String a = attnPrefix[l], m = mlpPrefix[l];
            out.add(new LoraAdapters.Site(a + "q_proj", c, qd));
            out.add(new LoraAdapters.Site(a + "k_proj", c, kvd));
            out.add(new LoraAdapters.Site(a + "v_proj", c, kvd));
            out.add(new LoraAdapters.Site(a + "o_proj", qd, c));
            out.add(new LoraAdapters.Site(m + "gate_proj", c, f));
            out.add(new LoraAdapters.Site(m + "up_proj", c, f));
            out.add(new LoraAdapters.Site(m + "down_proj", f, c));
        }
        return out;
    }

    @Override
    public LlamaKvCache decoder(int batch, int maxT) {
        return new LlamaKvCache(this, batch, maxT);
    }

    // ------------------------------------------------------------------------------------------ checkpoints

    /**
     * Loads a Hugging Face folder: {@code config.json} ({@link LlamaConfig#read}) and the weights
     * ({@link SafeTensorsCheckpoint}: model.safetensors or shards; F32, F16 or BF16, widened exactly). Fails with
     * an {@link IOException} naming the tensor when one is missing, mis-shaped or not part of the model (see the
     * class comment).
     */
    public static Llama load(Path hfFolder, Device device) throws IOException {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        Path configFile = hfFolder.resolve("config.json");
        LlamaConfig config = LlamaConfig.read(configFile);
        Map<String, long[]> expected = expectedShapes(config);
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
            Llama m = new Llama(config, device, extraKeys(configFile, config));
            try {
                for (Map.Entry<String, long[]> e : expected.entrySet())
                    m.setParam(e.getKey(), ck.floats(e.getKey(), e.getValue()));
                m.carryFiles(hfFolder);
                m.setSource(hfFolder);
                return m;
            } catch (IOException | RuntimeException | Error e) {
                m.close();
                throw e;
            }
        }
    }

    /** The keys of {@code configFile} that {@code config.toJson} does not write itself. */
    private static Map<String, JsonNode> extraKeys(Path configFile, LlamaConfig config) throws IOException {
        JsonNode own = ConfigJson.JSON.readTree(config.toJson(Map.of()));
        Map<String, JsonNode> extra = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = ConfigJson.read(configFile).fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!own.has(e.getKey())) extra.put(e.getKey(), e.getValue());
        }
        return extra;
    }

    /**
     * Writes {@code dir} with {@link HfCheckpointWriter}: Hugging Face names (no lm_head when tied), the options'
     * dtype, config.json (this config plus the source config's other keys), the carried tokenizer files.
     */
    @Override
    public void saveBase(Path dir, SaveOptions options) throws IOException {
        HfCheckpointWriter w = options.writer(config.toJson(extraConfig), carriedFiles());
        for (ParamLayout.Entry e : layout().entries()) w.tensor(e.name(), param(e.name()).toFloatArray(), e.shape());
        w.write(dir);
    }

    /** Every tensor name the config implies, with its shape, in Hugging Face's naming and order. */
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
            m.put(p + "mlp.gate_proj.weight", new long[] {F, C});  // gate then up: one [2F, C] matrix (class comment)
            m.put(p + "mlp.up_proj.weight", new long[] {F, C});
            m.put(p + "mlp.down_proj.weight", new long[] {C, F});
        }
        m.put("model.norm.weight", new long[] {C});
        if (!c.tieWordEmbeddings()) m.put("lm_head.weight", new long[] {V, C});
        return m;
    }

    /** The bytes {@link #activationBytes()} will report after a forward on (B, T); Long.MAX_VALUE on overflow. */
    public static long activationBytes(LlamaConfig c, int b, int t, int chunkRows) {
        try {
            long bt = Math.multiplyExact((long) b, t), C = c.hiddenSize(), F = c.intermediateSize();
            long qd = (long) c.numHeads() * c.headDim(), kvd = (long) c.numKvHeads() * c.headDim();
            long qkPre = c.qkNorm() ? qd + kvd + c.numHeads() + c.numKvHeads() : 0;  // pre-norm q, k and their rstd
            // per layer: input, x1, hmid, x2 [BT, C]; 2 rstd; qh, ym [BT, qd]; kh, vh [BT, kvd]; gu [BT, 2F]; act [BT, F];
            // the attention's lse [BT, H] (fused attention: no [B, H, T, T])
            long perRow = 4 * C + 2 + 2 * qd + 2 * kvd + 3 * F + qkPre + c.numHeads();
            long layer = Math.multiplyExact(bt, perRow);
            // shared: final input and rstd; q/k/v, dq/dk/dv in both layouts; y, dy, dym; tmp, dres, dx; dgu, dact
            long shared = Math.multiplyExact(bt, C + 1 + 3 * (qd + 2 * kvd) + 3 * qd + 3 * C + 3 * F);
            shared = Math.addExact(shared, Math.multiplyExact((long) t, C));  // + zero positions
            shared = Math.addExact(shared, FlashAttention.workSize(b, c.numHeads(), c.numKvHeads(), t, c.headDim()));
            shared = Math.addExact(shared, Bias.workSize(bt, qd));
            long trunk = Math.multiplyExact(Math.addExact(Math.multiplyExact(layer, c.numLayers()), shared), 4L);
            return Math.addExact(trunk, headBytes(b, t, C, c.vocabSize(), chunkRows));
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    // ------------------------------------------------------------------------------------------ trunk

    @Override
    State newState(Buffers buf, int b, int t) {
        return new State(buf, config, b, t);
    }

    @Override
    boolean familySharesPrefixes() {
        return true;
    }

    @Override
    void trunkForward(State a, Tensor tokens, Tensor hidden) {
        dev.align4j.data.SharedPrefixBatch sp = sharedPrefix();
        if (sp != null) {
            sharedForward(a, tokens, hidden, sp);
            return;
        }
        long T = a.t;
        float eps = (float) config.rmsNormEps();
        Embedding.forward(tokens, embed, a.zeroPos, a.resid[0]);
        for (int l = 0; l < p.length; l++) {
            Saved o = a.layers[l];
            attentionInputs(l, a, eps, o.kh, o.vh);
            Rope.forward(o.qh, invFreq, 0, o.qh);
            Rope.forward(o.kh, invFreq, 0, o.kh);
            attentionBlockRest(l, a, eps, o.kh, o.vh, T, null);
        }
        RmsNorm.forward(a.resid[p.length], finalNorm, eps, hidden, a.rstdF);
    }

    @Override
    void trunkBackward(State a, Tensor tokens, Tensor dhidden) {
        if (sharedPrefix() != null) {
            sharedBackward(a, tokens, dhidden);
            return;
        }
        long T = a.t;
        boolean base = finalNormBackward(a, dhidden);
        for (int l = p.length - 1; l >= 0; l--) {
            Saved o = a.layers[l];
            attentionOutputBackward(l, a);
            FlashAttention.backward(o.qh, o.kh, o.vh, T, null, scale(), a.y, o.lse, a.dy, a.dqh, a.dkh, a.dvh, a.flashWork);
            Rope.backward(a.dqh, invFreq, 0, a.dqh);
            Rope.backward(a.dkh, invFreq, 0, a.dkh);
            attentionInputsBackward(l, a, a.dkh, a.dvh, true);
            layerGradsDone(l);
        }
        if (base) Embedding.backward(a.dres, tokens, dEmbed, null);
    }

    private float scale() {
        return (float) (1.0 / Math.sqrt(config.headDim()));
    }

    /**
     * Layer l's q, k, v from its input {@code a.resid[l]}: the input norm, the projections (and Qwen3's per-head q/k
     * norms), then the heads: q into {@code o.qh} [B, H, T, D], k and v into {@code kh}, {@code vh} [B, KV, T, D],
     * not yet rotated.
     */
    private void attentionInputs(int l, State a, float eps, Tensor kh, Tensor vh) {
        Layer w = p[l];
        Saved o = a.layers[l];
        RmsNorm.forward(a.resid[l], w.inNorm(), eps, o.x1, o.rstd1);
        Tensor q = o.qPre != null ? o.qPre : a.q, k = o.kPre != null ? o.kPre : a.k;
        String at = attnPrefix[l];
        linear(at + "q_proj", o.x1, w.q(), w.qBias(), q);
        linear(at + "k_proj", o.x1, w.k(), w.kBias(), k);
        linear(at + "v_proj", o.x1, w.v(), w.vBias(), a.v);
        if (w.qNorm() != null) {
            RmsNorm.forward(heads(q, a), w.qNorm(), eps, heads(a.q, a), o.qRstd);
            RmsNorm.forward(kvHeads(k, a), w.kNorm(), eps, kvHeads(a.k, a), o.kRstd);
        }
        AttentionPermute.mergeBackward(a.q, o.qh);  // [B, T, H·D] -> [B, H, T, D]
        AttentionPermute.mergeBackward(a.k, kh);
        AttentionPermute.mergeBackward(a.v, vh);
    }

    /**
     * Layer l after its rotated q ({@code o.qh}) and its keys and values {@code k}, {@code v} (tk slots, keyStart):
     * the attention (fused: no [B, H, T, T], GQA in place), o_proj, residual, post norm, SwiGLU MLP, residual into
     * {@code a.resid[l + 1]}.
     */
    private void attentionBlockRest(int l, State a, float eps, Tensor k, Tensor v, long tk, Tensor keyStart) {
        Layer w = p[l];
        Saved o = a.layers[l];
        String at = attnPrefix[l], mlp = mlpPrefix[l];
        FlashAttention.forward(o.qh, k, v, tk, keyStart, scale(), a.y, o.lse);
        AttentionPermute.merge(a.y, o.ym);          // [B, H, T, D] -> [B, T, H·D]
        linear(at + "o_proj", o.ym, w.o(), null, a.tmp);
        Bias.residual(a.resid[l], a.tmp, o.hmid);
        RmsNorm.forward(o.hmid, w.postNorm(), eps, o.x2, o.rstd2);
        Matmul.matmul(o.x2, w.gateUp(), o.gu, false, true, 1f, 0f);
        if (lora() != null) lora().forwardPair(mlp + "gate_proj", mlp + "up_proj", o.x2, o.gu, true);
        SwiGlu.forward(o.gu, o.act);
        linear(mlp + "down_proj", o.act, w.down(), null, a.tmp);
        Bias.residual(o.hmid, a.tmp, a.resid[l + 1]);
    }

    /**
     * Layer l's backward from {@code a.dres} (the gradient of its output) to the attention output's gradient
     * {@code a.dy} [B, H, T, D] and that output {@code a.y} again (from the saved merged copy): the MLP
     * (resid[l+1] = hmid + down(swiglu(gate|up(x2)))), the post norm, o_proj. {@code a.dres} then holds hmid's.
     */
    private void attentionOutputBackward(int l, State a) {
        boolean base = trainsBase();
        Layer w = p[l], dw = base ? g[l] : FROZEN;
        Saved o = a.layers[l];
        String at = attnPrefix[l], mlp = mlpPrefix[l];
        linearBackward(mlp + "down_proj", a.dres, o.act, w.down(), dw.down(), null, a.dact, 0f, a);
        SwiGlu.backward(o.gu, a.dact, a.dgu);
        if (base) Matmul.matmul(a.dgu, o.x2, dw.gateUp(), true, false, 1f, 1f);
        Matmul.matmul(a.dgu, w.gateUp(), a.dx, false, false, 1f, 0f);
        if (lora() != null) lora().backwardPair(mlp + "gate_proj", mlp + "up_proj", a.dgu, o.x2, a.dx);
        RmsNorm.backward(a.dx, o.hmid, w.postNorm(), o.rstd2, a.dres, true, dw.postNorm());
        // attention: hmid = resid[l] + o_proj(merge(softmax(q·kᵀ)·v))
        linearBackward(at + "o_proj", a.dres, o.ym, w.o(), dw.o(), null, a.dym, 0f, a);
        AttentionPermute.mergeBackward(a.dym, a.dy);  // dY [B, H, T, D]
        AttentionPermute.mergeBackward(o.ym, a.y);    // Y again, from the saved merged copy
    }

    /**
     * The backward of {@link #attentionInputs} from the un-rotated gradients {@code a.dqh} and {@code dkh},
     * {@code dvh}: heads merged, the q/k norms, the projections, the input norm into {@code a.dres} (added to it
     * with {@code accumulate}).
     */
    private void attentionInputsBackward(int l, State a, Tensor dkh, Tensor dvh, boolean accumulate) {
        Layer w = p[l], dw = trainsBase() ? g[l] : FROZEN;
        Saved o = a.layers[l];
        String at = attnPrefix[l];
        AttentionPermute.merge(a.dqh, a.dq);        // [B, H, T, D] -> [B, T, H·D]
        AttentionPermute.merge(dkh, a.dk);
        AttentionPermute.merge(dvh, a.dv);
        if (w.qNorm() != null) {
            RmsNorm.backward(heads(a.dq, a), heads(o.qPre, a), w.qNorm(), o.qRstd, heads(a.dq, a), false, dw.qNorm());
            RmsNorm.backward(kvHeads(a.dk, a), kvHeads(o.kPre, a), w.kNorm(), o.kRstd, kvHeads(a.dk, a), false,
                    dw.kNorm());
        }
        linearBackward(at + "q_proj", a.dq, o.x1, w.q(), dw.q(), dw.qBias(), a.dx, 0f, a);
        linearBackward(at + "k_proj", a.dk, o.x1, w.k(), dw.k(), dw.kBias(), a.dx, 1f, a);
        linearBackward(at + "v_proj", a.dv, o.x1, w.v(), dw.v(), dw.vBias(), a.dx, 1f, a);
        RmsNorm.backward(a.dx, a.resid[l], w.inNorm(), o.rstd1, a.dres, accumulate, dw.inNorm());
    }

    // ------------------------------------------------------------------------------------------ shared prefixes

    /** The Llama part of the last shared forward: pass 1's state and pass 2's attention scratch. */
    private record PrefixPass(PrefixTables t, State state, Tensor flashWork) {}

    private PrefixPass prefix;

    /**
     * A {@link dev.align4j.data.SharedPrefixBatch} in two passes (as {@link Gpt}'s, see {@link PrefixTables}): pass 1
     * runs the prefixes (right-padded, RoPE positions from 0), pass 2 the own rows with RoPE at each row's prefix
     * length (one rotation per run of rows with equal prefix length), attending to the keys and values gathered from
     * the tables. Pass 1's top layer stops after its k, v.
     */
    private void sharedForward(State a, Tensor tokens, Tensor hidden, dev.align4j.data.SharedPrefixBatch sp) {
        float eps = (float) config.rmsNormEps();
        long b = tokens.dim(0), tc = tokens.dim(1);
        Buffers buf = prefixBuffers();
        PrefixTables t = new PrefixTables(buf, sp, b, tc, config.numKvHeads(), config.headDim(), p.length);
        State a1 = t.tp == 0 ? null : new State(buf, config, (int) t.ng, (int) t.tp);
        long work = FlashAttention.workSize(b, config.numHeads(), config.numKvHeads(), t.s, config.headDim());
        prefix = new PrefixPass(t, a1, work == 0 ? null : buf.f32(work));
        if (a1 != null) {
            Embedding.forward(t.tokens, embed, a1.zeroPos, a1.resid[0]);
            for (int l = 0; l < p.length; l++) {
                Saved o = a1.layers[l];
                Tensor kp = t.prefixRows(t.kTable[l]), vp = t.prefixRows(t.vTable[l]);
                attentionInputs(l, a1, eps, kp, vp);
                Rope.forward(kp, invFreq, 0, kp);
                if (l == p.length - 1) break;  // pass 2 reads the prefix's keys and values only: the rest is unused
                Rope.forward(o.qh, invFreq, 0, o.qh);
                attentionBlockRest(l, a1, eps, kp, vp, t.tp, null);
            }
        }
        Embedding.forward(tokens, embed, a.zeroPos, a.resid[0]);
        for (int l = 0; l < p.length; l++) {
            Saved o = a.layers[l];
            Tensor kOwn = t.ownRows(t.kTable[l]);
            attentionInputs(l, a, eps, kOwn, t.ownRows(t.vTable[l]));
            rotateAtPrefixLengths(o.qh, t.prefixLength, false);
            rotateAtPrefixLengths(kOwn, t.prefixLength, false);
            t.gather(l);
            attentionBlockRest(l, a, eps, t.k[l], t.v[l], t.s, t.keyStart);
        }
        RmsNorm.forward(a.resid[p.length], finalNorm, eps, hidden, a.rstdF);
    }

    /**
     * Both backwards' start: the gradient views when the base trains, then the final norm's backward from
     * {@code dhidden} into {@code a.dres}. Returns whether the base trains.
     */
    private boolean finalNormBackward(State a, Tensor dhidden) {
        boolean base = trainsBase();
        if (base) gradViews();
        RmsNorm.backward(dhidden, a.resid[p.length], finalNorm, a.rstdF, a.dres, false, base ? dFinalNorm : null);
        return base;
    }

    private void sharedBackward(State a, Tensor tokens, Tensor dhidden) {
        PrefixTables t = prefix.t();
        // pass 2: as the plain backward, the attention's k, v gradients scattered into the tables
        boolean base = finalNormBackward(a, dhidden);
        for (int l = p.length - 1; l >= 0; l--) {
            Saved o = a.layers[l];
            attentionOutputBackward(l, a);
            FlashAttention.backward(o.qh, t.k[l], t.v[l], t.s, t.keyStart, scale(), a.y, o.lse, a.dy, a.dqh, t.dk, t.dv,
                    prefix.flashWork());
            t.scatter(l);
            Tensor dkOwn = t.ownRows(t.dkTable[l]);
            rotateAtPrefixLengths(a.dqh, t.prefixLength, true);
            rotateAtPrefixLengths(dkOwn, t.prefixLength, true);
            attentionInputsBackward(l, a, dkOwn, t.ownRows(t.dvTable[l]), true);
        }
        if (base) Embedding.backward(a.dres, tokens, dEmbed, null);
        // pass 1: no LM head; each layer's k, v gradient is its own attention's plus what pass 2 sent back
        State a1 = prefix.state();
        if (a1 == null) {
            for (int l = p.length - 1; l >= 0; l--) layerGradsDone(l);
            return;
        }
        for (int l = p.length - 1; l >= 0; l--) {
            Saved o = a1.layers[l];
            Tensor dkp = t.prefixRows(t.dkTable[l]), dvp = t.prefixRows(t.dvTable[l]);
            if (l == p.length - 1) {
                // the top layer's only consumer is pass 2's attention (its output and MLP never ran)
                a1.dqh.zero();
                a1.dkh.copyFrom(dkp);
                a1.dvh.copyFrom(dvp);
            } else {
                attentionOutputBackward(l, a1);
                FlashAttention.backward(o.qh, t.prefixRows(t.kTable[l]), t.prefixRows(t.vTable[l]), t.tp, null, scale(), a1.y,
                        o.lse, a1.dy, a1.dqh, a1.dkh, a1.dvh, a1.flashWork);
                Bias.residual(a1.dkh, dkp, a1.dkh);
                Bias.residual(a1.dvh, dvp, a1.dvh);
                Rope.backward(a1.dqh, invFreq, 0, a1.dqh);
            }
            Rope.backward(a1.dkh, invFreq, 0, a1.dkh);
            // the top layer's input gets no gradient from above: its input norm writes dres rather than adding to it
            attentionInputsBackward(l, a1, a1.dkh, a1.dvh, l != p.length - 1);
            layerGradsDone(l);
        }
        if (base) Embedding.backward(a1.dres, t.tokens, dEmbed, null);
    }

    /**
     * RoPE (or its transpose) on {@code x [B, heads, T, D]} with row q's token t at position {@code prefixLength[q] + t}:
     * one call per run of consecutive rows with equal prefix length (the kernel takes one start position).
     */
    private void rotateAtPrefixLengths(Tensor x, int[] prefixLength, boolean backward) {
        long b = x.dim(0), rowElems = x.numel() / b;
        for (int q0 = 0; q0 < b; ) {
            int q1 = q0 + 1;
            while (q1 < b && prefixLength[q1] == prefixLength[q0]) q1++;
            Tensor rows = x.view(q0 * rowElems, q1 - q0, x.dim(1), x.dim(2), x.dim(3));
            if (backward) Rope.backward(rows, invFreq, prefixLength[q0], rows);
            else Rope.forward(rows, invFreq, prefixLength[q0], rows);
            q0 = q1;
        }
    }

    /** The gradient views of a frozen base: none (the norms' backwards skip null ones, linearBackward all). */
    private static final Layer FROZEN = new Layer(null, null, null, null, null, null, null, null, null, null, null, null, null);

    /** {@code [B, T, H·D]} viewed as {@code [B, T, H, D]} (rows of one head, for the q norm). */
    private Tensor heads(Tensor x, State a) {
        return x.view(0, a.b, a.t, config.numHeads(), config.headDim());
    }

    private Tensor kvHeads(Tensor x, State a) {
        return x.view(0, a.b, a.t, config.numKvHeads(), config.headDim());
    }

    /** {@code out = x·Wᵀ (+ bias)} with {@code W [out, in]}, plus the LoRA update of {@code module} when it has one. */
    private void linear(String module, Tensor x, Tensor w, Tensor bias, Tensor out) {
        Matmul.matmul(x, w, out, false, true, 1f, 0f);
        if (bias != null) Bias.add(out, bias);
        if (lora() != null) lora().forward(module, x, out, true);
    }

    /**
     * For out = x·Wᵀ (+ b): dW += doutᵀ·x, db += Σ dout (not when the base is frozen: dw null), dx = dout·W + beta·dx,
     * then the LoRA backward of {@code module} (its A, B gradients and its share of dx).
     */
    private void linearBackward(String module, Tensor dout, Tensor x, Tensor w, Tensor dw, Tensor db, Tensor dx, float beta,
                                State a) {
        if (dw != null) {
            if (db != null) Bias.backward(dout, db, a.biasWork.view(0, Bias.workSize((long) a.b * a.t, dout.dim(-1))));
            Matmul.matmul(dout, x, dw, true, false, 1f, 1f);
        }
        Matmul.matmul(dout, w, dx, false, false, 1f, beta);
        if (lora() != null) lora().backward(module, dout, x, dx);
    }

    /** The trunk's buffers of one (B, T): per-layer saved state, plus scratch shared by the layers. */
    static final class State {
        final int b, t;
        final Saved[] layers;
        /** resid[l]: the residual stream entering layer l; resid[L] enters the final norm. */
        final Tensor[] resid;
        final Tensor rstdF, zeroPos, q, k, v, y, tmp, dres, dx, dym, dy, dqh, dkh, dvh, dq, dk, dv, dgu, dact, biasWork;
        /** FlashAttention's backward scratch with grouped heads (null when H = KV). */
        final Tensor flashWork;

        State(Buffers s, LlamaConfig c, int b, int t) {
            this.b = b;
            this.t = t;
            long C = c.hiddenSize(), F = c.intermediateSize(), H = c.numHeads(), KV = c.numKvHeads(), D = c.headDim();
            layers = new Saved[c.numLayers()];
            for (int l = 0; l < layers.length; l++) layers[l] = new Saved(s, c, b, t);
            resid = new Tensor[c.numLayers() + 1];
            resid[c.numLayers()] = s.f32(b, t, C);
            for (int l = 0; l < layers.length; l++) resid[l] = layers[l].input;
            rstdF = s.f32(b, t);
            zeroPos = s.f32(t, C).zero();
            q = s.f32(b, t, H * D);
            k = s.f32(b, t, KV * D);
            v = s.f32(b, t, KV * D);
            y = s.f32(b, H, t, D);
            tmp = s.f32(b, t, C);
            dres = s.f32(b, t, C);
            dx = s.f32(b, t, C);
            dym = s.f32(b, t, H * D);
            dy = s.f32(b, H, t, D);
            dqh = s.f32(b, H, t, D);
            dkh = s.f32(b, KV, t, D);
            dvh = s.f32(b, KV, t, D);
            dq = s.f32(b, t, H * D);
            dk = s.f32(b, t, KV * D);
            dv = s.f32(b, t, KV * D);
            dgu = s.f32(b, t, 2 * F);
            dact = s.f32(b, t, F);
            long work = FlashAttention.workSize(b, H, KV, t, D);
            flashWork = work == 0 ? null : s.f32(work);
            biasWork = s.f32(Bias.workSize((long) b * t, H * D));
        }
    }

    /** One layer's saved forward state. */
    private static final class Saved {
        final Tensor input, x1, rstd1, qPre, kPre, qRstd, kRstd, qh, kh, vh, lse, ym, hmid, x2, rstd2, gu, act;

        Saved(Buffers s, LlamaConfig c, int b, int t) {
            long C = c.hiddenSize(), F = c.intermediateSize(), H = c.numHeads(), KV = c.numKvHeads(), D = c.headDim();
            input = s.f32(b, t, C);
            x1 = s.f32(b, t, C);
            rstd1 = s.f32(b, t);
            boolean qk = c.qkNorm();
            qPre = qk ? s.f32(b, t, H * D) : null;
            kPre = qk ? s.f32(b, t, KV * D) : null;
            qRstd = qk ? s.f32(b, t, H) : null;
            kRstd = qk ? s.f32(b, t, KV) : null;
            qh = s.f32(b, H, t, D);
            kh = s.f32(b, KV, t, D);
            vh = s.f32(b, KV, t, D);
            lse = s.f32(b, H, t);
            ym = s.f32(b, t, H * D);
            hmid = s.f32(b, t, C);
            x2 = s.f32(b, t, C);
            rstd2 = s.f32(b, t);
            gu = s.f32(b, t, 2 * F);
            act = s.f32(b, t, F);
        }
    }

    /**
     * The logits {@code [B, T, V]} (F32, a new tensor of {@code scope}) of {@code tokens} (row-major {@code [B, T]},
     * each in {@code [0, V)}): a forward without targets, copied out of the model's buffer.
     */
    public Tensor logits(Scope scope, int[] tokens, int batch, int seqLen) {
        if (scope == null) throw new IllegalArgumentException("scope must not be null");
        forward(tokens, null, null, batch, seqLen);
        Tensor logits = logits();
        Tensor out = scope.empty(device(), DType.F32, logits.shape());
        try {
            return out.copyFrom(logits);
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }
}
