package dev.align4j.reference;

/**
 * Masked whitening in double, literally: mean and unbiased variance (n − 1) over the masked elements, std = 0 when
 * n < 2, mean = 0 when n = 0; out = (x − mean)/(std + 1e-8) on the mask (+ mean unless shiftMean), 0 off it.
 */
public final class WhitenReference {
    private WhitenReference() {}

    public record Out(double[] out, double mean, double std) {}

    public static Out apply(float[] x, float[] mask, boolean shiftMean) {
        double sum = 0;
        int n = 0;
        for (int i = 0; i < x.length; i++)
            if (mask[i] != 0) {
                sum += x[i];
                n++;
            }
        double mean = n > 0 ? sum / n : 0;
        double ss = 0;
        for (int i = 0; i < x.length; i++)
            if (mask[i] != 0) ss += (x[i] - mean) * (x[i] - mean);
        double std = n >= 2 ? Math.sqrt(ss / (n - 1)) : 0;
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++)
            if (mask[i] != 0) out[i] = (x[i] - mean) / (std + 1e-8) + (shiftMean ? 0 : mean);
        return new Out(out, mean, std);
    }
}
