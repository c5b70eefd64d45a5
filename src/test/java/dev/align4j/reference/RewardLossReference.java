package dev.align4j.reference;

/**
 * Plain double-precision reference for the Bradley–Terry reward loss (DESIGN.md "Reward model"):
 * L = −mean log σ(r⁺ − r⁻ − margin) + c·mean((r⁺ + r⁻)²). Gradients come from finite differences of
 * {@link #loss} in the tests.
 */
public final class RewardLossReference {
    private RewardLossReference() {}

    /** Mean loss (0 for B = 0); margin may be null. */
    public static double loss(double[] rc, double[] rr, double[] margin, double centerCoef) {
        int b = rc.length;
        if (b == 0) return 0;
        double bt = 0, center = 0;
        for (int i = 0; i < b; i++) {
            double m = margin == null ? 0 : margin[i];
            bt += -PreferenceLossReference.logSigmoid(rc[i] - rr[i] - m);
            center += (rc[i] + rr[i]) * (rc[i] + rr[i]);
        }
        return bt / b + centerCoef * center / b;
    }

    /** Stats: loss, accuracy = mean[r⁺ > r⁻], mean r⁺, mean r⁻, mean (r⁺ − r⁻); all 0 for B = 0. */
    public static double[] stats(float[] rc, float[] rr, float[] margin, double centerCoef) {
        int b = rc.length;
        double[] s = new double[5];
        if (b == 0) return s;
        s[0] = loss(toDouble(rc), toDouble(rr), margin == null ? null : toDouble(margin), centerCoef);
        for (int i = 0; i < b; i++) {
            s[1] += rc[i] > rr[i] ? 1 : 0;
            s[2] += rc[i];
            s[3] += rr[i];
            s[4] += (double) rc[i] - rr[i];
        }
        for (int k = 1; k < 5; k++) s[k] /= b;
        return s;
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
