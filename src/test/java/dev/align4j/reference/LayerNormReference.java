package dev.align4j.reference;

/** LayerNorm over the last dimension in double precision, straight from the definition. */
public final class LayerNormReference {
    private LayerNormReference() {}

    /** {out [n·c], mean [n], rstd [n]}; biased variance, rstd = 1/sqrt(var + eps). */
    public static double[][] forward(double[] x, double[] w, double[] b, int n, int c, double eps) {
        double[] out = new double[n * c], mean = new double[n], rstd = new double[n];
        for (int i = 0; i < n; i++) {
            double m = 0;
            for (int j = 0; j < c; j++) m += x[i * c + j];
            m /= c;
            double var = 0;
            for (int j = 0; j < c; j++) var += (x[i * c + j] - m) * (x[i * c + j] - m);
            var /= c;
            double r = 1 / Math.sqrt(var + eps);
            for (int j = 0; j < c; j++) out[i * c + j] = (x[i * c + j] - m) * r * w[j] + b[j];
            mean[i] = m;
            rstd[i] = r;
        }
        return new double[][] {out, mean, rstd};
    }

    /** L = Σ dout·out, the objective whose gradients the backward computes. */
    public static double objective(double[] x, double[] w, double[] b, int n, int c, double eps, float[] dout) {
        double[] out = forward(x, w, b, n, c, eps)[0];
        double l = 0;
        for (int k = 0; k < out.length; k++) l += dout[k] * out[k];
        return l;
    }

    /** {dx [n·c], dweight [c], dbias [c]} of L = Σ dout·out (no accumulation). */
    public static double[][] backward(double[] x, double[] w, double[] b, int n, int c, double eps, float[] dout) {
        double[][] f = forward(x, w, b, n, c, eps);
        double[] dx = new double[n * c], dw = new double[c], db = new double[c];
        for (int i = 0; i < n; i++) {
            double m = f[1][i], r = f[2][i];
            double s1 = 0, s2 = 0;
            for (int j = 0; j < c; j++) {
                double xh = (x[i * c + j] - m) * r;
                double g = dout[i * c + j];
                s1 += g * w[j];
                s2 += g * w[j] * xh;
                dw[j] += g * xh;
                db[j] += g;
            }
            s1 /= c;
            s2 /= c;
            for (int j = 0; j < c; j++) {
                double xh = (x[i * c + j] - m) * r;
                dx[i * c + j] = r * (dout[i * c + j] * w[j] - s1 - xh * s2);
            }
        }
        return new double[][] {dx, dw, db};
    }
}
