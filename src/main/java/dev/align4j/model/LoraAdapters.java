package dev.align4j.model;

import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Matmul;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * LoRA adapters on a {@link CausalLm}'s linear modules ({@link CausalLm#attachLora}): for each targeted module
 * {@code y = x·Wᵀ + b} the forward adds {@code s·(x·Aᵀ)·Bᵀ} — two more products on the unmerged weights, no merged
 * copy — and the backward gives {@code dB += s·dyᵀ·(x·Aᵀ)}, {@code dA += (s·dy·B)ᵀ·x} and adds {@code (s·dy·B)·A} to
 * {@code dx}. The base is frozen while adapters are attached: its backward computes only what flows to the inputs (no
 * weight gradients, no gradient buffer). Every step is an existing kernel ({@link Matmul}, and for Llama's fused
 * gate|up product {@link AttentionPermute}'s head (un)permute, which moves the two halves of each row into two
 * contiguous blocks, and {@link Bias#residual}), so there is no new device code.
 *
 * <p>Parameters: one flat F32 buffer ({@link #params()}) with a {@link ParamLayout} of the names
 * {@code <module>.lora_A.weight [r, in]} and {@code <module>.lora_B.weight [out, r]} (module: the base weight's name
 * without {@code .weight}, e.g. {@code h.0.attn.c_attn}); the gradients mirror it. Initialisation as PEFT's: A
 * Kaiming-uniform ({@code a = √5}: U(−1/√in, 1/√in)), B zero, so a fresh adapter changes nothing. With
 * {@link #setEnabled}{@code (false)} the model computes exactly what the base alone does (the same kernels, the
 * adapter's products skipped): the reference policy of DPO, PPO and GRPO without a second model.
 *
 * <p>Files: {@link PeftAdapter} (PEFT's {@code adapter_config.json} and {@code adapter_model.safetensors}). Not
 * thread-safe; belongs to its model.
 */
public final class LoraAdapters implements AutoCloseable {
    /** A targeted linear module: its name, its input and output widths. */
    public record Site(String module, long in, long out) {}

    private final LoraConfig config;
    private final float scaling;
    private final List<Site> sites;
    private final Map<String, Integer> index = new LinkedHashMap<>();
    private final ParamLayout layout;
    private final Scope scope = new Scope();
    private final Tensor params, grads;
    private final Tensor[] a, b, da, db;
    /** Scratch, grown on demand: the forward's saved x·Aᵀ per site, a decoder's x·Aᵀ, dxa, and the gate|up halves. */
    private Tensor saved, xaScratch, dxa, halves, merged;
    private long savedRows;
    private boolean enabled = true;
    /** Whether the adapters took part in the last saved forward (its backward must match it). */
    private boolean forwardEnabled;

    /**
     * Adapters on the modules of {@code linear} (every linear module of the model, in order) that {@code config}
     * targets, on {@code device}, A drawn from {@code seed}. A target that matches no module is an error naming it.
     */
    LoraAdapters(LoraConfig config, List<Site> linear, String family, dev.align4j.tensor.Device device, long seed) {
        if (config == null) throw new IllegalArgumentException("LoRA config must not be null");
        this.config = config;
        this.scaling = (float) config.scaling();
        List<String> targets = config.targets();
        for (String t : targets) {
            if (t.equals(LoraConfig.ALL_LINEAR)) continue;
            if (linear.stream().noneMatch(s -> LoraConfig.matches(t, s.module())))
                throw new IllegalArgumentException("LoRA target '" + t + "' matches no linear module of this " + family
                        + " model (its modules end in " + shortNames(linear) + ", or use " + LoraConfig.ALL_LINEAR + ")");
        }
        List<Site> chosen = new ArrayList<>();
        for (Site s : linear)
            if (targets.contains(LoraConfig.ALL_LINEAR) || targets.stream().anyMatch(t -> LoraConfig.matches(t, s.module())))
                chosen.add(s);
        if (chosen.isEmpty()) throw new IllegalArgumentException("LoRA targets " + targets + " select no module");
        this.sites = Collections.unmodifiableList(chosen);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (int i = 0; i < chosen.size(); i++) {
            Site s = chosen.get(i);
            index.put(s.module(), i);
            shapes.put(aName(s.module()), new long[] {config.r(), s.in()});
            shapes.put(bName(s.module()), new long[] {s.out(), config.r()});
        }
        this.layout = new ParamLayout(shapes);
        int n = chosen.size();
        a = new Tensor[n];
        b = new Tensor[n];
        da = new Tensor[n];
        db = new Tensor[n];
        try {
            params = scope.zeros(device, DType.F32, layout.size());
            grads = scope.zeros(device, DType.F32, layout.size());
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
        for (int i = 0; i < n; i++) {
            String m = chosen.get(i).module();
            a[i] = layout.view(params, aName(m));
            b[i] = layout.view(params, bName(m));
            da[i] = layout.view(grads, aName(m));
            db[i] = layout.view(grads, bName(m));
        }
        initialize(seed);
    }

    /** PEFT's initialisation: A ~ U(−1/√in, 1/√in) (Kaiming-uniform with a = √5), B = 0. */
    public void initialize(long seed) {
        Random rnd = new Random(seed);
        float[] all = new float[Math.toIntExact(layout.size())];
        for (Site s : sites) {
            ParamLayout.Entry e = layout.entry(aName(s.module()));
            double bound = 1.0 / Math.sqrt(s.in());
            for (long i = 0; i < e.numel(); i++) all[(int) (e.offset() + i)] = (float) ((2 * rnd.nextDouble() - 1) * bound);
        }
        params.copyFrom(all);
    }

    public LoraConfig config() {
        return config;
    }

    /** The scaling s that multiplies each update (alpha / r, or alpha / √r with rsLoRA). */
    public float scaling() {
        return scaling;
    }

    /** The targeted modules, in the model's order. */
    public List<Site> sites() {
        return sites;
    }

    public ParamLayout layout() {
        return layout;
    }

    /** The flat buffer of every A and B ({@link #layout()} order). */
    public Tensor params() {
        return params;
    }

    public Tensor grads() {
        return grads;
    }

    /** Whether {@code module} carries an adapter. */
    public boolean targets(String module) {
        return index.containsKey(module);
    }

    /** With {@code false}, forwards compute the base model alone, bit for bit; backwards then give no gradient. */
    public void setEnabled(boolean on) {
        enabled = on;
    }

    public boolean enabled() {
        return enabled;
    }

    /** Trainable parameters: r·(in + out) per targeted module. */
    public long size() {
        return layout.size();
    }

    // ------------------------------------------------------------------------------------------ forward

    /**
     * Starts a training forward over {@code rows} rows (B·T): the adapters' inputs {@code x·Aᵀ} of each module are kept
     * for the backward. Returns whether the adapters take part.
     */
    boolean beginForward(long rows) {
        forwardEnabled = enabled;
        if (!enabled) return false;
        saved = atLeast(saved, Math.multiplyExact(Math.multiplyExact(rows, (long) config.r()), sites.size()));
        savedRows = rows;
        return true;
    }

    /**
     * {@code out += s·(x·Aᵀ)·Bᵀ} for {@code module} when it carries an adapter and the adapters are on: x
     * {@code [rows, in]} (any leading dims), out {@code [rows, out]} holding the base's {@code x·Wᵀ + b}. With
     * {@code save} (a training forward, after {@link #beginForward}) x·Aᵀ is kept for {@link #backward}.
     */
    void forward(String module, Tensor x, Tensor out, boolean save) {
        Integer i = index.get(module);
        if (i == null || !enabled) return;
        Tensor xa = xa(i, x, save);
        Matmul.matmul(x, a[i], xa, false, true, 1f, 0f);
        Matmul.matmul(xa, b[i], out, false, true, scaling, 1f);
    }

    /**
     * The adapters of the two halves of a fused product {@code gu = x·[W_gate; W_up]ᵀ} ({@code [rows, 2F]}, gate's
     * columns first): each half's update is computed into its own contiguous block, the blocks interleaved back into
     * rows by the attention's head permute (two "heads" of width F) and added.
     */
    void forwardPair(String gate, String up, Tensor x, Tensor gu, boolean save) {
        Integer ig = index.get(gate), iu = index.get(up);
        if ((ig == null && iu == null) || !enabled) return;
        long rows = rows(x), f = gu.dim(-1) / 2;
        Tensor[] hb = halves(rows, f);
        Tensor h = hb[0];
        Integer[] ids = {ig, iu};
        for (int k = 0; k < 2; k++) {
            Tensor block = h.view(k * rows * f, rows, f);
            if (ids[k] == null) {
                block.zero();
                continue;
            }
            Tensor xa = xa(ids[k], x, save);
            Matmul.matmul(x, a[ids[k]], xa, false, true, 1f, 0f);
            Matmul.matmul(xa, b[ids[k]], block, false, true, scaling, 0f);
        }
        AttentionPermute.merge(h.view(0, 1, 2, rows, f), hb[1].view(0, 1, rows, 2 * f));
        Bias.residual(gu, hb[1].view(0, gu.shape()), gu);
    }

    // ------------------------------------------------------------------------------------------ backward

    /**
     * The backward of {@link #forward} with {@code save}: {@code dB += s·doutᵀ·xa}, {@code dA += (s·dout·B)ᵀ·x},
     * {@code dx += (s·dout·B)·A} ({@code dx} already holding the base's {@code dout·W}).
     */
    void backward(String module, Tensor dout, Tensor x, Tensor dx) {
        Integer i = index.get(module);
        if (i == null || !forwardEnabled) return;
        backwardSite(i, dout, x, dx);
    }

    /** The backward of {@link #forwardPair}: dgu's halves separated into blocks, each half's backward as {@link #backward}. */
    void backwardPair(String gate, String up, Tensor dgu, Tensor x, Tensor dx) {
        Integer ig = index.get(gate), iu = index.get(up);
        if ((ig == null && iu == null) || !forwardEnabled) return;
        long rows = rows(x), f = dgu.dim(-1) / 2;
        Tensor h = halves(rows, f)[0];
        AttentionPermute.mergeBackward(dgu.view(0, 1, rows, 2 * f), h.view(0, 1, 2, rows, f));
        Integer[] ids = {ig, iu};
        for (int k = 0; k < 2; k++)
            if (ids[k] != null) backwardSite(ids[k], h.view(k * rows * f, rows, f), x, dx);
    }

    private void backwardSite(int i, Tensor dout, Tensor x, Tensor dx) {
        long rows = rows(x);
        if (rows != savedRows) throw new IllegalStateException("LoRA backward over " + rows + " rows after a forward over " + savedRows);
        Tensor xa = saved.view((long) i * rows * config.r(), rows, config.r());
        dxa = atLeast(dxa, rows * config.r());
        Tensor d = dxa.view(0, rows, config.r());
        Matmul.matmul(dout, xa, db[i], true, false, scaling, 1f);
        Matmul.matmul(dout, b[i], d, false, false, scaling, 0f);
        Matmul.matmul(d, x, da[i], true, false, 1f, 1f);
        Matmul.matmul(d, a[i], dx, false, false, 1f, 1f);
    }

    // ------------------------------------------------------------------------------------------ merge

    /** {@code W += s·B·A} for every targeted module of {@code model} (whose adapters these are): the merged model. */
    void mergeInto(CausalLm model) {
        for (int i = 0; i < sites.size(); i++)
            Matmul.matmul(b[i], a[i], model.param(sites.get(i).module() + ".weight"), false, false, scaling, 1f);
    }

    // ------------------------------------------------------------------------------------------ scratch

    private static long rows(Tensor x) {
        return x.numel() / x.dim(-1);
    }

    /** Where x·Aᵀ of site i goes: the saved buffer (training forward) or the scratch (decoders). */
    private Tensor xa(int i, Tensor x, boolean save) {
        long rows = rows(x), r = config.r();
        if (save) {
            if (rows != savedRows) throw new IllegalStateException("LoRA forward over " + rows + " rows in a forward begun for " + savedRows);
            return saved.view(i * rows * r, rows, r);
        }
        xaScratch = atLeast(xaScratch, rows * r);
        return xaScratch.view(0, rows, r);
    }

    /** Two scratch buffers of {@code 2·rows·f}: the separated halves, and their interleaved rows. */
    private Tensor[] halves(long rows, long f) {
        halves = atLeast(halves, 2 * rows * f);
        merged = atLeast(merged, 2 * rows * f);
        return new Tensor[] {halves, merged};
    }

    /** {@code t} when it holds at least {@code n} floats, else a new buffer of n ({@code t} freed). */
    private Tensor atLeast(Tensor t, long n) {
        if (t != null && t.numel() >= n) return t;
        if (t != null) t.close();
        return scope.empty(params.device(), DType.F32, n);
    }

    /** Frees the adapters and their scratch. */
    @Override
    public void close() {
        scope.close();
    }

    private static List<String> shortNames(List<Site> linear) {
        List<String> out = new ArrayList<>();
        for (Site s : linear) {
            String n = s.module().substring(s.module().lastIndexOf('.') + 1);
            if (!out.contains(n)) out.add(n);
        }
        return out;
    }

    static String aName(String module) {
        return module + ".lora_A.weight";
    }

    static String bName(String module) {
        return module + ".lora_B.weight";
    }
}
