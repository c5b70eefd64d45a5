package dev.align4j.model;

import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Embedding;
import dev.align4j.kernels.FlashAttention;
import dev.align4j.kernels.Gelu;
import dev.align4j.kernels.LayerNorm;
import dev.align4j.kernels.LogProbs;
import dev.align4j.kernels.Matmul;
import dev.align4j.kernels.SeqReduce;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * A GPT-2 transformer (pre-LN blocks, tied input/output embeddings) on one device:
 * <pre>
 *   x = wte[tokens] + wpe[0..T)
 *   for each block: x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))      (attn: causal, nHead heads; mlp: c_fc, GELU, c_proj)
 *   logits = ln_f(x)·wteᵀ
 *   loss = −Σ m·log softmax(logits)[target] / Σ m                      (m: the loss mask, all ones when null)
 * </pre>
 * Parameters live in ONE F32 allocation ({@link #params()}) with named views ({@link #param(String)}, HF names),
 * linear weights stored {@code [out, in]} (see {@link GptParams}); the gradients ({@link #grads()}) mirror them.
 * Activations are allocated once per (B, T) and reused by every later call of that shape (llm.c's pattern).
 *
 * <p>Usage: {@link #forward} (returns the loss when targets are given; {@link #logits()} and the per-token
 * {@link #logProbs()} stay readable until the backward), then {@link #backward()} for the LM loss,
 * {@link #backward(double)} for gradient accumulation normalised by the total token count, or
 * {@link #backward(Tensor)} from any upstream ∂L/∂logp (PPO, DPO). Backwards ACCUMULATE into the gradients;
 * {@link #zeroGrad()} clears them. The backward overwrites the logits with their gradient. A new (B, T)
 * re-allocates the activations. Not thread-safe. Training: {@link GptAdamW}; checkpoints: {@link #save},
 * {@link #load} (Hugging Face layout).
 *
 * A value or reward head is a {@link ScalarHead} on {@link #hidden()}, its gradient fed back through
 * {@link #backward(Tensor, Tensor)}.
 *
 * <p>Generation: {@link KvCache} (incremental decoding) and {@link Generator} (batched sampling), which read this
 * model's parameters through {@link #param(String)}.
 *
 * <p>LM head in chunks ({@link #setLogitsChunkRows}): by default the forward materialises the logits
 * {@code [B, T, V]} in one buffer. With {@code setLogitsChunkRows(R)} it never does: the forward computes the
 * logits of R rows (of the B·T) at a time into an {@code [R, V]} buffer and reduces them at once to the per-token
 * log-prob and logsumexp; the backward recomputes each chunk's logits, turns them into their gradient in place
 * and accumulates {@code dhidden[rows] = dlogits·wte}, {@code dwte += dlogitsᵀ·hidden[rows]}. Same results (up
 * to summation order), one extra LM-head product per backward, and {@link #logits()} is unavailable. Memory:
 * {@link #activationBytes()}.
 *
 * <p>Not yet here (issue 3): saving a scalar head with the checkpoint.
 */
public final class Gpt implements AutoCloseable {
    private final GptConfig config;
    private final Device device;
    private final GptParams layout;
    private final Scope scope = new Scope();
    private final Tensor params;
    private final Tensor grads;
    private final Block[] p;
    private final Block[] g;
    private final Top pt;
    private final Top gt;
    private Activations acts;
    /** Rows of logits per LM-head chunk; 0 = all B·T rows at once into a [B, T, V] buffer. */
    private int logitsChunkRows;
    private boolean entropyOn;

    /** Views of one block's parameters (or gradients). */
    private record Block(Tensor ln1w, Tensor ln1b, Tensor qkvw, Tensor qkvb, Tensor projw, Tensor projb, Tensor ln2w,
                         Tensor ln2b, Tensor fcw, Tensor fcb, Tensor fcprojw, Tensor fcprojb) {
        static Block of(GptParams layout, Tensor flat, int i) {
            String h = "h." + i + ".";
            return new Block(layout.view(flat, h + "ln_1.weight"), layout.view(flat, h + "ln_1.bias"),
                    layout.view(flat, h + "attn.c_attn.weight"), layout.view(flat, h + "attn.c_attn.bias"),
                    layout.view(flat, h + "attn.c_proj.weight"), layout.view(flat, h + "attn.c_proj.bias"),
                    layout.view(flat, h + "ln_2.weight"), layout.view(flat, h + "ln_2.bias"),
                    layout.view(flat, h + "mlp.c_fc.weight"), layout.view(flat, h + "mlp.c_fc.bias"),
                    layout.view(flat, h + "mlp.c_proj.weight"), layout.view(flat, h + "mlp.c_proj.bias"));
        }
    }

    /** Views of the embeddings and the final LayerNorm. */
    private record Top(Tensor wte, Tensor wpe, Tensor lnfw, Tensor lnfb) {
        static Top of(GptParams layout, Tensor flat) {
            return new Top(layout.view(flat, "wte.weight"), layout.view(flat, "wpe.weight"),
                    layout.view(flat, "ln_f.weight"), layout.view(flat, "ln_f.bias"));
        }
    }

    /** A model with zero parameters (fill them with {@link #initialize}, {@link #load} or {@link #setParam}). */
    public Gpt(GptConfig config, Device device) {
        if (config == null) throw new IllegalArgumentException("config must not be null");
        if (device == null) throw new IllegalArgumentException("device must not be null");
        this.config = config;
        this.device = device;
        this.layout = new GptParams(config);
        try {
            this.params = scope.zeros(device, DType.F32, layout.size());
            this.grads = scope.zeros(device, DType.F32, layout.size());
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
        p = new Block[config.nLayer()];
        g = new Block[config.nLayer()];
        for (int i = 0; i < p.length; i++) {
            p[i] = Block.of(layout, params, i);
            g[i] = Block.of(layout, grads, i);
        }
        pt = Top.of(layout, params);
        gt = Top.of(layout, grads);
    }

    /** A model initialised as GPT-2 (see {@link #initialize}) with {@code seed}. */
    public static Gpt create(GptConfig config, Device device, long seed) {
        return newModel(config, device, m -> m.initialize(seed));
    }

    /** A new model set up by {@code setUp}, closed again (its device memory freed) when that fails. */
    private static Gpt newModel(GptConfig config, Device device, Consumer<Gpt> setUp) {
        Gpt m = new Gpt(config, device);
        try {
            setUp.accept(m);
            return m;
        } catch (RuntimeException | Error e) {
            m.close();
            throw e;
        }
    }

    /**
     * GPT-2's initialisation (as llm.c / nanoGPT): weights and embeddings N(0, 0.02), the two residual
     * projections (attn.c_proj, mlp.c_proj) N(0, 0.02/√(2·nLayer)), biases 0, LayerNorm weights 1 and biases 0.
     */
    public void initialize(long seed) {
        Random rnd = new Random(seed);
        float[] all = new float[Math.toIntExact(layout.size())];
        double residualStd = 0.02 / Math.sqrt(2.0 * config.nLayer());
        for (GptParams.Entry e : layout.entries()) {
            int off = (int) e.offset(), n = (int) e.numel();
            String name = e.name();
            if (name.contains("ln_") && name.endsWith(".weight")) {
                Arrays.fill(all, off, off + n, 1f);
            } else if (e.shape().length == 2) {
                double std = name.endsWith("c_proj.weight") ? residualStd : 0.02;
                for (int i = 0; i < n; i++) all[off + i] = (float) (std * rnd.nextGaussian());
            }
        }
        params.copyFrom(all);
    }

    /** A new model with a copy of these weights (same config and device); gradients zero, no activations. */
    public Gpt copy() {
        return newModel(config, device(), c -> c.params().copyFrom(params()));
    }

    public GptConfig config() {
        return config;
    }

    public Device device() {
        return device;
    }

    public GptParams layout() {
        return layout;
    }

    /** The flat parameter buffer (all parameters, in {@link GptParams} order). */
    public Tensor params() {
        return params;
    }

    /** The flat gradient buffer, same offsets as {@link #params()}. */
    public Tensor grads() {
        return grads;
    }

    /** The named parameter view (HF names; linear weights {@code [out, in]}). */
    public Tensor param(String name) {
        return layout.view(params, name);
    }

    /** The named gradient view. */
    public Tensor grad(String name) {
        return layout.view(grads, name);
    }

    /** Copies {@code values} into the named parameter (model layout, i.e. linear weights [out, in]). */
    public void setParam(String name, float[] values) {
        param(name).copyFrom(values);
    }

    /** Sets every gradient to zero. */
    public void zeroGrad() {
        grads.zero();
    }

    /**
     * Runs the LM head on {@code rows} rows of the B·T at a time, so that no {@code [B, T, V]} logits buffer is
     * allocated (only {@code [min(rows, B·T), V]}); 0 (the default) materialises the full logits, readable through
     * {@link #logits()}. Changing it drops the activations: call it between steps, not between a forward and
     * its backward.
     */
    public void setLogitsChunkRows(int rows) {
        if (rows < 0) throw new IllegalArgumentException("logitsChunkRows must be >= 0 (0 = no chunking), got " + rows);
        if (rows == logitsChunkRows) return;
        logitsChunkRows = rows;
        if (acts != null) acts.scope.close();
        acts = null;
    }

    /**
     * With {@code on}, each forward with targets also computes the entropy of the model's next-token distribution
     * at every masked position ({@link #entropy()}), and {@link #backward(Tensor, Tensor, Tensor)} accepts an
     * upstream {@code dentropy} (PPO's entropy bonus). Off by default: it costs one more pass over the logits.
     */
    public void setComputeEntropy(boolean on) {
        entropyOn = on;
    }

    /** Rows per LM-head chunk, 0 when the full logits are materialised (see {@link #setLogitsChunkRows}). */
    public int logitsChunkRows() {
        return logitsChunkRows;
    }

    /** Bytes held by the activations of the current (B, T) (0 before the first forward). */
    public long activationBytes() {
        if (acts == null) return 0;
        long n = 0;
        for (Tensor x : acts.all) n += x.byteSize();
        return n;
    }

    /**
     * The bytes {@link #activationBytes()} will report for a model of shape {@code c} after a forward on (B, T) with
     * {@code chunkRows} rows per LM-head chunk, computed without allocating (to check that a size fits before building
     * anything); {@link Long#MAX_VALUE} when the count overflows a long. It counts what {@code Activations} allocates.
     */
    public static long activationBytes(GptConfig c, int b, int t, int chunkRows) {
        try {
            long bt = Math.multiplyExact((long) b, t), btc = Math.multiplyExact(bt, c.nEmbd());
            long lse = Math.multiplyExact(bt, c.nHead()); // [B, NH, T]: fused attention keeps no [B, NH, T, T]
            long rows = chunkRows == 0 ? bt : Math.min(chunkRows, bt);
            // per block: 19 [B,T,C]-sized tensors (qkv 3, q/k/v 3, fch and its GELU 4 each, 7 more), 4 [B,T] statistics, lse
            long layer = Math.addExact(Math.addExact(Math.multiplyExact(19, btc), Math.multiplyExact(4, bt)), lse);
            // the rest: 17 [B,T,C]-sized (dqkv 3, dq/dk/dv 3, dfch 4, 7 more), 9 [B,T], 2 [B], logits, the bias work
            long top = Math.addExact(Math.multiplyExact(17, btc), Math.multiplyExact(9, bt)) + 2L * b;
            top = Math.addExact(top, Math.multiplyExact(rows, c.vocabSize()));
            top = Math.addExact(top, Bias.workSize(bt, 4L * c.nEmbd()));
            return Math.multiplyExact(Math.addExact(Math.multiplyExact(layer, c.nLayer()), top), 4L); // F32 and I32
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Elements of the largest activation tensor (0 before the first forward): for tests of the chunked head. */
    long largestActivationNumel() {
        long n = 0;
        if (acts != null) for (Tensor x : acts.all) n = Math.max(n, x.numel());
        return n;
    }

    // ------------------------------------------------------------------------------------------ forward

    /**
     * Forward on {@code tokens [B, T]} (int32 in [0, V), T ≤ nCtx). With {@code targets [B, T]} (int32, each in
     * [0, V) — also under a zero mask) it returns the mean loss over the mask: {@code −Σ m·logp / Σ m}, 0 when
     * the mask is all zero; {@code lossMask [B, T]} (0/1 floats, null = all ones). Without targets it returns
     * NaN and leaves only the logits. Logits: {@link #logits()} until the next backward.
     */
    public float forward(Tensor tokens, Tensor targets, Tensor lossMask) {
        if (tokens == null) throw new IllegalArgumentException("tokens must not be null");
        if (tokens.rank() != 2) throw new IllegalArgumentException("tokens must have shape [B, T], got " + tokens.describe());
        int b = Math.toIntExact(tokens.dim(0)), t = Math.toIntExact(tokens.dim(1));
        if (b < 1 || t < 1) throw new IllegalArgumentException("tokens: B and T must be >= 1, got " + tokens.describe());
        if (t > config.nCtx())
            throw new IllegalArgumentException("tokens: T = " + t + " exceeds the context nCtx = " + config.nCtx());
        if (targets != null && !Arrays.equals(targets.shape(), tokens.shape()))
            throw new IllegalArgumentException("targets must have the shape of tokens " + Arrays.toString(tokens.shape())
                    + ", got " + targets.describe());
        if (lossMask != null && targets == null)
            throw new IllegalArgumentException("lossMask given without targets");
        if (lossMask != null && !Arrays.equals(lossMask.shape(), tokens.shape()))
            throw new IllegalArgumentException("lossMask must have the shape of tokens " + Arrays.toString(tokens.shape())
                    + ", got " + lossMask.describe());
        Activations a = activations(b, t);
        a.tokens = tokens;
        a.targets = targets;
        a.mask = lossMask;
        a.hasLoss = false;
        a.hasForward = false;
        a.hiddenValid = false;
        a.logitsValid = false;
        a.hasEntropy = false;
        int NH = config.nHead();
        float scale = (float) (1.0 / Math.sqrt(config.headSize()));
        float eps = (float) config.layerNormEps();

        Embedding.forward(tokens, pt.wte(), pt.wpe(), a.encoded);
        Tensor x = a.encoded;
        for (int l = 0; l < p.length; l++) {
            Block w = p[l];
            Layer o = a.layers[l];
            LayerNorm.forward(x, w.ln1w(), w.ln1b(), eps, o.ln1, o.ln1Mean, o.ln1Rstd);
            linear(o.ln1, w.qkvw(), w.qkvb(), o.qkv);
            AttentionPermute.split(o.qkv, NH, o.q, o.k, o.v);
            FlashAttention.forward(o.q, o.k, o.v, t, null, scale, a.atty, o.lse);  // fused: no [B, NH, T, T] scores
            AttentionPermute.merge(a.atty, o.attMerged);
            linear(o.attMerged, w.projw(), w.projb(), a.tmpC);
            Bias.residual(x, a.tmpC, o.res2);
            LayerNorm.forward(o.res2, w.ln2w(), w.ln2b(), eps, o.ln2, o.ln2Mean, o.ln2Rstd);
            linear(o.ln2, w.fcw(), w.fcb(), o.fch);
            Gelu.forward(o.fch, o.fchGelu);
            linear(o.fchGelu, w.fcprojw(), w.fcprojb(), a.tmpC);
            Bias.residual(o.res2, a.tmpC, o.res3);
            x = o.res3;
        }
        LayerNorm.forward(x, pt.lnfw(), pt.lnfb(), eps, a.lnf, a.lnfMean, a.lnfRstd);
        if (a.chunkRows == 0) {
            Matmul.matmul(a.lnf, pt.wte(), a.logits, false, true, 1f, 0f);
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

    /** Forward on Java arrays (row-major [B, T]); {@code targets} and {@code lossMask} may be null. */
    public float forward(int[] tokens, int[] targets, float[] lossMask, int b, int t) {
        if (tokens == null) throw new IllegalArgumentException("tokens must not be null");
        if (b < 1 || t < 1) throw new IllegalArgumentException("B and T must be >= 1, got " + b + ", " + t);
        if (tokens.length != (long) b * t)
            throw new IllegalArgumentException("tokens has " + tokens.length + " values, expected B·T = " + (long) b * t);
        if (t > config.nCtx())
            throw new IllegalArgumentException("tokens: T = " + t + " exceeds the context nCtx = " + config.nCtx());
        Activations a = activations(b, t);
        a.hostTokens.copyFrom(tokens);
        if (targets != null) a.hostTargets.copyFrom(targets);
        if (lossMask != null) a.hostMask.copyFrom(lossMask);
        return forward(a.hostTokens, targets == null ? null : a.hostTargets, lossMask == null ? null : a.hostMask);
    }

    /**
     * The logits {@code [B, T, V]} of the last forward (a buffer of the model, overwritten by the backward).
     * Unavailable when the LM head runs in chunks ({@link #setLogitsChunkRows}).
     */
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
    public Tensor logProbs() {
        if (acts == null || !acts.hasLoss)
            throw new IllegalStateException("no log-probs: call forward with targets first (the backward overwrites them)");
        return acts.logp;
    }

    // ------------------------------------------------------------------------------------------ backward

    /**
     * The entropy {@code H = lse − Σ p·s} of the next-token distribution {@code [B, T]} at the masked positions of
     * the last forward with targets (0 where the mask is 0); needs {@link #setComputeEntropy}{@code (true)}. A buffer
     * of the model, overwritten by the backward.
     */
    public Tensor entropy() {
        if (acts == null || !acts.hasLoss || !acts.hasEntropy)
            throw new IllegalStateException("no entropy: call setComputeEntropy(true) and forward with targets first");
        return acts.entropy;
    }

    /** Backward of the last forward's mean loss: gradients ACCUMULATE into {@link #grads()}. */
    public void backward() {
        requireLoss();
        backward(acts.count);
    }

    /**
     * Backward of {@code −Σ m·logp / normalizer}: with gradient accumulation pass the total number of masked
     * tokens of all micro-batches, so the sum of their backwards is the gradient of the mean over all of them.
     */
    public void backward(double normalizer) {
        requireLoss();
        if (!(normalizer > 0) && acts.count > 0)
            throw new IllegalArgumentException("normalizer must be > 0, got " + normalizer);
        Activations a = acts;
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
    public void backward(Tensor dlogp, Tensor dhidden) {
        backward(dlogp, null, dhidden);
    }

    /**
     * Backward from upstream gradients of the per-token log-probs, of the per-token entropies ({@code dentropy
     * [B, T]} = ∂L/∂{@link #entropy()}; needs a forward with entropy on, and dlogp) and of the final hidden states;
     * any may be null except that dentropy needs dlogp (pass zeros for a pure entropy loss). Gradients ACCUMULATE.
     */
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
            long[] want = {acts.b, acts.t, config.nEmbd()};
            if (!Arrays.equals(dhidden.shape(), want))
                throw new IllegalArgumentException("dhidden must have shape " + Arrays.toString(want) + ", got " + dhidden.describe());
        }
        backwardFrom(dlogp, dentropy, dhidden);
    }

    /**
     * The final hidden states {@code ln_f(x) [B, T, C]} of the last forward (the input of the tied LM head, and of
     * a scalar head); a buffer of the model, valid until the next forward.
     */
    public Tensor hidden() {
        if (acts == null || !acts.hiddenValid) throw new IllegalStateException("no hidden states: call forward first");
        return acts.lnf;
    }

    private void backwardFrom(Tensor dlogp, Tensor dentropy, Tensor dhidden) {
        Activations a = acts;
        int NH = config.nHead();
        float scale = (float) (1.0 / Math.sqrt(config.headSize()));
        Tensor xLast = p.length == 0 ? a.encoded : a.layers[p.length - 1].res3;
        if (dlogp != null) {
            Tensor mask = a.mask != null ? a.mask : a.ones;
            if (a.chunkRows == 0) {
                // dlogits in place of the logits
                LogProbs.backward(a.logits, a.targets, mask, 1f, a.lse, dentropy == null ? null : a.entropy, dlogp, dentropy,
                        a.logits);
                a.logitsValid = false;
                Tensor dlogits = a.logits;
                Matmul.matmul(dlogits, pt.wte(), a.dln, false, false, 1f, 0f);
                Matmul.matmul(dlogits, a.lnf, gt.wte(), true, false, 1f, 1f);
            } else {
                // per chunk: recompute the logits (the parameters have not changed), dlogits in their place
                long[] want = {a.b, a.t};
                if (!Arrays.equals(dlogp.shape(), want))
                    throw new IllegalArgumentException("dlogp must have shape " + Arrays.toString(want) + ", got " + dlogp.describe());
                long n = (long) a.b * a.t, C = config.nEmbd();
                for (long r0 = 0; r0 < n; r0 += a.chunkRows) {
                    long r = Math.min(a.chunkRows, n - r0);
                    Tensor dlogits = chunkLogits(a, r0, r);
                    LogProbs.backward(dlogits, a.targets.view(r0, r), mask.view(r0, r), 1f, a.lse.view(r0, r),
                            dentropy == null ? null : a.entropy.view(r0, r), dlogp.view(r0, r),
                            dentropy == null ? null : dentropy.view(r0, r), dlogits);
                    Matmul.matmul(dlogits, pt.wte(), a.dln.view(r0 * C, r, C), false, false, 1f, 0f);
                    Matmul.matmul(dlogits, a.lnf.view(r0 * C, r, C), gt.wte(), true, false, 1f, 1f);
                }
            }
            if (dhidden != null) Bias.residual(a.dln, dhidden, a.dln);
        } else {
            a.dln.copyFrom(dhidden);
        }
        Tensor dres = a.dres;
        LayerNorm.backward(a.dln, xLast, pt.lnfw(), a.lnfMean, a.lnfRstd, dres, false, gt.lnfw(), gt.lnfb());

        for (int l = p.length - 1; l >= 0; l--) {
            Block w = p[l], dw = g[l];
            Layer o = a.layers[l];
            Tensor xIn = l == 0 ? a.encoded : a.layers[l - 1].res3;
            // MLP branch: res3 = res2 + c_proj(gelu(c_fc(ln_2(res2))))
            linearBackward(dres, o.fchGelu, w.fcprojw(), dw.fcprojw(), dw.fcprojb(), a.dfch, a);
            Gelu.backward(o.fch, a.dfch, a.dfch);
            linearBackward(a.dfch, o.ln2, w.fcw(), dw.fcw(), dw.fcb(), a.dln, a);
            LayerNorm.backward(a.dln, o.res2, w.ln2w(), o.ln2Mean, o.ln2Rstd, dres, true, dw.ln2w(), dw.ln2b());
            // attention branch: res2 = xIn + c_proj(merge(softmax(q·kᵀ)·v))
            linearBackward(dres, o.attMerged, w.projw(), dw.projw(), dw.projb(), a.dln, a);
            AttentionPermute.mergeBackward(a.dln, a.datty);                  // dY [B, NH, T, HS]
            AttentionPermute.mergeBackward(o.attMerged, a.atty);            // Y again, from the saved merged copy
            FlashAttention.backward(o.q, o.k, o.v, a.t, null, scale, a.atty, o.lse, a.datty, a.dq, a.dk, a.dv, null);
            AttentionPermute.splitBackward(a.dq, a.dk, a.dv, NH, a.dqkv);
            linearBackward(a.dqkv, o.ln1, w.qkvw(), dw.qkvw(), dw.qkvb(), a.dln, a);
            LayerNorm.backward(a.dln, xIn, w.ln1w(), o.ln1Mean, o.ln1Rstd, dres, true, dw.ln1w(), dw.ln1b());
        }
        Embedding.backward(dres, a.tokens, gt.wte(), gt.wpe());
        a.hasLoss = false;
        a.hasForward = false;
    }

    /** The logits of rows [r0, r0 + r) of the B·T, into the chunk buffer: hidden[rows]·wteᵀ, {@code [r, V]}. */
    private Tensor chunkLogits(Activations a, long r0, long r) {
        long C = config.nEmbd();
        Tensor logits = a.logits.view(0, r, config.vocabSize());
        Matmul.matmul(a.lnf.view(r0 * C, r, C), pt.wte(), logits, false, true, 1f, 0f);
        return logits;
    }

    private void requireLoss() {
        // (hasLoss implies hasForward: both are cleared by each forward and backward)
        if (acts == null || !acts.hasLoss)
            throw new IllegalStateException("backward needs a forward with targets since the last backward");
    }

    /** out = x·Wᵀ + bias, W [out, in]. */
    private static void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        Matmul.matmul(x, w, out, false, true, 1f, 0f);
        Bias.add(out, bias);
    }

    /** For out = x·Wᵀ + b: dW += doutᵀ·x, db += Σ dout, dx = dout·W (overwritten). */
    private static void linearBackward(Tensor dout, Tensor x, Tensor w, Tensor dw, Tensor db, Tensor dx, Activations a) {
        Bias.backward(dout, db, a.biasWork);
        Matmul.matmul(dout, x, dw, true, false, 1f, 1f);
        Matmul.matmul(dout, w, dx, false, false, 1f, 0f);
    }

    // ------------------------------------------------------------------------------------------ activations

    private Activations activations(int b, int t) {
        if (acts != null && acts.b == b && acts.t == t) return acts;  // (a new chunk size already dropped them)
        if (acts != null) {
            acts.scope.close();
            acts = null;
        }
        acts = new Activations(config, device, b, t, logitsChunkRows);
        return acts;
    }

    /** Every buffer of one (B, T): per-layer forward state, plus backward buffers shared by the layers. */
    private static final class Activations {
        final Scope scope = new Scope();
        /** Every tensor allocated here, for {@link #activationBytes()}. */
        final java.util.List<Tensor> all = new java.util.ArrayList<>();
        final int b, t;
        /** Rows per LM-head chunk (0: unchunked), clamped to B·T. */
        final int chunkRows;
        final Layer[] layers;
        /** The logits [B, T, V], or with a chunked LM head one chunk's [chunkRows, V]. */
        final Tensor logits;
        final Tensor encoded, lnf, lnfMean, lnfRstd, logp, lse, entropy, sums, counts, ones, atty, tmpC;
        final Tensor dres, dln, dqkv, dq, dk, dv, datty, dfch, biasWork;
        final Tensor hostTokens, hostTargets, hostMask;
        Tensor tokens, targets, mask;
        boolean hasLoss, hasForward, hiddenValid, logitsValid, hasEntropy;
        double count;

        Activations(GptConfig c, Device device, int b, int t, int chunkRows) {
            this.b = b;
            this.t = t;
            this.chunkRows = chunkRows == 0 ? 0 : Math.min(chunkRows, b * t);
            int C = c.nEmbd(), NH = c.nHead(), HS = c.headSize(), V = c.vocabSize();
            try {
                layers = new Layer[c.nLayer()];
                for (int l = 0; l < layers.length; l++) layers[l] = new Layer(this, device, b, t, C, NH, HS);
                encoded = f32(device, b, t, C);
                lnf = f32(device, b, t, C);
                lnfMean = f32(device, b, t);
                lnfRstd = f32(device, b, t);
                logits = this.chunkRows == 0 ? f32(device, b, t, V) : f32(device, this.chunkRows, V);
                logp = f32(device, b, t);
                lse = f32(device, b, t);
                entropy = f32(device, b, t);
                sums = f32(device, b);
                counts = f32(device, b);
                float[] one = new float[b * t];
                Arrays.fill(one, 1f);
                ones = f32(device, b, t).copyFrom(one);
                atty = f32(device, b, NH, t, HS);
                tmpC = f32(device, b, t, C);
                dres = f32(device, b, t, C);
                dln = f32(device, b, t, C);
                dqkv = f32(device, b, t, 3 * C);
                dq = f32(device, b, NH, t, HS);
                dk = f32(device, b, NH, t, HS);
                dv = f32(device, b, NH, t, HS);
                datty = f32(device, b, NH, t, HS);
                dfch = f32(device, b, t, 4 * C);
                biasWork = f32(device, Bias.workSize((long) b * t, 4L * C));
                hostTokens = alloc(device, DType.I32, b, t);
                hostTargets = alloc(device, DType.I32, b, t);
                hostMask = f32(device, b, t);
            } catch (RuntimeException | Error e) {
                scope.close();
                throw e;
            }
        }

        private Tensor f32(Device device, long... shape) {
            return alloc(device, DType.F32, shape);
        }

        private Tensor alloc(Device device, DType dtype, long... shape) {
            Tensor x = scope.empty(device, dtype, shape);
            all.add(x);
            return x;
        }
    }

    /** One block's saved forward state. */
    private static final class Layer {
        /** lse [B, NH, T]: the attention's row log-sum-exp, its only saved state besides q, k, v and the output. */
        final Tensor ln1, ln1Mean, ln1Rstd, qkv, q, k, v, lse, attMerged, res2, ln2, ln2Mean, ln2Rstd, fch, fchGelu, res3;

        Layer(Activations s, Device d, int b, int t, int C, int NH, int HS) {
            ln1 = s.f32(d, b, t, C);
            ln1Mean = s.f32(d, b, t);
            ln1Rstd = s.f32(d, b, t);
            qkv = s.f32(d, b, t, 3L * C);
            q = s.f32(d, b, NH, t, HS);
            k = s.f32(d, b, NH, t, HS);
            v = s.f32(d, b, NH, t, HS);
            lse = s.f32(d, b, NH, t);
            attMerged = s.f32(d, b, t, C);
            res2 = s.f32(d, b, t, C);
            ln2 = s.f32(d, b, t, C);
            ln2Mean = s.f32(d, b, t);
            ln2Rstd = s.f32(d, b, t);
            fch = s.f32(d, b, t, 4L * C);
            fchGelu = s.f32(d, b, t, 4L * C);
            res3 = s.f32(d, b, t, C);
        }
    }

    // ------------------------------------------------------------------------------------------ checkpoints

    /** Every parameter by HF name, in HF's layout (Conv1D weights [in, out]), copied to the host. */
    public Map<String, float[]> toHf() {
        Map<String, float[]> linear = new LinkedHashMap<>();
        for (GptParams.Entry e : layout.entries()) linear.put(e.name(), param(e.name()).toFloatArray());
        return HfGpt2Layout.linearToConv1d(config, linear);
    }

    /** Loads HF-layout parameters (e.g. {@link HfGpt2Checkpoint#params()}) into this model. */
    public void loadHf(Map<String, float[]> hfParams) {
        Map<String, float[]> linear = HfGpt2Layout.conv1dToLinear(config, hfParams);
        for (Map.Entry<String, float[]> e : linear.entrySet()) setParam(e.getKey(), e.getValue());
    }

    /** Writes {@code dir/model.safetensors} + {@code dir/config.json} in Hugging Face's GPT-2 layout. */
    public void save(Path dir) throws IOException {
        HfGpt2Layout.save(dir, config, toHf());
    }

    /** Loads a Hugging Face GPT-2 checkpoint directory onto {@code device}. */
    public static Gpt load(Path dir, Device device) throws IOException {
        HfGpt2Checkpoint ck = HfGpt2Layout.load(dir);
        return newModel(ck.config(), device, m -> m.loadHf(ck.params()));
    }

    /** Frees the parameters, gradients and activations. */
    @Override
    public void close() {
        if (acts != null) acts.scope.close();
        acts = null;
        scope.close();
    }
}
