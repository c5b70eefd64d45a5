package dev.align4j.model;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.SharedPrefixBatch;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.LogProbs;
import dev.align4j.kernels.Matmul;
import dev.align4j.kernels.SeqReduce;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What every {@link CausalLm} family shares: the flat parameter and gradient buffers with their named views, the
 * LM head (full or in chunks), the per-token log-probs, entropies and masked loss, and the backward from ∂L/∂logp,
 * ∂L/∂entropy and ∂L/∂hidden down to ∂L/∂hidden. A family supplies its trunk — tokens to the final normalised
 * hidden states {@code [B, T, C]} and back ({@link #trunkForward}, {@link #trunkBackward}) — with its own saved
 * state {@code S} per (B, T), and the LM head's weight {@code [V, C]}.
 *
 * <p>Activations are allocated once per (B, T) and reused by every later call of that shape (llm.c's pattern).
 */
abstract class CausalLmBase<S> implements CausalLm {
    private final Device device;
    private final ParamLayout layout;
    protected final Scope scope = new Scope();
    private final Tensor params;
    /** Allocated on first use: a model whose base is frozen (LoRA) never has one. */
    private Tensor grads;
    private LoraAdapters lora;
    /** The folder this model's weights were loaded from (absolute), or null: what LoRA adapters point at. */
    private Path source;
    private Activations<S> acts;
    /** The memory of the last closed decoder, lent to the next one ({@link KvDecoder.Memory}). */
    private KvDecoder.Memory decoderMemory;
    /** Rows of logits per LM-head chunk; 0 = all B·T rows at once into a [B, T, V] buffer. */
    private int logitsChunkRows;
    private boolean entropyOn;
    private Map<String, byte[]> carried = Map.of();
    /** The shared-prefix batch of the forward being set up ({@link #forward(SharedPrefixBatch)}), else null. */
    private SharedPrefixBatch pendingShared;
    /** The prefix pass's buffers (a family's own), reused across calls as the activations are. */
    private Buffers prefixBuf;

    /**
     * The files {@link #carriedFiles()} keeps from a model folder, when present: what transformers' tokenizer and
     * generation config read. Each at most {@link #MAX_CARRIED_BYTES}.
     */
    static final List<String> CARRIED_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json", "added_tokens.json", "vocab.json", "merges.txt", "tokenizer.model", "chat_template.jinja",
            "chat_template.json");
    static final long MAX_CARRIED_BYTES = 64L << 20;

    /** Zero parameters and gradients laid out by {@code layout} on {@code device}. */
    CausalLmBase(Device device, ParamLayout layout) {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        this.device = device;
        this.layout = layout;
        try {
            this.params = scope.zeros(device, DType.F32, layout.size());
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
    }

    /** The trunk's saved state for one (B, T), allocated from {@code buf}. */
    abstract S newState(Buffers buf, int b, int t);

    /** tokens {@code [B, T]} → the final normalised hidden states {@code hidden [B, T, C]}, saving what the backward needs. */
    abstract void trunkForward(S state, Tensor tokens, Tensor hidden);

    /** ∂L/∂hidden → the trunk's parameter gradients (accumulated); {@code dhidden} may be used as scratch. */
    abstract void trunkBackward(S state, Tensor tokens, Tensor dhidden);

    /** The LM head's weight {@code [V, C]} (the token embedding when tied) and its gradient view. */
    abstract Tensor headWeight();

    abstract Tensor headGrad();

    /** Every linear module of the trunk, in order (its weight's name without {@code .weight}): what LoRA can target. */
    abstract List<LoraAdapters.Site> linearModules();

    /** Whether the family's trunk runs {@link SharedPrefixBatch}es (a shared forward reads {@link #sharedPrefix()}). */
    boolean familySharesPrefixes() {
        return false;
    }

    /** The family's name in messages ("GPT-2", "Llama"). */
    abstract String family();

    /** The name prefix of layer {@code layer}'s parameters ("h.3.", "model.layers.3."): one contiguous range. */
    abstract String layerPrefix(int layer);

    /** Told after each layer's backward that its trainable gradients are complete (last layer first), or null. */
    private java.util.function.IntConsumer layerListener;

    @Override
    public void onLayerGradients(java.util.function.IntConsumer listener) {
        layerListener = listener;
    }

    void layerGradsDone(int layer) {
        if (layerListener != null) layerListener.accept(layer);
    }

    @Override
    public long[] layerGradRange(int layer) {
        String prefix = layerPrefix(layer);
        ParamLayout l = lora != null ? lora.layout() : layout;
        long start = -1, end = -1;
        for (ParamLayout.Entry e : l.entries()) {
            if (!e.name().startsWith(prefix)) continue;
            if (start < 0) start = e.offset();
            else if (e.offset() != end) throw new IllegalStateException("layer " + layer + "'s parameters are not contiguous");
            end = e.offset() + e.numel();
        }
        return start < 0 ? new long[] {0, 0} : new long[] {start, end};
    }

    @Override
    public LoraAdapters attachLora(LoraConfig config, long seed) {
        if (lora != null) throw new IllegalStateException("the model already has LoRA adapters (merge them first to add others)");
        LoraConfig c = config.targets().isEmpty() ? config.withTargets(LoraConfig.defaultTargets(config())) : config;
        lora = new LoraAdapters(c, linearModules(), family(), device, seed);
        dropActivations();
        return lora;
    }

    @Override
    public LoraAdapters lora() {
        return lora;
    }

    /** Whether backwards compute the base's gradients (false while LoRA adapters are attached: the base is frozen). */
    boolean trainsBase() {
        return lora == null;
    }

    @Override
    public Path source() {
        return source;
    }

    void setSource(Path dir) {
        source = dir == null ? null : dir.toAbsolutePath().normalize();
    }

    @Override
    public void save(Path dir, SaveOptions options) throws IOException {
        if (lora != null) PeftAdapter.save(this, dir, options);
        else saveBase(dir, options);
    }

    @Override
    public CausalLm copy() {
        CausalLmBase<?> c = copyBase();
        try {
            c.source = source;
            if (lora != null) {
                c.attachLora(lora.config(), 0).params().copyFrom(lora.params());
                c.lora.setEnabled(lora.enabled());
            }
            return c;
        } catch (RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    /** A new model with a copy of the base's weights and carried files (no adapters). */
    abstract CausalLmBase<?> copyBase();

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Map<String, byte[]> carriedFiles() {
        return carried;
    }

    /** Reads {@link #CARRIED_FILES} of {@code dir} (those present) into {@link #carriedFiles()}. */
    void carryFiles(Path dir) throws IOException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (String name : CARRIED_FILES) {
            Path f = dir.resolve(name);
            if (!Files.isRegularFile(f)) continue;
            if (Files.size(f) > MAX_CARRIED_BYTES)
                throw new IOException(f + " is " + Files.size(f) + " bytes, more than the " + MAX_CARRIED_BYTES + " a tokenizer file may have");
            m.put(name, Files.readAllBytes(f));
        }
        carried = Collections.unmodifiableMap(m);
    }

    /** The carried files of an adapter folder, over the base's (an adapter trained here carries its tokenizer). */
    void carryAdapterFiles(Path dir) throws IOException {
        Map<String, byte[]> base = carried;
        carryFiles(dir);
        Map<String, byte[]> m = new LinkedHashMap<>(base);
        m.putAll(carried);
        carried = Collections.unmodifiableMap(m);
    }

    /** Removes and frees the adapters (the base trains again). */
    void detachLora() {
        if (lora == null) return;
        lora.close();
        lora = null;
        dropActivations();
    }

    /** Shares {@code other}'s carried files (a copy of a model keeps its tokenizer). */
    void carryFiles(CausalLm other) {
        carried = other.carriedFiles();
    }

    @Override
    public ParamLayout layout() {
        return layout;
    }

    @Override
    public Tensor params() {
        return params;
    }

    @Override
    public Tensor grads() {
        if (grads == null) {
            if (scope.isClosed()) throw new IllegalStateException("the model is closed");
            grads = scope.zeros(device, DType.F32, layout.size());
        }
        return grads;
    }

    @Override
    public Tensor param(String name) {
        return layout.view(params, name);
    }

    @Override
    public Tensor grad(String name) {
        return layout.view(grads(), name);
    }

    @Override
    public void setParam(String name, float[] values) {
        param(name).copyFrom(values);
    }

    @Override
    public void zeroGrad() {
        if (grads != null) grads.zero();
        if (lora != null) lora.grads().zero();
    }

    /**
     * Runs the LM head on {@code rows} rows of the B·T at a time, so that no {@code [B, T, V]} logits buffer is
     * allocated (only {@code [min(rows, B·T), V]}); 0 (the default) materialises the full logits, readable through
     * {@link #logits()}. Changing it drops the activations: call it between steps, not between a forward and
     * its backward.
     */
    @Override
    public void setLogitsChunkRows(int rows) {
        if (rows < 0) throw new IllegalArgumentException("logitsChunkRows must be >= 0 (0 = no chunking), got " + rows);
        if (rows == logitsChunkRows) return;
        logitsChunkRows = rows;
        dropActivations();
    }

    /**
     * With {@code on}, each forward with targets also computes the entropy of the model's next-token distribution
     * at every masked position ({@link #entropy()}), and {@link #backward(Tensor, Tensor, Tensor)} accepts an
     * upstream {@code dentropy} (PPO's entropy bonus). Off by default: it costs one more pass over the logits.
     */
    @Override
    public void setComputeEntropy(boolean on) {
        entropyOn = on;
    }

    boolean computesEntropy() {
        return entropyOn;
    }

    @Override
    public int logitsChunkRows() {
        return logitsChunkRows;
    }

    @Override
    public long activationBytes() {
        if (acts == null) return 0;
        long n = 0;
        for (Tensor x : acts.buf.all) n += x.byteSize();
        if (prefixBuf != null) for (Tensor x : prefixBuf.all) n += x.byteSize();
        return n;
    }

    /**
     * The bytes of the head's activations for (B, T) with {@code chunkRows} rows per LM-head chunk: hidden and
     * dhidden {@code [B, T, C]}, seven {@code [B, T]} (log-probs, logsumexp, entropy, the all-ones mask, the host
     * tokens, targets and mask), two {@code [B]}, and the logits buffer. Throws ArithmeticException on overflow.
     */
    static long headBytes(long b, long t, long c, long v, int chunkRows) {
        long bt = Math.multiplyExact(b, t);
        long rows = chunkRows == 0 ? bt : Math.min(chunkRows, bt);
        long n = Math.addExact(Math.multiplyExact(2, Math.multiplyExact(bt, c)), Math.multiplyExact(7, bt)) + 2 * b;
        return Math.multiplyExact(Math.addExact(n, Math.multiplyExact(rows, v)), 4L);  // F32 and I32
    }

    /** Elements of the largest activation tensor (0 before the first forward): for tests of the chunked head. */
    long largestActivationNumel() {
        long n = 0;
        if (acts != null) for (Tensor x : acts.buf.all) n = Math.max(n, x.numel());
        return n;
    }

    // ------------------------------------------------------------------------------------------ forward

    /**
     * Forward on {@code tokens [B, T]} (int32 in [0, V), T ≤ nCtx). With {@code targets [B, T]} (int32, each in
     * [0, V) — also under a zero mask) it returns the mean loss over the mask: {@code −Σ m·logp / Σ m}, 0 when
     * the mask is all zero; {@code lossMask [B, T]} (0/1 floats, null = all ones). Without targets it returns
     * NaN and leaves only the logits. Logits: {@link #logits()} until the next backward.
     */
    @Override
    public float forward(Tensor tokens, Tensor targets, Tensor lossMask) {
        if (tokens == null) throw new IllegalArgumentException("tokens must not be null");
        if (tokens.rank() != 2) throw new IllegalArgumentException("tokens must have shape [B, T], got " + tokens.describe());
        int b = Math.toIntExact(tokens.dim(0)), t = Math.toIntExact(tokens.dim(1));
        if (b < 1 || t < 1) throw new IllegalArgumentException("tokens: B and T must be >= 1, got " + tokens.describe());
        int nCtx = config().nCtx();
        if (t > nCtx) throw new IllegalArgumentException("tokens: T = " + t + " exceeds the context nCtx = " + nCtx);
        if (targets != null && !Arrays.equals(targets.shape(), tokens.shape()))
            throw new IllegalArgumentException("targets must have the shape of tokens " + Arrays.toString(tokens.shape())
                    + ", got " + targets.describe());
        if (lossMask != null && targets == null)
            throw new IllegalArgumentException("lossMask given without targets");
        if (lossMask != null && !Arrays.equals(lossMask.shape(), tokens.shape()))
            throw new IllegalArgumentException("lossMask must have the shape of tokens " + Arrays.toString(tokens.shape())
                    + ", got " + lossMask.describe());
        Activations<S> a = activations(b, t);
        a.shared = pendingShared;
        pendingShared = null;
        a.tokens = tokens;
        a.targets = targets;
        a.mask = lossMask;
        a.hasLoss = false;
        a.hasForward = false;
        a.hiddenValid = false;
        a.logitsValid = false;
        a.hasEntropy = false;

        if (lora != null) lora.beginForward((long) b * t);
        trunkForward(a.state, tokens, a.hidden);
        if (a.chunkRows == 0) {
            Matmul.matmul(a.hidden, headWeight(), a.logits, false, true, 1f, 0f);
            a.logitsValid = true;
        }
        a.hasForward = true;
        a.hiddenValid = true;
        if (targets == null) return Float.NaN;

        Tensor mask = lossMask != null ? lossMask : a.ones;
        if (a.chunkRows == 0) {
            LogProbs.forward(a.logits, targets, mask, 1f, a.logp, entropyOn ? a.entropy : null, a.lse);
        } else {
            long n = (long) b * t;
            for (long r0 = 0; r0 < n; r0 += a.chunkRows) {
                long r = Math.min(a.chunkRows, n - r0);
                Tensor logits = chunkLogits(a, r0, r);
                LogProbs.forward(logits, targets.view(r0, r), mask.view(r0, r), 1f, a.logp.view(r0, r),
                        entropyOn ? a.entropy.view(r0, r) : null, a.lse.view(r0, r));
            }
        }
        a.hasEntropy = entropyOn;
        SeqReduce.forward(a.logp, mask, a.sums, a.counts);
        float[] sums = a.sums.toFloatArray(), counts = a.counts.toFloatArray();
        double s = 0, n = 0;
        for (int i = 0; i < b; i++) {
            s += sums[i];
            n += counts[i];
        }
        a.hasLoss = true;
        a.count = n;
        return n == 0 ? 0f : (float) (-s / n);
    }

    @Override
    public float forward(int[] tokens, int[] targets, float[] lossMask, int b, int t) {
        if (tokens == null) throw new IllegalArgumentException("tokens must not be null");
        if (b < 1 || t < 1) throw new IllegalArgumentException("B and T must be >= 1, got " + b + ", " + t);
        if (tokens.length != (long) b * t)
            throw new IllegalArgumentException("tokens has " + tokens.length + " values, expected B·T = " + (long) b * t);
        if (t > config().nCtx())
            throw new IllegalArgumentException("tokens: T = " + t + " exceeds the context nCtx = " + config().nCtx());
        Activations<S> a = activations(b, t);
        a.hostTokens.copyFrom(tokens);
        if (targets != null) a.hostTargets.copyFrom(targets);
        if (lossMask != null) a.hostMask.copyFrom(lossMask);
        return forward(a.hostTokens, targets == null ? null : a.hostTargets, lossMask == null ? null : a.hostMask);
    }

    @Override
    public boolean sharesPrefixes() {
        return familySharesPrefixes() && lora == null;
    }

    /** Whether a forward with the adapters switched off ({@link AdaptersOff}) may share prefixes. */
    boolean sharesPrefixesWithAdaptersOff() {
        return familySharesPrefixes();
    }

    @Override
    public float forward(SharedPrefixBatch batch) {
        return forwardShared(batch, false);
    }

    /** {@link #forward(SharedPrefixBatch)}; {@code adaptersOff}: called with the adapters switched off (no backward). */
    float forwardShared(SharedPrefixBatch batch, boolean adaptersOff) {
        if (batch == null) throw new IllegalArgumentException("batch must not be null");
        boolean can = adaptersOff ? sharesPrefixesWithAdaptersOff() && (lora == null || !lora.enabled()) : sharesPrefixes();
        if (!can)
            throw new UnsupportedOperationException(family() + (lora != null ? " with LoRA adapters" : "")
                    + " does not run shared-prefix batches (sharesPrefixes() is false): forward the full rows");
        SequenceBatch r = batch.rows();
        int nCtx = config().nCtx();
        for (int q = 0; q < r.b(); q++)
            if (batch.fullLength(q) > nCtx)
                throw new IllegalArgumentException("row " + q + " of the shared-prefix batch has " + batch.fullLength(q)
                        + " tokens, more than the context nCtx = " + nCtx);
        pendingShared = batch;
        try {
            return forward(r.inputs(), r.targets(), r.mask(), r.b(), r.t());
        } finally {
            pendingShared = null;
        }
    }

    /** The shared-prefix batch of the last forward, or null (a plain one): what a family's trunk reads. */
    SharedPrefixBatch sharedPrefix() {
        return acts == null ? null : acts.shared;
    }

    /** The prefix pass's buffers, reset for a new request sequence (see {@link Buffers}). */
    Buffers prefixBuffers() {
        if (scope.isClosed()) throw new IllegalStateException("the model is closed");
        if (prefixBuf == null) prefixBuf = new Buffers(device);
        return prefixBuf.reset();
    }

    /**
     * The logits {@code [B, T, V]} of the last forward (a buffer of the model, overwritten by the backward).
     * Unavailable when the LM head runs in chunks ({@link #setLogitsChunkRows}).
     */
    @Override
    public Tensor logits() {
        if (logitsChunkRows != 0)
            throw new IllegalStateException("no logits: the LM head runs in chunks of " + logitsChunkRows
                    + " rows (setLogitsChunkRows), so the [B, T, V] logits are never materialised; use logProbs()"
                    + " or hidden(), or setLogitsChunkRows(0)");
        if (acts == null || !acts.logitsValid)
            throw new IllegalStateException("no logits: call forward first (the backward overwrites them)");
        return acts.logits;
    }

    /**
     * The per-token log-probs {@code log softmax(logits)[target]} {@code [B, T]} of the last forward with targets
     * (0 where the mask is 0); a buffer of the model, overwritten by the backward.
     */
    @Override
    public Tensor logProbs() {
        if (acts == null || !acts.hasLoss)
            throw new IllegalStateException("no log-probs: call forward with targets first (the backward overwrites them)");
        return acts.logp;
    }

    /**
     * The entropy {@code H = lse − Σ p·s} of the next-token distribution {@code [B, T]} at the masked positions of
     * the last forward with targets (0 where the mask is 0); needs {@link #setComputeEntropy}{@code (true)}. A buffer
     * of the model, overwritten by the backward.
     */
    @Override
    public Tensor entropy() {
        if (acts == null || !acts.hasLoss || !acts.hasEntropy)
            throw new IllegalStateException("no entropy: call setComputeEntropy(true) and forward with targets first");
        return acts.entropy;
    }

    /**
     * The final hidden states {@code [B, T, C]} of the last forward (the input of the LM head, and of a scalar
     * head); a buffer of the model, valid until the next forward.
     */
    @Override
    public Tensor hidden() {
        if (acts == null || !acts.hiddenValid) throw new IllegalStateException("no hidden states: call forward first");
        return acts.hidden;
    }

    // ------------------------------------------------------------------------------------------ backward

    /** Backward of the last forward's mean loss: gradients ACCUMULATE into {@link #grads()}. */
    @Override
    public void backward() {
        requireLoss();
        backward(acts.count);
    }

    /**
     * Backward of {@code −Σ m·logp / normalizer}: with gradient accumulation pass the total number of masked
     * tokens of all micro-batches, so the sum of their backwards is the gradient of the mean over all of them.
     */
    @Override
    public void backward(double normalizer) {
        requireLoss();
        if (!(normalizer > 0) && acts.count > 0)
            throw new IllegalArgumentException("normalizer must be > 0, got " + normalizer);
        Activations<S> a = acts;
        // dlogp = −m / normalizer (into the log-prob buffer, no longer needed)
        float[] d = new float[a.b];
        Arrays.fill(d, a.count == 0 ? 0f : (float) (-1.0 / normalizer));
        a.sums.copyFrom(d);
        SeqReduce.backward(a.sums, a.mask != null ? a.mask : a.ones, a.logp);
        backwardFrom(a.logp, null, null);
    }

    /**
     * Backward from an upstream gradient {@code dlogp [B, T]} = ∂L/∂{@link #logProbs()} of any loss L of the last
     * forward's per-token log-probs (PPO's policy loss, DPO's sequence log-probs through {@code SeqReduce}, ...);
     * positions where the forward's mask is 0 get no gradient. Gradients ACCUMULATE. {@code dlogp} may be the
     * model's own {@link #logProbs()} buffer.
     */
    @Override
    public void backward(Tensor dlogp) {
        requireLoss();
        if (dlogp == null) throw new IllegalArgumentException("dlogp must not be null");
        backwardFrom(dlogp, null, null);
    }

    /**
     * Backward from upstream gradients of the per-token log-probs ({@code dlogp [B, T]}, needs a forward with
     * targets) and/or of the final hidden states ({@code dhidden [B, T, C]} = ∂L/∂{@link #hidden()}, e.g. from a
     * value or reward head); either may be null, not both. Gradients ACCUMULATE.
     */
    @Override
    public void backward(Tensor dlogp, Tensor dhidden) {
        backward(dlogp, null, dhidden);
    }

    /**
     * Backward from upstream gradients of the per-token log-probs, of the per-token entropies ({@code dentropy
     * [B, T]} = ∂L/∂{@link #entropy()}; needs a forward with entropy on, and dlogp) and of the final hidden states;
     * any may be null except that dentropy needs dlogp (pass zeros for a pure entropy loss). Gradients ACCUMULATE.
     */
    @Override
    public void backward(Tensor dlogp, Tensor dentropy, Tensor dhidden) {
        if (dentropy != null) {
            if (dlogp == null) throw new IllegalArgumentException("dentropy needs dlogp (pass zeros for an entropy-only loss)");
            if (acts == null || !acts.hasEntropy)
                throw new IllegalStateException("dentropy given but the last forward computed no entropy (setComputeEntropy(true))");
        }
        if (dlogp == null && dhidden == null) throw new IllegalArgumentException("dlogp and dhidden are both null");
        if (dlogp != null) requireLoss();
        else if (acts == null || !acts.hasForward)
            throw new IllegalStateException("backward needs a forward since the last backward");
        if (dhidden != null) {
            long[] want = {acts.b, acts.t, config().hiddenSize()};
            if (!Arrays.equals(dhidden.shape(), want))
                throw new IllegalArgumentException("dhidden must have shape " + Arrays.toString(want) + ", got " + dhidden.describe());
        }
        backwardFrom(dlogp, dentropy, dhidden);
    }

    private void backwardFrom(Tensor dlogp, Tensor dentropy, Tensor dhidden) {
        Activations<S> a = acts;
        if (dlogp != null) {
            Tensor mask = a.mask != null ? a.mask : a.ones;
            if (a.chunkRows == 0) {
                // dlogits in place of the logits
                LogProbs.backward(a.logits, a.targets, mask, 1f, a.lse, dentropy == null ? null : a.entropy, dlogp, dentropy,
                        a.logits);
                a.logitsValid = false;
                Tensor dlogits = a.logits;
                Matmul.matmul(dlogits, headWeight(), a.dhidden, false, false, 1f, 0f);
                if (trainsBase()) Matmul.matmul(dlogits, a.hidden, headGrad(), true, false, 1f, 1f);
            } else {
                // per chunk: recompute the logits (the parameters have not changed), dlogits in their place
                long[] want = {a.b, a.t};
                if (!Arrays.equals(dlogp.shape(), want))
                    throw new IllegalArgumentException("dlogp must have shape " + Arrays.toString(want) + ", got " + dlogp.describe());
                long n = (long) a.b * a.t, C = config().hiddenSize();
                for (long r0 = 0; r0 < n; r0 += a.chunkRows) {
                    long r = Math.min(a.chunkRows, n - r0);
                    Tensor dlogits = chunkLogits(a, r0, r);
                    LogProbs.backward(dlogits, a.targets.view(r0, r), mask.view(r0, r), 1f, a.lse.view(r0, r),
                            dentropy == null ? null : a.entropy.view(r0, r), dlogp.view(r0, r),
                            dentropy == null ? null : dentropy.view(r0, r), dlogits);
                    Matmul.matmul(dlogits, headWeight(), a.dhidden.view(r0 * C, r, C), false, false, 1f, 0f);
                    if (trainsBase()) Matmul.matmul(dlogits, a.hidden.view(r0 * C, r, C), headGrad(), true, false, 1f, 1f);
                }
            }
            if (dhidden != null) Bias.residual(a.dhidden, dhidden, a.dhidden);
        } else {
            a.dhidden.copyFrom(dhidden);
        }
        trunkBackward(a.state, a.tokens, a.dhidden);
        a.hasLoss = false;
        a.hasForward = false;
    }

    /** The logits of rows [r0, r0 + r) of the B·T, into the chunk buffer: hidden[rows]·headᵀ, {@code [r, V]}. */
    private Tensor chunkLogits(Activations<S> a, long r0, long r) {
        long C = config().hiddenSize();
        Tensor logits = a.logits.view(0, r, config().vocabSize());
        Matmul.matmul(a.hidden.view(r0 * C, r, C), headWeight(), logits, false, true, 1f, 0f);
        return logits;
    }

    private void requireLoss() {
        // (hasLoss implies hasForward: both are cleared by each forward and backward)
        if (acts == null || !acts.hasLoss)
            throw new IllegalStateException("backward needs a forward with targets since the last backward");
    }

    // ------------------------------------------------------------------------------------------ activations

    /** Frees the activations (the next forward allocates them again). */
    void dropActivations() {
        if (acts != null) acts.buf.scope.close();
        acts = null;
        if (prefixBuf != null) prefixBuf.scope.close();
        prefixBuf = null;
    }

    private Activations<S> activations(int b, int t) {
        if (scope.isClosed()) throw new IllegalStateException("the model is closed");
        if (acts != null && acts.b == b && acts.t == t) return acts;  // (a new chunk size already dropped them)
        // A new (B, T) re-uses the memory of the last one where it is large enough (Buffers): batches of varying
        // length (reward-model pairs, PPO rollouts) would otherwise free and map hundreds of MB every step, and the
        // page faults of fresh memory cost a quarter of a reward-model step on the CPU.
        Buffers buf = acts != null ? acts.buf.reset() : new Buffers(device);
        acts = null;
        try {
            acts = new Activations<>(buf, b, t, logitsChunkRows, config().hiddenSize(), config().vocabSize());
            acts.state = newState(buf, b, t);
        } catch (RuntimeException | Error e) {
            acts = null;
            buf.scope.close();
            throw e;
        }
        return acts;
    }

    /**
     * Device buffers of one (B, T), all freed together; counted by {@link #activationBytes()}. After {@link #reset},
     * the same sequence of requests (a model's buffers for another (B, T)) is served by views of the earlier
     * allocations where they are large enough, by new ones where they are not.
     */
    static final class Buffers {
        final Scope scope = new Scope();
        /** The current (B, T)'s tensors, in request order: views of {@link #storage}. */
        final List<Tensor> all = new ArrayList<>();
        /** The allocations, one per request of the sequence; each as large as the largest request it served. */
        private final List<Tensor> storage = new ArrayList<>();
        private final Device device;

        Buffers(Device device) {
            this.device = device;
        }

        /** Starts a new sequence of requests; the tensors handed out so far must no longer be used. */
        Buffers reset() {
            all.clear();
            return this;
        }

        Tensor f32(long... shape) {
            return alloc(DType.F32, shape);
        }

        Tensor alloc(DType dtype, long... shape) {
            int i = all.size();
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            Tensor owner = i < storage.size() ? storage.get(i) : null;
            if (owner == null || owner.dtype() != dtype || owner.numel() < n) {
                if (owner != null) owner.close();
                owner = scope.empty(device, dtype, n);
                if (i < storage.size()) storage.set(i, owner);
                else storage.add(owner);
            }
            Tensor x = owner.view(0, shape);
            all.add(x);
            return x;
        }
    }

    /** The head's buffers of one (B, T), and the trunk's state. */
    private static final class Activations<S> {
        final Buffers buf;
        final int b, t;
        /** Rows per LM-head chunk (0: unchunked), clamped to B·T. */
        final int chunkRows;
        /** The logits [B, T, V], or with a chunked LM head one chunk's [chunkRows, V]. */
        final Tensor logits;
        final Tensor hidden, dhidden, logp, lse, entropy, sums, counts, ones;
        final Tensor hostTokens, hostTargets, hostMask;
        S state;
        /** The last forward's shared-prefix batch, or null. */
        SharedPrefixBatch shared;
        Tensor tokens, targets, mask;
        boolean hasLoss, hasForward, hiddenValid, logitsValid, hasEntropy;
        double count;

        Activations(Buffers buf, int b, int t, int chunkRows, int c, int v) {
            this.buf = buf;
            this.b = b;
            this.t = t;
            this.chunkRows = chunkRows == 0 ? 0 : Math.min(chunkRows, b * t);
            hidden = buf.f32(b, t, c);
            dhidden = buf.f32(b, t, c);
            logits = this.chunkRows == 0 ? buf.f32(b, t, v) : buf.f32(this.chunkRows, v);
            logp = buf.f32(b, t);
            lse = buf.f32(b, t);
            entropy = buf.f32(b, t);
            sums = buf.f32(b);
            counts = buf.f32(b);
            float[] one = new float[b * t];
            Arrays.fill(one, 1f);
            ones = buf.f32(b, t).copyFrom(one);
            hostTokens = buf.alloc(DType.I32, b, t);
            hostTargets = buf.alloc(DType.I32, b, t);
            hostMask = buf.f32(b, t);
        }
    }

    /** Frees the parameters, gradients and activations. */
    @Override
    public void close() {
        dropActivations();
        if (lora != null) lora.close();
        synchronized (this) {
            if (decoderMemory != null) decoderMemory.close();
            decoderMemory = null;
        }
        scope.close();
    }

    /** Memory for a new decoder: the last closed decoder's when there is one (it is lent to one decoder at a time). */
    synchronized KvDecoder.Memory takeDecoderMemory() {
        if (scope.isClosed()) throw new IllegalStateException("the model is closed");
        KvDecoder.Memory m = decoderMemory;
        decoderMemory = null;
        return m != null ? m : new KvDecoder.Memory(device);
    }

    /** Keeps a closed decoder's memory for the next one, or frees it (the model is closed, or holds another's). */
    synchronized void keepDecoderMemory(KvDecoder.Memory m) {
        if (scope.isClosed() || decoderMemory != null) m.close();
        else decoderMemory = m;
    }
}
