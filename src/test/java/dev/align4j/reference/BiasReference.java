package dev.align4j.reference;

/** Linear-layer bias and residual add in double. */
public final class BiasReference {
    private BiasReference() {}

    /** out[n, oc] + bias[oc]. */
    public static double[] add(float[] out, float[] bias, int n, int oc) {
        double[] r = new double[n * oc];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < oc; k++) r[i * oc + k] = (double) out[i * oc + k] + bias[k];
        return r;
    }

    /** dbias + Σ_n dout[n, :]. */
    public static double[] backward(float[] dout, float[] dbias, int n, int oc) {
        double[] r = new double[oc];
        for (int k = 0; k < oc; k++) {
            r[k] = dbias[k];
            for (int i = 0; i < n; i++) r[k] += dout[i * oc + k];
        }
        return r;
    }

    /** |dbias| + Σ_n |dout[n, :]|: the scale of a float column sum's rounding error. */
    public static double[] backwardL1(float[] dout, float[] dbias, int n, int oc) {
        double[] r = new double[oc];
        for (int k = 0; k < oc; k++) {
            r[k] = Math.abs(dbias[k]);
            for (int i = 0; i < n; i++) r[k] += Math.abs(dout[i * oc + k]);
        }
        return r;
    }

    /** L = Σ w·(x + bias): its bias gradient is the column sums of w. */
    public static double weightedLoss(double[] x, double[] bias, double[] w, int n, int oc) {
        double l = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < oc; k++) l += w[i * oc + k] * (x[i * oc + k] + bias[k]);
        return l;
    }

    public static double[] residual(float[] a, float[] b) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = (double) a[i] + b[i];
        return r;
    }
}
