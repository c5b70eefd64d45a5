package dev.align4j.model;

import dev.align4j.data.SharedPrefixBatch;
import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Embedding;
import dev.align4j.kernels.FlashAttention;
import dev.align4j.kernels.Gelu;
import dev.align4j.kernels.LayerNorm;
import dev.align4j.kernels.Matmul;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
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
 * linear weights stored {@code [out, in]} (see {@link ParamLayout}); the gradients ({@link #grads()}) mirror them.
 * Activations are allocated once per (B, T) and reused by every later call of that shape (llm.c's pattern).
 *
 * <p>Usage: {@link #forward} (returns the loss when targets are given; {@link #logits()} and the per-token
 * {@link #logProbs()} stay readable until the backward), then {@link #backward()} for the LM loss,
 * {@link #backward(double)} for gradient accumulation normalised by the total token count, or
 * {@link #backward(Tensor)} from any upstream ∂L/∂logp (PPO, DPO). Backwards ACCUMULATE into the gradients;
 * {@link #zeroGrad()} clears them. The backward overwrites the logits with their gradient. A new (B, T)
 * re-allocates the activations. Not thread-safe. Training: {@link LmAdamW}; checkpoints: {@link #save},
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
public final class Gpt extends CausalLmBase<Gpt.State> {
    private final GptConfig config;
    private final Block[] p;
    private final Top pt;
    /** Gradient views, made on the first backward that trains the base (a frozen base has no gradient buffer). */
    private Block[] g;
    private Top gt;

    /** Views of one block's parameters (or gradients). */
    private record Block(Tensor ln1w, Tensor ln1b, Tensor qkvw, Tensor qkvb, Tensor projw, Tensor projb, Tensor ln2w,
                         Tensor ln2b, Tensor fcw, Tensor fcb, Tensor fcprojw, Tensor fcprojb) {
        static Block of(ParamLayout layout, Tensor flat, int i) {
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
        static Top of(ParamLayout layout, Tensor flat) {
            return new Top(layout.view(flat, "wte.weight"), layout.view(flat, "wpe.weight"),
                    layout.view(flat, "ln_f.weight"), layout.view(flat, "ln_f.bias"));
        }
    }

    /** A model with zero parameters (fill them with {@link #initialize}, {@link #load} or {@link #setParam}). */
    public Gpt(GptConfig config, Device device) {
        super(device, ParamLayout.gpt2(requireConfig(config)));
        this.config = config;
        ParamLayout layout = layout();
        p = new Block[config.nLayer()];
        for (int i = 0; i < p.length; i++) p[i] = Block.of(layout, params(), i);
        pt = Top.of(layout, params());
    }

    private void gradViews() {
        if (g != null) return;
        Block[] v = new Block[p.length];
        for (int i = 0; i < v.length; i++) v[i] = Block.of(layout(), grads(), i);
        gt = Top.of(layout(), grads());
        g = v;
    }

    private static GptConfig requireConfig(GptConfig config) {
        if (config == null) throw new IllegalArgumentException("config must not be null");
        return config;
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
    @Override
    public void initialize(long seed) {
        Random rnd = new Random(seed);
        ParamLayout layout = layout();
        float[] all = new float[Math.toIntExact(layout.size())];
        double residualStd = 0.02 / Math.sqrt(2.0 * config.nLayer());
        for (ParamLayout.Entry e : layout.entries()) {
            int off = (int) e.offset(), n = (int) e.numel();
            String name = e.name();
            if (name.contains("ln_") && name.endsWith(".weight")) {
                Arrays.fill(all, off, off + n, 1f);
            } else if (e.shape().length == 2) {
                double std = name.endsWith("c_proj.weight") ? residualStd : 0.02;
                for (int i = 0; i < n; i++) all[off + i] = (float) (std * rnd.nextGaussian());
            }
        }
        params().copyFrom(all);
    }

    @Override
    Gpt copyBase() {
        return newModel(config, device(), c -> {
            c.params().copyFrom(params());
            c.carryFiles(this);
        });
    }

    @Override
    public GptConfig config() {
        return config;
    }

    @Override
    Tensor headWeight() {
        return pt.wte();
    }

    @Override
    Tensor headGrad() {
        gradViews();
        return gt.wte();
    }

    @Override
    String family() {
        return "GPT-2";
    }

    @Override
    String layerPrefix(int layer) {
        return "h." + layer + ".";
    }

    /** c_attn, attn.c_proj, c_fc and mlp.c_proj of each block (HF's Conv1D modules, here [out, in]). */
    @Override
    List<LoraAdapters.Site> linearModules() {
        List<LoraAdapters.Site> out = new ArrayList<>();
        long c = config.nEmbd();
        for (int i = 0; i < p.length; i++) {
            String h = layerPrefix(i);
            out.add(new LoraAdapters.Site(h + "attn.c_attn", c, 3 * c));
            out.add(new LoraAdapters.Site(h + "attn.c_proj", c, c));
            out.add(new LoraAdapters.Site(h + "mlp.c_fc", c, 4 * c));
            out.add(new LoraAdapters.Site(h + "mlp.c_proj", 4 * c, c));
        }
        return out;
    }

    /** A {@link KvCache} on this model. */
    @Override
    public KvCache decoder(int batch, int maxT) {
        return new KvCache(this, batch, maxT);
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
            // per block: 19 [B,T,C]-sized tensors (qkv 3, q/k/v 3, fch and its GELU 4 each, 7 more), 4 [B,T] statistics, lse
            long layer = Math.addExact(Math.addExact(Math.multiplyExact(19, btc), Math.multiplyExact(4, bt)), lse);
            // the rest of the trunk: 15 [B,T,C]-sized (dqkv 3, dq/dk/dv 3, dfch 4, 5 more), 2 [B,T], the bias work
            long top = Math.addExact(Math.multiplyExact(15, btc), Math.multiplyExact(2, bt));
            top = Math.addExact(top, Bias.workSize(bt, 4L * c.nEmbd()));
            long trunk = Math.multiplyExact(Math.addExact(Math.multiplyExact(layer, c.nLayer()), top), 4L); // F32
            return Math.addExact(trunk, headBytes(b, t, c.nEmbd(), c.vocabSize(), chunkRows));
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    // ------------------------------------------------------------------------------------------ trunk

    @Override
    boolean familySharesPrefixes() {
        return true;
    }

    @Override
    void trunkForward(State a, Tensor tokens, Tensor hidden) {
        SharedPrefixBatch sp = sharedPrefix();
        if (sp != null) {
            sharedForward(a, tokens, hidden, sp);
            return;
        }
        float scale = (float) (1.0 / Math.sqrt(config.headSize()));
        float eps = (float) config.layerNormEps();
        Embedding.forward(tokens, pt.wte(), pt.wpe(), a.encoded);
        Tensor x = a.encoded;
        for (int l = 0; l < p.length; l++) {
            Block w = p[l];
            Layer o = a.layers[l];
            attentionInputs(l, w, o, x, eps, o.k, o.v);
            attentionBlockRest(l, w, o, a, o.k, o.v, tokens.dim(1), null, scale, eps, x);
            x = o.res3;
        }
        LayerNorm.forward(x, pt.lnfw(), pt.lnfb(), eps, hidden, a.lnfMean, a.lnfRstd);
    }

    @Override
    void trunkBackward(State a, Tensor tokens, Tensor dln) {
        if (sharedPrefix() != null) {
            sharedBackward(a, tokens, dln);
            return;
        }
        float scale = (float) (1.0 / Math.sqrt(config.headSize()));
        Tensor dres = a.dres;
        boolean base = finalNormBackward(a, dln);
        for (int l = p.length - 1; l >= 0; l--) {
            Block w = p[l], dw = base ? g[l] : FROZEN;
            Layer o = a.layers[l];
            Tensor xIn = l == 0 ? a.encoded : a.layers[l - 1].res3;
            attentionOutputBackward(l, w, dw, o, a, dres, dln);
            FlashAttention.backward(o.q, o.k, o.v, tokens.dim(1), null, scale, a.atty, o.lse, a.datty, a.dq, a.dk, a.dv, null);
            attentionInputsBackward(l, w, dw, o, a, a.dk, a.dv, xIn, dres, true, dln);
            layerGradsDone(l);
        }
        if (base) Embedding.backward(dres, tokens, gt.wte(), gt.wpe());
    }

    // ------------------------------------------------------------------------------------------ shared prefixes

    /** The prefix pass of the last shared forward (see {@link #sharedForward}). */
    private PrefixPass prefix;

    /**
     * A {@link SharedPrefixBatch} in two passes of the same kernels. Pass 1 runs the NG prefixes {@code [NG, Tp]}
     * (right-padded, positions from 0) through every block, its keys and values written into one table per layer
     * and kind, {@code [NG·H·Tp + B·H·Tc, D]} rows, ahead of pass 2's. Pass 2 runs the own rows {@code [B, Tc]} at
     * positions from their prefix's length (wpe gathered per token, as the KV cache does) and, per layer, gathers
     * each row's keys and values {@code [B, H, Tp + Tc, D]} from the table — its prefix's left-padded to Tp, then
     * its own — with the embedding kernel as the gather, so the attention (key_start = Tp − prefix length, queries at
     * slots Tp..) sees exactly the full row's keys. Backward: pass 2 first (the gather's backward scatters the keys'
     * and values' gradients back into a table per layer, summing a group's rows in order), then pass 1, each layer's
     * attention gradient plus its prefix's share of the table. No kernel is new, and pass 1 has no LM head.
     */
    private void sharedForward(State a, Tensor tokens, Tensor hidden, SharedPrefixBatch sp) {
        float scale = (float) (1.0 / Math.sqrt(config.headSize()));
        float eps = (float) config.layerNormEps();
        PrefixPass pp = PrefixPass.of(prefixBuffers(), config, sp, tokens.dim(0), tokens.dim(1));
        prefix = pp;
        PrefixTables pt1 = pp.t();
        State a1 = pp.state();
        if (a1 != null) {
            Embedding.forward(pt1.tokens, pt.wte(), pt.wpe(), a1.encoded);
            Tensor x = a1.encoded;
            for (int l = 0; l < p.length; l++) {
                Block w = p[l];
                Layer o = a1.layers[l];
                attentionInputs(l, w, o, x, eps, pt1.prefixRows(pt1.kTable[l]), pt1.prefixRows(pt1.vTable[l]));
                if (l == p.length - 1) break;  // pass 2 reads the prefix's keys and values only: the rest is unused
                attentionBlockRest(l, w, o, a1, pt1.prefixRows(pt1.kTable[l]), pt1.prefixRows(pt1.vTable[l]), pt1.tp, null,
                        scale, eps, x);
                x = o.res3;
            }
        }
        // x = wte[tok] + wpe[pos]: two gathers against a zero table, one add (the same float sum as Embedding's)
        Embedding.forward(tokens, pt.wte(), pp.zeroC(), a.encoded);
        Embedding.forward(pp.pos(), pt.wpe(), pp.zeroC(), a.tmpC);
        Bias.residual(a.encoded, a.tmpC, a.encoded);
        Tensor x = a.encoded;
        for (int l = 0; l < p.length; l++) {
            Block w = p[l];
            Layer o = a.layers[l];
            attentionInputs(l, w, o, x, eps, pt1.ownRows(pt1.kTable[l]), pt1.ownRows(pt1.vTable[l]));
            pt1.gather(l);
            attentionBlockRest(l, w, o, a, pt1.k[l], pt1.v[l], pt1.s, pt1.keyStart, scale, eps, x);
            x = o.res3;
        }
        LayerNorm.forward(x, pt.lnfw(), pt.lnfb(), eps, hidden, a.lnfMean, a.lnfRstd);
    }

    /** A block's q, k, v: ln_1, c_attn, split into {@code o.q} and the given k, v {@code [B, NH, T, HS]}. */
    private void attentionInputs(int l, Block w, Layer o, Tensor x, float eps, Tensor k, Tensor v) {
        LayerNorm.forward(x, w.ln1w(), w.ln1b(), eps, o.ln1, o.ln1Mean, o.ln1Rstd);
        linear(l, "attn.c_attn", o.ln1, w.qkvw(), w.qkvb(), o.qkv);
        AttentionPermute.split(o.qkv, config.nHead(), o.q, k, v);
    }

    /**
     * The backward of {@link #attentionInputs} from {@code a.dq} and {@code dk}, {@code dv}: the c_attn and ln_1
     * gradients, and the input's into {@code dres} (added to it with {@code accumulate}); {@code dln} is scratch.
     */
    private void attentionInputsBackward(int l, Block w, Block dw, Layer o, State a, Tensor dk, Tensor dv, Tensor xIn, Tensor dres,
                                         boolean accumulate, Tensor dln) {
        AttentionPermute.splitBackward(a.dq, dk, dv, config.nHead(), a.dqkv);
        linearBackward(l, "attn.c_attn", a.dqkv, o.ln1, w.qkvw(), dw.qkvw(), dw.qkvb(), dln, a);
        LayerNorm.backward(dln, xIn, w.ln1w(), o.ln1Mean, o.ln1Rstd, dres, accumulate, dw.ln1w(), dw.ln1b());
    }

    /**
     * A block after its q, k, v: attention over k, v (tk slots, keyStart; fused, no [B, NH, T, T]), c_proj,
     * residual, MLP, residual.
     */
    private void attentionBlockRest(int l, Block w, Layer o, State a, Tensor k, Tensor v, long tk, Tensor keyStart, float scale,
                                    float eps, Tensor x) {
        FlashAttention.forward(o.q, k, v, tk, keyStart, scale, a.atty, o.lse);
        AttentionPermute.merge(a.atty, o.attMerged);
        linear(l, "attn.c_proj", o.attMerged, w.projw(), w.projb(), a.tmpC);
        Bias.residual(x, a.tmpC, o.res2);
        LayerNorm.forward(o.res2, w.ln2w(), w.ln2b(), eps, o.ln2, o.ln2Mean, o.ln2Rstd);
        linear(l, "mlp.c_fc", o.ln2, w.fcw(), w.fcb(), o.fch);
        Gelu.forward(o.fch, o.fchGelu);
        linear(l, "mlp.c_proj", o.fchGelu, w.fcprojw(), w.fcprojb(), a.tmpC);
        Bias.residual(o.res2, a.tmpC, o.res3);
    }

    /**
     * Both backwards' start: the gradient views when the base trains, then ln_f's backward from {@code dln} into
     * {@code a.dres}. Returns whether the base trains.
     */
    private boolean finalNormBackward(State a, Tensor dln) {
        boolean base = trainsBase();
        if (base) gradViews();
        Tensor xLast = p.length == 0 ? a.encoded : a.layers[p.length - 1].res3;
        LayerNorm.backward(dln, xLast, pt.lnfw(), a.lnfMean, a.lnfRstd, a.dres, false, base ? gt.lnfw() : null,
                base ? gt.lnfb() : null);
        return base;
    }

    private void sharedBackward(State a, Tensor tokens, Tensor dln) {
        PrefixPass pp = prefix;
        PrefixTables t = pp.t();
        float scale = (float) (1.0 / Math.sqrt(config.headSize()));
        // pass 2: as the plain backward, the attention's k, v gradients scattered into the tables
        Tensor dres = a.dres;
        boolean base = finalNormBackward(a, dln);
        for (int l = p.length - 1; l >= 0; l--) {
            Block w = p[l], dw = base ? g[l] : FROZEN;
            Layer o = a.layers[l];
            Tensor xIn = l == 0 ? a.encoded : a.layers[l - 1].res3;
            attentionOutputBackward(l, w, dw, o, a, dres, dln);
            FlashAttention.backward(o.q, t.k[l], t.v[l], t.s, t.keyStart, scale, a.atty, o.lse, a.datty, a.dq, t.dk, t.dv, null);
            t.scatter(l);
            attentionInputsBackward(l, w, dw, o, a, t.ownRows(t.dkTable[l]), t.ownRows(t.dvTable[l]), xIn, dres, true, dln);
        }
        if (base) {
            Embedding.backward(dres, tokens, gt.wte(), null);
            Embedding.backward(dres, pp.pos(), gt.wpe(), null);
        }
        // pass 1: no LM head; each layer's k, v gradient is its own attention's plus what pass 2 sent back
        State a1 = pp.state();
        if (a1 == null) {
            for (int l = p.length - 1; l >= 0; l--) layerGradsDone(l);
            return;
        }
        Tensor dres1 = a1.dres, dln1 = a1.tmpC;
        for (int l = p.length - 1; l >= 0; l--) {
            Block w = p[l], dw = base ? g[l] : FROZEN;
            Layer o = a1.layers[l];
            Tensor xIn = l == 0 ? a1.encoded : a1.layers[l - 1].res3;
            Tensor kp = t.prefixRows(t.kTable[l]), vp = t.prefixRows(t.vTable[l]);
            if (l == p.length - 1) {
                // the top layer's only consumer is pass 2's attention (its output and MLP never ran)
                a1.dq.zero();
                a1.dk.copyFrom(t.prefixRows(t.dkTable[l]));
                a1.dv.copyFrom(t.prefixRows(t.dvTable[l]));
            } else {
                attentionOutputBackward(l, w, dw, o, a1, dres1, dln1);
                FlashAttention.backward(o.q, kp, vp, t.tp, null, scale, a1.atty, o.lse, a1.datty, a1.dq, a1.dk, a1.dv, null);
                Bias.residual(a1.dk, t.prefixRows(t.dkTable[l]), a1.dk);
                Bias.residual(a1.dv, t.prefixRows(t.dvTable[l]), a1.dv);
            }
            // the top layer's input gets no gradient from above: ln_1 writes dres1 rather than adding to it
            attentionInputsBackward(l, w, dw, o, a1, a1.dk, a1.dv, xIn, dres1, l != p.length - 1, dln1);
            layerGradsDone(l);
        }
        if (base) Embedding.backward(dres1, t.tokens, gt.wte(), gt.wpe());
    }

    /**
     * A block's backward from dres (the gradient of its output) down to the attention's output gradient
     * {@code a.datty} [B, NH, T, HS] and its output {@code a.atty} again (from the saved merged copy): the MLP branch
     * (res3 = res2 + c_proj(gelu(c_fc(ln_2(res2))))), ln_2, then c_proj of res2 = xIn + c_proj(merge(attention)).
     * {@code dres} then holds the gradient of res2's residual path; {@code dln} is scratch.
     */
    private void attentionOutputBackward(int l, Block w, Block dw, Layer o, State a, Tensor dres, Tensor dln) {
        linearBackward(l, "mlp.c_proj", dres, o.fchGelu, w.fcprojw(), dw.fcprojw(), dw.fcprojb(), a.dfch, a);
        Gelu.backward(o.fch, a.dfch, a.dfch);
        linearBackward(l, "mlp.c_fc", a.dfch, o.ln2, w.fcw(), dw.fcw(), dw.fcb(), dln, a);
        LayerNorm.backward(dln, o.res2, w.ln2w(), o.ln2Mean, o.ln2Rstd, dres, true, dw.ln2w(), dw.ln2b());
        linearBackward(l, "attn.c_proj", dres, o.attMerged, w.projw(), dw.projw(), dw.projb(), dln, a);
        AttentionPermute.mergeBackward(dln, a.datty);
        AttentionPermute.mergeBackward(o.attMerged, a.atty);
    }

    /** GPT-2's part of a shared forward: pass 1's state, the own tokens' positions, a zero position table. */
    private record PrefixPass(PrefixTables t, State state, Tensor pos, Tensor zeroC) {
        static PrefixPass of(Buffers buf, GptConfig c, SharedPrefixBatch sp, long b, long tc) {
            PrefixTables t = new PrefixTables(buf, sp, b, tc, c.nHead(), c.headSize(), c.nLayer());
            State state = t.tp == 0 ? null : new State(buf, c, (int) t.ng, (int) t.tp);
            Tensor pos = buf.alloc(DType.I32, b, tc).copyFrom(t.positions(sp.rows().endIndex()));
            return new PrefixPass(t, state, pos, buf.f32(tc, c.nEmbd()).zero());
        }
    }

    /** The gradient views of a frozen base: none (the LayerNorm backward skips null ones, linearBackward all). */
    private static final Block FROZEN = new Block(null, null, null, null, null, null, null, null, null, null, null, null);

    /** out = x·Wᵀ + bias, W [out, in], plus block l's LoRA update of {@code module} when it has one. */
    private void linear(int l, String module, Tensor x, Tensor w, Tensor bias, Tensor out) {
        Matmul.matmul(x, w, out, false, true, 1f, 0f);
        Bias.add(out, bias);
        if (lora() != null) lora().forward(layerPrefix(l) + module, x, out, true);
    }

    /**
     * For out = x·Wᵀ + b: dW += doutᵀ·x, db += Σ dout (not when the base is frozen: dw null), dx = dout·W
     * (overwritten), then the LoRA backward of {@code module} (its A, B gradients and its share of dx).
     */
    private void linearBackward(int l, String module, Tensor dout, Tensor x, Tensor w, Tensor dw, Tensor db, Tensor dx,
                                State a) {
        if (dw != null) {
            Bias.backward(dout, db, a.biasWork);
            Matmul.matmul(dout, x, dw, true, false, 1f, 1f);
        }
        Matmul.matmul(dout, w, dx, false, false, 1f, 0f);
        if (lora() != null) lora().backward(layerPrefix(l) + module, dout, x, dx);
    }

    @Override
    State newState(Buffers buf, int b, int t) {
        return new State(buf, config, b, t);
    }

    /** The trunk's buffers of one (B, T): per-layer forward state, plus backward buffers shared by the layers. */
    static final class State {
        final Layer[] layers;
        final Tensor encoded, lnfMean, lnfRstd, atty, tmpC;
        final Tensor dres, dqkv, dq, dk, dv, datty, dfch, biasWork;

        State(Buffers s, GptConfig c, int b, int t) {
            int C = c.nEmbd(), NH = c.nHead(), HS = c.headSize();
            layers = new Layer[c.nLayer()];
            for (int l = 0; l < layers.length; l++) layers[l] = new Layer(s, b, t, C, NH, HS);
            encoded = s.f32(b, t, C);
            lnfMean = s.f32(b, t);
            lnfRstd = s.f32(b, t);
            atty = s.f32(b, NH, t, HS);
            tmpC = s.f32(b, t, C);
            dres = s.f32(b, t, C);
            dqkv = s.f32(b, t, 3L * C);
            dq = s.f32(b, NH, t, HS);
            dk = s.f32(b, NH, t, HS);
            dv = s.f32(b, NH, t, HS);
            datty = s.f32(b, NH, t, HS);
            dfch = s.f32(b, t, 4L * C);
            biasWork = s.f32(Bias.workSize((long) b * t, 4L * C));
        }
    }

    /** One block's saved forward state. */
    private static final class Layer {
        /** lse [B, NH, T]: the attention's row log-sum-exp, its only saved state besides q, k, v and the output. */
        final Tensor ln1, ln1Mean, ln1Rstd, qkv, q, k, v, lse, attMerged, res2, ln2, ln2Mean, ln2Rstd, fch, fchGelu, res3;

        Layer(Buffers s, int b, int t, int C, int NH, int HS) {
            ln1 = s.f32(b, t, C);
            ln1Mean = s.f32(b, t);
            ln1Rstd = s.f32(b, t);
            qkv = s.f32(b, t, 3L * C);
            q = s.f32(b, NH, t, HS);
            k = s.f32(b, NH, t, HS);
            v = s.f32(b, NH, t, HS);
            lse = s.f32(b, NH, t);
            attMerged = s.f32(b, t, C);
            res2 = s.f32(b, t, C);
            ln2 = s.f32(b, t, C);
            ln2Mean = s.f32(b, t);
            ln2Rstd = s.f32(b, t);
            fch = s.f32(b, t, 4L * C);
            fchGelu = s.f32(b, t, 4L * C);
            res3 = s.f32(b, t, C);
        }
    }

    // ------------------------------------------------------------------------------------------ checkpoints

    /** Every parameter by HF name, in HF's layout (Conv1D weights [in, out]), copied to the host. */
    public Map<String, float[]> toHf() {
        Map<String, float[]> linear = new LinkedHashMap<>();
        for (ParamLayout.Entry e : layout().entries()) linear.put(e.name(), param(e.name()).toFloatArray());
        return HfGpt2Layout.linearToConv1d(config, linear);
    }

    /** Loads HF-layout parameters (e.g. {@link HfGpt2Checkpoint#params()}) into this model. */
    public void loadHf(Map<String, float[]> hfParams) {
        Map<String, float[]> linear = HfGpt2Layout.conv1dToLinear(config, hfParams);
        for (Map.Entry<String, float[]> e : linear.entrySet()) setParam(e.getKey(), e.getValue());
    }

    /** Writes {@code dir/model.safetensors} + {@code dir/config.json} in Hugging Face's GPT-2 layout. */
    @Override
    public void saveBase(Path dir, SaveOptions options) throws IOException {
        HfGpt2Layout.save(dir, config, toHf(), options.writer(config.toJson(), carriedFiles()));
    }

    /** Loads a Hugging Face GPT-2 checkpoint directory onto {@code device}. */
    public static Gpt load(Path dir, Device device) throws IOException {
        HfGpt2Checkpoint ck = HfGpt2Layout.load(dir);
        Gpt m = newModel(ck.config(), device, g -> g.loadHf(ck.params()));
        try {
            m.carryFiles(dir);
            m.setSource(dir);
            return m;
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
    }
}
