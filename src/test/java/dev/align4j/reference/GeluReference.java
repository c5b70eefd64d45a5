package dev.align4j.reference;

/** GPT-2's tanh-form GELU in double precision, literally as written. */
public final class GeluReference {
    private GeluReference() {}

    private static final double K = Math.sqrt(2 / Math.PI), A = 0.044715;

    public static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(K * (x + A * x * x * x)));
    }

    /** d gelu / dx, differentiated by hand from the tanh form. */
    public static double grad(double x) {
        double t = Math.tanh(K * (x + A * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K * (1 + 3 * A * x * x);
    }

    public static double[] forward(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = gelu(x[i]);
        return y;
    }

    public static double[] backward(float[] x, float[] dout) {
        double[] dx = new double[x.length];
        for (int i = 0; i < x.length; i++) dx[i] = dout[i] * grad(x[i]);
        return dx;
    }
}
