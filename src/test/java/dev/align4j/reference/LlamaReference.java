package dev.align4j.reference;

import dev.align4j.model.LlamaConfig;
import dev.align4j.model.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A Llama-family causal LM (Llama, Mistral, SmolLM2, Qwen2 with q/k/v biases, Qwen3 with per-head q/k RMSNorm)
 * in plain double precision, written from Hugging Face's definition (modeling_llama.py and its Qwen variants),
 * for the tests: it loads a Hugging Face folder (config.json, model.safetensors) and computes the logits of a
 * token sequence by full recomputation, no cache, no tricks.
 *
 * <p>Per layer: h += o_proj(attn(rope(q_norm(q)), rope(k_norm(k)), v)) with q = q_proj(rmsnorm(h)), grouped-query
 * attention (query head i reads key/value head i / (heads / kvHeads)), causal softmax scaled by 1/sqrt(headDim);
 * then h += down_proj(silu(gate_proj(x)) * up_proj(x)) with x = rmsnorm(h). RMSNorm: w * x / sqrt(mean(x²) + eps).
 * RoPE in the rotate-half layout: for i < d/2, angle = pos * theta^(-2i/d), (x_i, x_{i+d/2}) rotated by it (no
 * rope_scaling: the reference models have none).
 */
public final class LlamaReference {
    final int vocab, hidden, layers, heads, kvHeads, headDim, ffn;
    final double eps, theta;
    final boolean qkNorm;
    final double[][] embed, lmHead;  // [vocab][hidden]; the same array when tied
    final double[] finalNorm;
    final Layer[] layer;

    static final class Layer {
        double[] inNorm, postNorm, qNorm, kNorm, qBias, kBias, vBias;
        double[][] q, k, v, o, gate, up, down;  // [out][in], as PyTorch stores a Linear's weight
    }

