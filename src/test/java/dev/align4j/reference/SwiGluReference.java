package dev.align4j.reference;

/**
 * SwiGLU on the fused gate|up layout (h[N, 2F]: row n = gate[F] then up[F]) in double precision, as written:
 * out = silu(g)·u, dgate = dout·u·silu'(g), dup = dout·silu(g). The infinite limits are written out.
 */
public final class SwiGluReference {
    private SwiGluReference() {}

    /** The logistic function, without overflow on either side. */
    public static double sigmoid(double z) {
        return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    }

    /** z·σ(z); its limit 0 at −inf. */
    public static double silu(double z) {
        if (z == Double.NEGATIVE_INFINITY) return 0;
        return z * sigmoid(z);
    }

    /** d silu / dz = σ(z)·(1 + z·(1 − σ(z))), with 1 − σ(z) = σ(−z); the limits 1 at +inf and 0 at −inf. */
    public static double siluGrad(double z) {
        if (Double.isInfinite(z)) return z > 0 ? 1 : 0;
        return sigmoid(z) * (1 + z * sigmoid(-z));
    }

    /** out[N*F] from h[N*2F]. */
    public static double[] forward(float[] h, int n, int f) {
        double[] out = new double[n * f];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < f; j++) out[r * f + j] = silu(h[r * 2 * f + j]) * h[r * 2 * f + f + j];
        return out;
    }

    /**
     * dout·out at [r, j] (h in double, for finite differences): the one term of L = Σ dout·out that gate h[r, j]
     * and up h[r, F + j] enter, so a central difference of it is the whole derivative without the rounding of the sum.
     */
    public static double term(double[] h, float[] dout, int f, int r, int j) {
        return dout[r * f + j] * silu(h[r * 2 * f + j]) * h[r * 2 * f + f + j];
    }

    /** dh[N*2F]: each row's dgate then its dup. */
    public static double[] backward(float[] h, float[] dout, int n, int f) {
        double[] dh = new double[n * 2 * f];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < f; j++) {
                double g = h[r * 2 * f + j], u = h[r * 2 * f + f + j], d = dout[r * f + j];
                dh[r * 2 * f + j] = d * u * siluGrad(g);
                dh[r * 2 * f + f + j] = d * silu(g);
            }
        return dh;
    }
}
