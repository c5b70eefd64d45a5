package dev.align4j.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The tensors of a Hugging Face GPT-2 checkpoint ({@code GPT2LMHeadModel}, {@code model.safetensors} +
 * {@code config.json}) and their exact names and shapes, with C = nEmbd, V = vocabSize:
 *
 * <pre>
 * wte.weight [V, C]            wpe.weight [nCtx, C]
 * h.{i}.ln_1.weight, .bias [C]
 * h.{i}.attn.c_attn.weight [C, 3C]   .bias [3C]     (Conv1D: [in, out])
 * h.{i}.attn.c_proj.weight [C, C]    .bias [C]      (Conv1D)
 * h.{i}.ln_2.weight, .bias [C]
 * h.{i}.mlp.c_fc.weight [C, 4C]      .bias [4C]     (Conv1D)
 * h.{i}.mlp.c_proj.weight [4C, C]    .bias [C]      (Conv1D)
 * ln_f.weight, .bias [C]
 * </pre>
 *
 * <p>HF's Conv1D computes {@code y = x W + b} with W stored {@code [in, out]}, the transpose of
 * {@code nn.Linear}'s {@code [out, in]}. <b>Recommended model storage: {@code [out, in]} row-major, as
 * PyTorch Linear and llm.c</b>, converting with {@link #conv1dToLinear} on load and {@link #linearToConv1d} on
 * save. Reason: the tied LM head uses wte {@code [V, C]}, which is already {@code [out, in]}, so with that
 * convention all five matmuls of a block plus the head are the same {@code y = x W^T} GEMM (one code path
 * for forward and the two backward GEMMs); each output's weights are contiguous, which suits the
 * matrix-vector products of KV-cached decoding; and a PyTorch {@code nn.Linear} reference model (the golden
 * parity script) compares tensor for tensor. The transposes cost one pass over four matrices per layer at
 * load/save time, nothing per step.
 *
 * <p>Loading tolerates what real HF files contain: keys prefixed {@code transformer.} (as written by
 * {@code GPT2LMHeadModel}), the non-parameter buffers {@code h.{i}.attn.bias} / {@code h.{i}.attn.masked_bias}
 * (ignored), and {@code lm_head.weight}, which must equal {@code wte.weight} since the embeddings are tied. F16
 * and BF16 files widen exactly to F32. Every loaded tensor must be finite: a NaN or infinite weight is refused,
 * naming the tensor, rather than loading a model that computes NaN. Saving writes unprefixed keys, Conv1D layout, F32, metadata
 * {@code format = pt} (transformers refuses safetensors without it), so {@code from_pretrained(dir)} loads it.
 */
public final class HfGpt2Layout {
    private HfGpt2Layout() {}

    public static final String WEIGHTS_FILE = "model.safetensors";
    public static final String CONFIG_FILE = "config.json";
    /** Prefix of every key in checkpoints saved from {@code GPT2LMHeadModel}'s state dict. */
    public static final String PREFIX = "transformer.";

    private static final Pattern IGNORED_BUFFER = Pattern.compile("h\\.\\d+\\.attn\\.(bias|masked_bias)");

    /** One tensor of the layout. {@code conv1d}: a Conv1D weight, stored {@code [in, out]} = shape. */
    public record Param(String name, int[] shape, boolean conv1d) {
        public Param {
            shape = shape.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        public long[] longShape() {
            return Arrays.stream(shape).asLongStream().toArray();
        }

        public int numel() {
            int n = 1;
            for (int d : shape) n *= d;
            return n;
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape);
        }
    }

    /** Every parameter in HF's order (wte, wpe, h.0 ... h.{L-1}, ln_f); a model can pack them in this order. */
    public static List<Param> params(GptConfig c) {
        int C = c.nEmbd();
        List<Param> out = new ArrayList<>();
        out.add(new Param("wte.weight", new int[] {c.vocabSize(), C}, false));
        out.add(new Param("wpe.weight", new int[] {c.nCtx(), C}, false));
        for (int i = 0; i < c.nLayer(); i++) {
            String h = "h." + i + ".";
            out.add(new Param(h + "ln_1.weight", new int[] {C}, false));
            out.add(new Param(h + "ln_1.bias", new int[] {C}, false));
            out.add(new Param(h + "attn.c_attn.weight", new int[] {C, 3 * C}, true));
            out.add(new Param(h + "attn.c_attn.bias", new int[] {3 * C}, false));
            out.add(new Param(h + "attn.c_proj.weight", new int[] {C, C}, true));
            out.add(new Param(h + "attn.c_proj.bias", new int[] {C}, false));
            out.add(new Param(h + "ln_2.weight", new int[] {C}, false));
            out.add(new Param(h + "ln_2.bias", new int[] {C}, false));
            out.add(new Param(h + "mlp.c_fc.weight", new int[] {C, 4 * C}, true));
            out.add(new Param(h + "mlp.c_fc.bias", new int[] {4 * C}, false));
            out.add(new Param(h + "mlp.c_proj.weight", new int[] {4 * C, C}, true));
            out.add(new Param(h + "mlp.c_proj.bias", new int[] {C}, false));
        }
        out.add(new Param("ln_f.weight", new int[] {C}, false));
        out.add(new Param("ln_f.bias", new int[] {C}, false));
        return Collections.unmodifiableList(out);
    }

    /** Total number of parameters (GPT-2 small: 124,439,808). */
    public static long numParameters(GptConfig c) {
        long n = 0;
        for (Param p : params(c)) n += p.numel();
        return n;
    }

    /** A key of a file without the {@code transformer.} prefix. */
    public static String canonicalName(String key) {
        return key.startsWith(PREFIX) ? key.substring(PREFIX.length()) : key;
    }

    /** True for HF's attention-mask buffers, which are not parameters. */
    public static boolean isIgnoredBuffer(String canonicalName) {
        return IGNORED_BUFFER.matcher(canonicalName).matches();
    }

    // ------------------------------------------------------------------------------------------ load

    /** Loads {@code dir/config.json} and {@code dir/model.safetensors}, validated against the layout. */
    public static HfGpt2Checkpoint load(Path dir) throws IOException {
        Path config = dir.resolve(CONFIG_FILE);
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(config)) throw new IOException(dir + ": no " + CONFIG_FILE);
        if (!Files.isRegularFile(weights)) {
            String hint = Files.exists(dir.resolve("model.safetensors.index.json")) ? " (sharded checkpoints are not supported)"
                    : Files.exists(dir.resolve("pytorch_model.bin")) ? " (only pytorch_model.bin: convert it to safetensors)" : "";
            throw new IOException(dir + ": no " + WEIGHTS_FILE + hint);
        }
        return load(GptConfig.read(config), weights);
    }

    /** Loads the weights file {@code weights} for {@code config}, validated against the layout. */
    public static HfGpt2Checkpoint load(GptConfig config, Path weights) throws IOException {
        try (SafeTensorsFile f = SafeTensorsFile.open(weights)) {
            Map<String, String> keyOf = new HashMap<>(); // canonical name -> key in the file
            for (String key : f.names()) {
                String prev = keyOf.put(canonicalName(key), key);
                if (prev != null)
                    throw new SafeTensorsException(weights + ": tensor '" + key + "' and tensor '" + prev + "' are the same parameter");
            }
            Map<String, float[]> params = new LinkedHashMap<>();
            for (Param p : params(config)) {
                String key = keyOf.remove(p.name());
                if (key == null)
                    throw new SafeTensorsException(weights + ": missing tensor '" + p.name() + "' (expected shape "
                            + Arrays.toString(p.shape()) + " for " + config + ")");
                params.put(p.name(), f.finiteFloats(key, p.longShape()));
            }
            Map<String, float[]> extras = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : new java.util.TreeMap<>(keyOf).entrySet()) {
                String name = e.getKey(), key = e.getValue();
                if (isIgnoredBuffer(name)) continue;
                if (name.equals("lm_head.weight")) {
                    float[] head = f.finiteFloats(key, config.vocabSize(), config.nEmbd());
                    if (!Arrays.equals(head, params.get("wte.weight")))
                        throw new SafeTensorsException(weights + ": tensor '" + key
                                + "' differs from wte.weight; only tied output embeddings are supported");
                    continue;
                }
                if (!f.info(key).dtype().isExactFloat())
                    throw new SafeTensorsException(weights + ": unexpected tensor '" + key + "' of dtype "
                            + f.info(key).dtype() + " (not part of the GPT-2 layout)");
                extras.put(key, f.finiteFloats(key, f.info(key).shape()));
            }
            return new HfGpt2Checkpoint(config, params, extras);
        }
    }

    // ------------------------------------------------------------------------------------------ save

    /**
     * Writes {@code dir/model.safetensors} then {@code dir/config.json}, each atomically (the directory is
     * created if needed). {@code params} must hold exactly the layout's tensors in HF (Conv1D) layout.
     */
    public static void save(Path dir, GptConfig config, Map<String, float[]> params) throws IOException {
        save(dir, config, params, Map.of());
    }

    /** As {@link #save(Path, GptConfig, Map)}, with extra {@code __metadata__} entries. */
    public static void save(Path dir, GptConfig config, Map<String, float[]> params, Map<String, String> metadata)
            throws IOException {
        SaveOptions o = SaveOptions.DEFAULT;
        for (Map.Entry<String, String> m : metadata.entrySet()) o = o.withMetadata(m.getKey(), m.getValue());
        save(dir, config, params, o.writer(config.toJson(), Map.of()));
    }

    /**
     * Writes {@code params} (HF layout, exactly the layout's tensors) with {@code writer} (config, dtype, metadata
     * and extra files set): the folder appears as a whole ({@link HfCheckpointWriter}).
     */
    static void save(Path dir, GptConfig config, Map<String, float[]> params, HfCheckpointWriter writer) throws IOException {
        checkParams(config, params);
        for (Param p : params(config)) writer.tensor(p.name(), params.get(p.name()), p.longShape());
        writer.write(dir);
    }

    /** {@code params} holds exactly the layout's names with the right lengths; otherwise names the offender. */
    public static void checkParams(GptConfig config, Map<String, float[]> params) {
        List<Param> layout = params(config);
        for (Param p : layout) {
            float[] a = params.get(p.name());
            if (a == null) throw new IllegalArgumentException("params: missing '" + p.name() + "' " + Arrays.toString(p.shape()));
            if (a.length != p.numel())
                throw new IllegalArgumentException("params: '" + p.name() + "' has " + a.length + " elements, expected "
                        + p.numel() + " " + Arrays.toString(p.shape()));
        }
        if (params.size() != layout.size()) {
            Map<String, Boolean> known = new HashMap<>();
            for (Param p : layout) known.put(p.name(), true);
            for (String k : params.keySet())
                if (!known.containsKey(k)) throw new IllegalArgumentException("params: unexpected '" + k + "' (not in the GPT-2 layout)");
        }
    }

    // ------------------------------------------------------------------------------------------ Conv1D

    /** Row-major {@code a [rows, cols]} transposed to {@code [cols, rows]}. */
    public static float[] transpose(float[] a, int rows, int cols) {
        if ((long) rows * cols != a.length)
            throw new IllegalArgumentException("transpose: " + a.length + " elements is not " + rows + " x " + cols);
        float[] t = new float[a.length];
        final int B = 32; // tiles keep both sides cache-resident for the large (C x 4C) matrices
        for (int r0 = 0; r0 < rows; r0 += B)
            for (int c0 = 0; c0 < cols; c0 += B)
                for (int r = r0, re = Math.min(rows, r0 + B); r < re; r++)
                    for (int c = c0, ce = Math.min(cols, c0 + B); c < ce; c++) t[c * rows + r] = a[r * cols + c];
        return t;
    }

    /**
     * A copy of {@code params} (HF layout) with every Conv1D weight {@code [in, out]} transposed to
     * {@code [out, in]} (nn.Linear layout); other tensors are shared, not copied.
     */
    public static Map<String, float[]> conv1dToLinear(GptConfig config, Map<String, float[]> params) {
        return transposeConv1d(config, params, false);
    }

    /** The inverse of {@link #conv1dToLinear}: {@code [out, in]} weights back to HF's {@code [in, out]}. */
    public static Map<String, float[]> linearToConv1d(GptConfig config, Map<String, float[]> params) {
        return transposeConv1d(config, params, true);
    }

    private static Map<String, float[]> transposeConv1d(GptConfig config, Map<String, float[]> params, boolean toConv1d) {
        checkParams(config, params);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Param p : params(config)) {
            float[] a = params.get(p.name());
            if (p.conv1d()) {
                int in = p.shape[0], outDim = p.shape[1];
                a = toConv1d ? transpose(a, outDim, in) : transpose(a, in, outDim);
            }
            out.put(p.name(), a);
        }
        return out;
    }
}
