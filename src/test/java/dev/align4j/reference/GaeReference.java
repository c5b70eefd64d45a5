package dev.align4j.reference;

/**
 * GAE in double, literally: for each row, walk its masked positions from the last to the first with
 * V_next = A_next = 0 after the last; δ = r + γ·V_next − V, A = δ + γλ·A_next, G = A + V. Masked-out
 * positions are skipped and get 0.
 */
public final class GaeReference {
    private GaeReference() {}

    /** Returns {advantages, returns}. */
    public static double[][] compute(float[] rewards, float[] values, float[] mask, int batch, int t, double gamma,
                                     double lambda) {
        double[] adv = new double[batch * t];
        double[] ret = new double[batch * t];
        for (int b = 0; b < batch; b++) {
            double vNext = 0, aNext = 0;
            for (int i = t - 1; i >= 0; i--) {
                int j = b * t + i;
                if (mask[j] == 0) continue;
                double delta = rewards[j] + gamma * vNext - values[j];
                double a = delta + gamma * lambda * aNext;
                adv[j] = a;
                ret[j] = a + values[j];
                vNext = values[j];
                aNext = a;
            }
        }
        return new double[][] {adv, ret};
    }
}