    private LlamaReference(LlamaConfig c, SafeTensorsFile f) throws IOException {
        vocab = c.vocabSize();
        hidden = c.hiddenSize();
        layers = c.numLayers();
        heads = c.numHeads();
        kvHeads = c.numKvHeads();
        headDim = c.headDim();
        ffn = c.intermediateSize();
        eps = c.rmsNormEps();
        theta = c.ropeTheta();
        boolean tied = c.tieWordEmbeddings();
        embed = matrix(f, "model.embed_tokens.weight", vocab, hidden);
        lmHead = tied ? embed : matrix(f, "lm_head.weight", vocab, hidden);
        finalNorm = vector(f, "model.norm.weight", hidden);
        qkNorm = c.qkNorm();
        if (c.ropeScaling() != null) throw new IllegalArgumentException("the reference has no rope_scaling");
        layer = new Layer[layers];
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            Layer L = new Layer();
            L.inNorm = vector(f, p + "input_layernorm.weight", hidden);
            L.postNorm = vector(f, p + "post_attention_layernorm.weight", hidden);
            L.q = matrix(f, p + "self_attn.q_proj.weight", heads * headDim, hidden);
            L.k = matrix(f, p + "self_attn.k_proj.weight", kvHeads * headDim, hidden);
            L.v = matrix(f, p + "self_attn.v_proj.weight", kvHeads * headDim, hidden);
            L.o = matrix(f, p + "self_attn.o_proj.weight", hidden, heads * headDim);
            if (c.attentionBias()) {
                L.qBias = vector(f, p + "self_attn.q_proj.bias", heads * headDim);
                L.kBias = vector(f, p + "self_attn.k_proj.bias", kvHeads * headDim);
                L.vBias = vector(f, p + "self_attn.v_proj.bias", kvHeads * headDim);
            }
            if (qkNorm) {
                L.qNorm = vector(f, p + "self_attn.q_norm.weight", headDim);
                L.kNorm = vector(f, p + "self_attn.k_norm.weight", headDim);
            }
            L.gate = matrix(f, p + "mlp.gate_proj.weight", ffn, hidden);
            L.up = matrix(f, p + "mlp.up_proj.weight", ffn, hidden);
            L.down = matrix(f, p + "mlp.down_proj.weight", hidden, ffn);
            layer[l] = L;
        }
    }

    /** Loads {@code dir}/config.json and {@code dir}/model.safetensors. */
    public static LlamaReference load(Path dir) throws IOException {
        LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
        try (SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("model.safetensors"))) {
            return new LlamaReference(config, f);
        }
    }

    public int vocab() {
        return vocab;
    }

    /** Logits [T][vocab] of tokens[0..T), position t seeing tokens 0..t. */
    public double[][] logits(int[] tokens) {
        int T = tokens.length;
        double[][] h = new double[T][];
        for (int t = 0; t < T; t++) h[t] = embed[tokens[t]].clone();
        for (Layer L : layer) {
            double[][] q = new double[T][], k = new double[T][], v = new double[T][];
            for (int t = 0; t < T; t++) {
                double[] x = rmsNorm(h[t], L.inNorm);
                q[t] = headwise(linear(L.q, L.qBias, x), heads, L.qNorm, t);
                k[t] = headwise(linear(L.k, L.kBias, x), kvHeads, L.kNorm, t);
                v[t] = linear(L.v, L.vBias, x);
            }
            int group = heads / kvHeads;
            double scale = 1.0 / Math.sqrt(headDim);
            for (int t = 0; t < T; t++) {
                double[] y = new double[heads * headDim];
                for (int hq = 0; hq < heads; hq++) {
                    int hk = hq / group;
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double d = 0;
                        for (int i = 0; i < headDim; i++) d += q[t][hq * headDim + i] * k[j][hk * headDim + i];
                        s[j] = d * scale;
                        max = Math.max(max, s[j]);
                    }
                    double z = 0;
                    for (int j = 0; j <= t; j++) z += s[j] = Math.exp(s[j] - max);
                    for (int j = 0; j <= t; j++)
                        for (int i = 0; i < headDim; i++) y[hq * headDim + i] += s[j] / z * v[j][hk * headDim + i];
                }
                add(h[t], linear(L.o, null, y));
            }
            for (int t = 0; t < T; t++) {
                double[] x = rmsNorm(h[t], L.postNorm);
                double[] g = linear(L.gate, null, x), u = linear(L.up, null, x);
                for (int i = 0; i < ffn; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                add(h[t], linear(L.down, null, g));
            }
        }
        double[][] out = new double[T][];
        for (int t = 0; t < T; t++) out[t] = linear(lmHead, null, rmsNorm(h[t], finalNorm));
        return out;
    }

    /** log softmax of one row of logits. */
    public static double[] logSoftmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double x : z) max = Math.max(max, x);
        for (double x : z) sum += Math.exp(x - max);
        double lse = max + Math.log(sum);
        double[] r = new double[z.length];
        for (int i = 0; i < z.length; i++) r[i] = z[i] - lse;
        return r;
    }

    // Per head of x (heads × headDim): the optional RMSNorm over the head (Qwen3), then RoPE at position pos.
    private double[] headwise(double[] x, int n, double[] norm, int pos) {
        int half = headDim / 2;
        for (int h = 0; h < n; h++) {
            int o = h * headDim;
            if (norm != null) {
                double[] head = java.util.Arrays.copyOfRange(x, o, o + headDim);
                System.arraycopy(rmsNorm(head, norm), 0, x, o, headDim);
            }
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(theta, -2.0 * i / headDim);
                double c = Math.cos(angle), s = Math.sin(angle);
                double a = x[o + i], b = x[o + i + half];
                x[o + i] = a * c - b * s;
                x[o + i + half] = b * c + a * s;
            }
        }
        return x;
    }

    private double[] rmsNorm(double[] x, double[] w) {
        double ms = 0;
        for (double v : x) ms += v * v;
        double r = 1.0 / Math.sqrt(ms / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = w[i] * x[i] * r;
        return y;
    }

    private static double[] linear(double[][] w, double[] bias, double[] x) {
        double[] y = new double[w.length];
        for (int o = 0; o < w.length; o++) {
            double s = bias == null ? 0 : bias[o];
            for (int i = 0; i < x.length; i++) s += w[o][i] * x[i];
            y[o] = s;
        }
        return y;
    }

    private static void add(double[] a, double[] b) {
        for (int i = 0; i < a.length; i++) a[i] += b[i];
    }

    private static double[] vector(SafeTensorsFile f, String name, int n) throws IOException {
        float[] a = f.floats(name, n);
        double[] r = new double[n];
        for (int i = 0; i < n; i++) r[i] = a[i];
        return r;
    }

    private static double[][] matrix(SafeTensorsFile f, String name, int rows, int cols) throws IOException {
        float[] a = f.floats(name, rows, cols);
        double[][] r = new double[rows][cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) r[i][j] = a[i * cols + j];
        return r;
    }
}
