package dev.align4j.reference;

/**
 * Plain double-precision reference of the clipped PPO value loss, from DESIGN.md's formula literally:
 * V_clip = V_old + clip(V − V_old, −ε, ε), L = ½·max((V − G)², (V_clip − G)²), aggregated like
 * {@link PolicyLossReference} (agg 0 token-mean, 1 sequence-mean of token-means).
 */
public final class ValueLossReference {
    private ValueLossReference() {}

    public record Out(double loss, double[] dvalues, double clipFrac, long tokens) {}

    public static double tokenLoss(double v, double vOld, double g, double eps) {
        double vClip = vOld + PolicyLossReference.clip(v - vOld, -eps, eps);
        return 0.5 * Math.max((v - g) * (v - g), (vClip - g) * (vClip - g));
    }

    public static Out compute(double[] values, double[] valuesOld, double[] returns, double[] mask, int b, int t,
                              double eps, int agg) {
        int n = b * t;
        double[] w = PolicyLossReference.weights(mask, b, t, agg);
        double[] grad = new double[n];
        double loss = 0, tokens = 0, clipped = 0;
        for (int i = 0; i < n; i++) {
            if (mask[i] == 0) continue;
            double v = values[i], g = returns[i];
            double vClip = valuesOld[i] + PolicyLossReference.clip(v - valuesOld[i], -eps, eps);
            boolean isClipped = (vClip - g) * (vClip - g) > (v - g) * (v - g);
            grad[i] = w[i] * (isClipped ? 0 : v - g);
            loss += w[i] * tokenLoss(v, valuesOld[i], g, eps);
            tokens += 1;
            clipped += isClipped ? 1 : 0;
        }
        return new Out(loss, grad, tokens > 0 ? clipped / tokens : 0, (long) tokens);
    }

    /** The loss alone (for finite differences). */
    public static double loss(double[] values, double[] valuesOld, double[] returns, double[] mask, int b, int t,
                              double eps, int agg) {
        double[] w = PolicyLossReference.weights(mask, b, t, agg);
        double loss = 0;
        for (int i = 0; i < b * t; i++) if (w[i] != 0) loss += w[i] * tokenLoss(values[i], valuesOld[i], returns[i], eps);
        return loss;
    }
}
