package dev.align4j.reference;

/**
 * Plain double-precision reference of the clipped (dual-clip) PPO policy loss, written from DESIGN.md's
 * formulas literally. Arrays are {@code [B·T]} row-major; {@code dualClip <= 0} is off; agg 0 is the
 * token-mean, 1 the sequence-mean of token-means.
 */
public final class PolicyLossReference {
    private PolicyLossReference() {}

    public record Out(double loss, double[] dlogpNew, double clipFrac, double approxKlK1, double approxKlK3,
                      double dualClipFrac, long tokens) {}

    /** Per-token loss max(−A·ρ, −A·clip(ρ)), capped at −c·A for A &lt; 0 when the dual clip is on. */
    public static double tokenLoss(double logpNew, double logpOld, double a, double epsLow, double epsHigh,
                                   double dualClip) {
        double rho = Math.exp(logpNew - logpOld);
        double l = Math.max(-a * rho, -a * clip(rho, 1 - epsLow, 1 + epsHigh));
        if (dualClip > 0 && a < 0) l = Math.min(l, -dualClip * a);
        return l;
    }

    public static Out compute(double[] logpNew, double[] logpOld, double[] adv, double[] mask, int b, int t,
                              double epsLow, double epsHigh, double dualClip, int agg) {
        int n = b * t;
        double[] grad = new double[n];
        double tokens = 0, clipped = 0, k1 = 0, k3 = 0, dual = 0;
        for (int i = 0; i < n; i++) {
            if (mask[i] == 0) continue;
            double rho = Math.exp(logpNew[i] - logpOld[i]);
            double a = adv[i];
            double unclipped = -a * rho;
            double clippedLoss = -a * clip(rho, 1 - epsLow, 1 + epsHigh);
            boolean isClipped = clippedLoss > unclipped;
            double l = isClipped ? clippedLoss : unclipped;
            boolean capped = dualClip > 0 && a < 0 && l > -dualClip * a;
            // ∂(−A·ρ)/∂ℓ_new = −A·ρ on the unclipped branch; the clipped branch and the cap are constants.
            grad[i] = isClipped || capped ? 0 : -a * rho;
            double d = logpOld[i] - logpNew[i];
            tokens += 1;
            clipped += isClipped ? 1 : 0;
            k1 += d;
            k3 += Math.exp(-d) - 1 + d;
            dual += capped ? 1 : 0;
        }
        double[] w = weights(mask, b, t, agg);
        double loss = 0;
        for (int i = 0; i < n; i++) {
            if (w[i] == 0) continue;
            loss += w[i] * tokenLoss(logpNew[i], logpOld[i], adv[i], epsLow, epsHigh, dualClip);
            grad[i] *= w[i];
        }
        double inv = tokens > 0 ? 1 / tokens : 0;
        return new Out(loss, grad, clipped * inv, k1 * inv, k3 * inv, dual * inv, (long) tokens);
    }

    /** The loss alone (for finite differences). */
    public static double loss(double[] logpNew, double[] logpOld, double[] adv, double[] mask, int b, int t,
                              double epsLow, double epsHigh, double dualClip, int agg) {
        double[] w = weights(mask, b, t, agg);
        double loss = 0;
        for (int i = 0; i < b * t; i++)
            if (w[i] != 0) loss += w[i] * tokenLoss(logpNew[i], logpOld[i], adv[i], epsLow, epsHigh, dualClip);
        return loss;
    }

    /**
     * The weight of each token in the aggregated loss: m / Σ m (token-mean), or m / (|y_b| · #sequences with
     * tokens) (sequence-mean); all 0 when there is no token. Shared with {@link ValueLossReference}.
     */
    public static double[] weights(double[] mask, int b, int t, int agg) {
        double[] w = new double[b * t];
        double total = 0;
        int seqs = 0;
        double[] rowCount = new double[b];
        for (int r = 0; r < b; r++) {
            for (int j = 0; j < t; j++) rowCount[r] += mask[r * t + j];
            total += rowCount[r];
            if (rowCount[r] > 0) seqs++;
        }
        for (int r = 0; r < b; r++)
            for (int j = 0; j < t; j++) {
                int i = r * t + j;
                if (mask[i] == 0) continue;
                w[i] = agg == 0 ? 1 / total : 1 / (rowCount[r] * seqs);
            }
        return w;
    }

    static double clip(double x, double lo, double hi) {
        return Math.max(lo, Math.min(hi, x));
    }
}
