package dev.align4j.reference;

/** RMSNorm over the last dimension in double precision, straight from the definition (Hugging Face's LlamaRMSNorm). */
public final class RmsNormReference {
    private RmsNormReference() {}

    /** {out [n·c], rstd [n]}; rstd = 1/sqrt(mean(x²) + eps), out = w·x·rstd. */
    public static double[][] forward(double[] x, double[] w, int n, int c, double eps) {
        double[] out = new double[n * c], rstd = new double[n];
        for (int i = 0; i < n; i++) {
            double ms = 0;
            for (int j = 0; j < c; j++) ms += x[i * c + j] * x[i * c + j];
            ms /= c;
            double r = 1 / Math.sqrt(ms + eps);
            for (int j = 0; j < c; j++) out[i * c + j] = w[j] * (x[i * c + j] * r);
            rstd[i] = r;
        }
        return new double[][] {out, rstd};
    }

    /** L = Σ dout·out, the objective whose gradients the backward computes. */
    public static double objective(double[] x, double[] w, int n, int c, double eps, float[] dout) {
        double[] out = forward(x, w, n, c, eps)[0];
        double l = 0;
        for (int k = 0; k < out.length; k++) l += dout[k] * out[k];
        return l;
    }

    /**
     * {dx [n·c], dweight [c], dweightAbs [c]} of L = Σ dout·out (no accumulation); dweightAbs = Σ_rows |dout·x̂|,
     * the scale of dweight's rounding error.
     */
    public static double[][] backward(double[] x, double[] w, int n, int c, double eps, float[] dout) {
        double[] rstd = forward(x, w, n, c, eps)[1];
        double[] dx = new double[n * c], dw = new double[c], dwAbs = new double[c];
        for (int i = 0; i < n; i++) {
            double r = rstd[i];
            double s = 0;
            for (int j = 0; j < c; j++) {
                double xh = x[i * c + j] * r;
                double g = dout[i * c + j];
                s += g * w[j] * xh;
                dw[j] += g * xh;
                dwAbs[j] += Math.abs(g * xh);
            }
            s /= c;
            for (int j = 0; j < c; j++) dx[i * c + j] = r * (dout[i * c + j] * w[j] - x[i * c + j] * r * s);
        }
        return new double[][] {dx, dw, dwAbs};
    }
}
