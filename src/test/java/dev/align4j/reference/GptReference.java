package dev.align4j.reference;

import dev.align4j.model.Gpt;
import dev.align4j.model.ParamLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * A plain double-precision GPT-2 forward, written from the formulas (no shared buffers, no cleverness):
 * embeddings, pre-LN blocks with causal multi-head attention and a tanh-GELU MLP, final LayerNorm, tied
 * output embedding, and the masked mean negative log-likelihood. Parameters by HF name, linear weights
 * stored [out, in] (the model's layout).
 */
public final class GptReference {
    private GptReference() {}

    /** The parameters of {@code m} by name, in double: what {@link #forward} takes. */
    public static Map<String, double[]> params(Gpt m) {
        Map<String, double[]> p = new HashMap<>();
        for (ParamLayout.Entry e : m.layout().entries()) {
            float[] f = m.param(e.name()).toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            p.put(e.name(), d);
        }
        return p;
    }

    /** logits [B·T·V], the masked mean NLL, and the final hidden states ln_f(x) [B·T·C]. */
    public record Output(double[] logits, double loss, double[] hidden) {}

    /** tokens, targets [B·T] row-major; mask [B·T] or null (all ones); targets may be null (loss NaN). */
    public static Output forward(int nLayer, int nHead, int C, int V, double eps, Map<String, double[]> p, int[] tokens,
                                 int[] targets, float[] mask, int B, int T) {
        int hs = C / nHead;
        double[][][] x = new double[B][T][C];
        double[] wte = p.get("wte.weight"), wpe = p.get("wpe.weight");
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int c = 0; c < C; c++) x[b][t][c] = wte[tokens[b * T + t] * C + c] + wpe[t * C + c];
        for (int l = 0; l < nLayer; l++) {
            String h = "h." + l + ".";
            for (int b = 0; b < B; b++) {
                double[][] ln1 = new double[T][];
                for (int t = 0; t < T; t++) ln1[t] = layerNorm(x[b][t], p.get(h + "ln_1.weight"), p.get(h + "ln_1.bias"), eps);
                double[][] qkv = new double[T][];
                for (int t = 0; t < T; t++) qkv[t] = linear(ln1[t], p.get(h + "attn.c_attn.weight"), p.get(h + "attn.c_attn.bias"), 3 * C);
                double[][] y = new double[T][C];
                for (int hd = 0; hd < nHead; hd++) {
                    for (int i = 0; i < T; i++) {
                        double[] s = new double[i + 1];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j <= i; j++) {
                            double dot = 0;
                            for (int d = 0; d < hs; d++) dot += qkv[i][hd * hs + d] * qkv[j][C + hd * hs + d];
                            s[j] = dot / Math.sqrt(hs);
                            max = Math.max(max, s[j]);
                        }
                        double z = 0;
                        for (int j = 0; j <= i; j++) z += Math.exp(s[j] - max);
                        for (int j = 0; j <= i; j++) {
                            double pr = Math.exp(s[j] - max) / z;
                            for (int d = 0; d < hs; d++) y[i][hd * hs + d] += pr * qkv[j][2 * C + hd * hs + d];
                        }
                    }
                }
                for (int t = 0; t < T; t++) {
                    double[] a = linear(y[t], p.get(h + "attn.c_proj.weight"), p.get(h + "attn.c_proj.bias"), C);
                    for (int c = 0; c < C; c++) x[b][t][c] += a[c];
                    double[] ln2 = layerNorm(x[b][t], p.get(h + "ln_2.weight"), p.get(h + "ln_2.bias"), eps);
                    double[] f = linear(ln2, p.get(h + "mlp.c_fc.weight"), p.get(h + "mlp.c_fc.bias"), 4 * C);
                    for (int c = 0; c < 4 * C; c++) f[c] = gelu(f[c]);
                    double[] m = linear(f, p.get(h + "mlp.c_proj.weight"), p.get(h + "mlp.c_proj.bias"), C);
                    for (int c = 0; c < C; c++) x[b][t][c] += m[c];
                }
            }
        }
        double[] logits = new double[B * T * V];
        double[] hidden = new double[B * T * C];
        double nll = 0, count = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                double[] f = layerNorm(x[b][t], p.get("ln_f.weight"), p.get("ln_f.bias"), eps);
                System.arraycopy(f, 0, hidden, (b * T + t) * C, C);
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < V; v++) {
                    double z = 0;
                    for (int c = 0; c < C; c++) z += f[c] * wte[v * C + c];
                    logits[(b * T + t) * V + v] = z;
                    max = Math.max(max, z);
                }
                if (targets == null) continue;
                double m = mask == null ? 1 : mask[b * T + t];
                if (m == 0) continue;
                double sum = 0;
                for (int v = 0; v < V; v++) sum += Math.exp(logits[(b * T + t) * V + v] - max);
                double logp = logits[(b * T + t) * V + targets[b * T + t]] - max - Math.log(sum);
                nll -= m * logp;
                count += m;
            }
        double loss = targets == null ? Double.NaN : count == 0 ? 0 : nll / count;
        return new Output(logits, loss, hidden);
    }

    static double[] layerNorm(double[] x, double[] w, double[] bias, double eps) {
        int n = x.length;
        double mean = 0;
        for (double v : x) mean += v;
        mean /= n;
        double var = 0;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= n;
        double rstd = 1 / Math.sqrt(var + eps);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = (x[i] - mean) * rstd * w[i] + bias[i];
        return out;
    }

    /** W [out, in]: out = W·x + b. */
    static double[] linear(double[] x, double[] w, double[] b, int out) {
        int in = x.length;
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int i = 0; i < in; i++) s += w[o * in + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }
}
