package dev.align4j.reference;

/** Token + position embedding in double, literally: out[b,t,:] = wte[tok[b,t],:] + wpe[t,:]. */
public final class EmbeddingReference {
    private EmbeddingReference() {}

    public static double[] forward(int[] tokens, double[] wte, double[] wpe, int batch, int t, int c) {
        double[] out = new double[batch * t * c];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < t; i++)
                for (int k = 0; k < c; k++)
                    out[(b * t + i) * c + k] = wte[tokens[b * t + i] * c + k] + wpe[i * c + k];
        return out;
    }

    /** dwte += scatter of dout by token, dwpe[i] += Σ_b dout[b,i] (in place, both accumulate). */
    public static void backward(float[] dout, int[] tokens, int batch, int t, int c, double[] dwte, double[] dwpe) {
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < t; i++)
                for (int k = 0; k < c; k++) {
                    double d = dout[(b * t + i) * c + k];
                    dwte[tokens[b * t + i] * c + k] += d;
                    dwpe[i * c + k] += d;
                }
    }

    /** Σ|terms| per gradient element (initial value included): the scale of its float rounding error. */
    public static void backwardL1(float[] dout, int[] tokens, int batch, int t, int c, double[] l1wte, double[] l1wpe) {
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < t; i++)
                for (int k = 0; k < c; k++) {
                    double d = Math.abs(dout[(b * t + i) * c + k]);
                    l1wte[tokens[b * t + i] * c + k] += d;
                    l1wpe[i * c + k] += d;
                }
    }

    /** L = Σ w·out: its gradient is the backward with dout = w. */
    public static double weightedLoss(int[] tokens, double[] wte, double[] wpe, double[] w, int batch, int t, int c) {
        double[] out = forward(tokens, wte, wpe, batch, t, c);
        double l = 0;
        for (int i = 0; i < out.length; i++) l += w[i] * out[i];
        return l;
    }

    public static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
