package dev.align4j.reference;

/**
 * RoPE in Hugging Face's rotate-half layout, in double precision, literally as written: x [B, H, T, D], inv_freq [R]
 * (R <= D/2; dims [2R, D) unchanged), token t at position pos0 + t, angle = position·inv_freq[i] (the float
 * frequencies taken as exact), and for i < R: out[i] = x[i]·cos − x[i+R]·sin, out[i+R] = x[i+R]·cos + x[i]·sin.
 */
public final class RopeReference {
    private RopeReference() {}

    public static double[] forward(float[] x, int b, int h, int t, int d, float[] invFreq, long pos0) {
        return rotate(toDouble(x), b, h, t, d, invFreq, pos0, 1);
    }

    /** The transpose of the forward: the rotation by −angle. */
    public static double[] backward(float[] dout, int b, int h, int t, int d, float[] invFreq, long pos0) {
        return rotate(toDouble(dout), b, h, t, d, invFreq, pos0, -1);
    }

    /** Rotation of x by sign·angle (sign ±1). */
    public static double[] rotate(double[] x, int b, int h, int t, int d, float[] invFreq, long pos0, int sign) {
        int r = invFreq.length;
        double[] out = x.clone();
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int ti = 0; ti < t; ti++) {
                    int row = ((bi * h + hi) * t + ti) * d;
                    double pos = pos0 + ti;
                    for (int i = 0; i < r; i++) {
                        double angle = pos * (double) invFreq[i];
                        double c = Math.cos(angle), s = sign * Math.sin(angle);
                        double x1 = x[row + i], x2 = x[row + i + r];
                        out[row + i] = x1 * c - x2 * s;
                        out[row + i + r] = x2 * c + x1 * s;
                    }
                }
        return out;
    }

    public static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
