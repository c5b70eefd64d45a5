package dev.align4j.reference;

/** Token log-probs in double precision, straight from the definitions (DESIGN.md, "Token log-probs"). */
public final class LogProbsReference {
    private LogProbsReference() {}

    /** Per row: {logp, entropy, lse}; rows with mask 0 give zeros. */
    public static double[][] forward(double[] logits, int[] labels, float[] mask, int n, int v, double temperature) {
        double[] logp = new double[n], entropy = new double[n], lse = new double[n];
        for (int i = 0; i < n; i++) {
            if (mask != null && mask[i] == 0) continue;
            double[] s = scaled(logits, i, v, temperature);
            double m = Double.NEGATIVE_INFINITY;
            for (double x : s) m = Math.max(m, x);
            if (m == Double.NEGATIVE_INFINITY) { // no distribution: logsumexp is −inf, the rest undefined
                lse[i] = m;
                logp[i] = entropy[i] = Double.NaN;
                continue;
            }
            double sum = 0;
            for (double x : s) sum += Math.exp(x - m);
            lse[i] = m + Math.log(sum);
            logp[i] = s[labels[i]] - lse[i];
            double meanS = 0;
            for (double x : s) {
                double p = Math.exp(x - lse[i]);
                if (p > 0) meanS += p * x;
            }
            entropy[i] = lse[i] - meanS;
        }
        return new double[][] {logp, entropy, lse};
    }

    /** ∂L/∂z for L = Σ_i g_i·logp_i + h_i·entropy_i (dentropy may be null). */
    public static double[] backward(double[] logits, int[] labels, float[] mask, int n, int v, double temperature,
                                    float[] dlogp, float[] dentropy) {
        double[] dz = new double[n * v];
        double[][] fwd = forward(logits, labels, mask, n, v, temperature);
        for (int i = 0; i < n; i++) {
            if (mask != null && mask[i] == 0) continue;
            double[] s = scaled(logits, i, v, temperature);
            double lse = fwd[2][i];
            double meanS = lse - fwd[1][i];
            double h = dentropy == null ? 0 : dentropy[i];
            for (int j = 0; j < v; j++) {
                double p = Math.exp(s[j] - lse);
                double ent = p > 0 ? h * p * (s[j] - meanS) : 0;
                dz[i * v + j] = (dlogp[i] * ((j == labels[i] ? 1 : 0) - p) - ent) / temperature;
            }
        }
        return dz;
    }

    /** L = Σ g·logp + h·entropy, the scalar whose finite differences check the backward. */
    public static double objective(double[] logits, int[] labels, float[] mask, int n, int v, double temperature,
                                   float[] dlogp, float[] dentropy) {
        double[][] f = forward(logits, labels, mask, n, v, temperature);
        double l = 0;
        for (int i = 0; i < n; i++) {
            l += dlogp[i] * f[0][i];
            if (dentropy != null) l += dentropy[i] * f[1][i];
        }
        return l;
    }

    public static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    private static double[] scaled(double[] logits, int row, int v, double temperature) {
        double[] s = new double[v];
        for (int j = 0; j < v; j++) s[j] = logits[row * v + j] / temperature;
        return s;
    }
}
