package dev.align4j.reference;

/** Masked sequence sums in double, literally: sums[b] = Σ_t m·v, counts[b] = Σ_t m; dvalues = dsums[b]·m. */
public final class SeqReduceReference {
    private SeqReduceReference() {}

    /** Returns {sums, counts}. Masked-out values are not read. */
    public static double[][] forward(float[] values, float[] mask, int batch, int t) {
        double[] sums = new double[batch];
        double[] counts = new double[batch];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < t; i++)
                if (mask[b * t + i] != 0) {
                    sums[b] += values[b * t + i];
                    counts[b] += 1;
                }
        return new double[][] {sums, counts};
    }

    /** The loss Σ_b w_b·sums_b, on double values: what the backward is checked against by finite differences. */
    public static double weightedLoss(double[] values, float[] mask, double[] w, int batch, int t) {
        double loss = 0;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < t; i++)
                if (mask[b * t + i] != 0) loss += w[b] * values[b * t + i];
        return loss;
    }

    public static double[] backward(float[] dsums, float[] mask, int batch, int t) {
        double[] d = new double[batch * t];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < t; i++) d[b * t + i] = mask[b * t + i] != 0 ? dsums[b] : 0;
        return d;
    }
}
