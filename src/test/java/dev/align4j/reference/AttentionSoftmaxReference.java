package dev.align4j.reference;

/**
 * Causal softmax of attention scores [bh, tq, tk] in double precision: query i sees keys j <= i + tk − tq;
 * masked probabilities are 0.
 */
public final class AttentionSoftmaxReference {
    private AttentionSoftmaxReference() {}

    public static int visible(int i, int tq, int tk) {
        return i + tk - tq + 1;
    }

    public static double[] forward(double[] s, int bh, int tq, int tk, double scale) {
        double[] p = new double[bh * tq * tk];
        for (int r = 0; r < bh * tq; r++) {
            int v = visible(r % tq, tq, tk), o = r * tk;
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) m = Math.max(m, scale * s[o + j]);
            double sum = 0;
            for (int j = 0; j < v; j++) sum += Math.exp(scale * s[o + j] - m);
            for (int j = 0; j < v; j++) p[o + j] = Math.exp(scale * s[o + j] - m) / sum;
        }
        return p;
    }

    /** L = Σ dP·P, the objective whose gradient the backward computes. */
    public static double objective(double[] s, int bh, int tq, int tk, double scale, float[] dp) {
        double[] p = forward(s, bh, tq, tk, scale);
        double l = 0;
        for (int k = 0; k < p.length; k++) l += dp[k] * p[k];
        return l;
    }

    /** dS = scale·P·(dP − Σ_j P·dP) on visible keys, 0 elsewhere, from the forward's P (given as floats). */
    public static double[] backward(float[] p, float[] dp, int bh, int tq, int tk, double scale) {
        double[] ds = new double[bh * tq * tk];
        for (int r = 0; r < bh * tq; r++) {
            int v = visible(r % tq, tq, tk), o = r * tk;
            double dot = 0;
            for (int j = 0; j < v; j++) dot += (double) p[o + j] * dp[o + j];
            for (int j = 0; j < v; j++) ds[o + j] = scale * p[o + j] * (dp[o + j] - dot);
        }
        return ds;
    }
}
