package dev.align4j.reference;

/**
 * PPO's KL-shaped token rewards in double, literally: d = logpOld − logpRef; kl = k(d) on the mask (k1 = d,
 * k2 = d²/2, k3 = e^(−d) − 1 + d); rewards = −β·kl on the mask, plus score − (missing-EOS penalty) at the last
 * masked token of each row. Rows with no masked token get nothing.
 */
public final class KlShapingReference {
    private KlShapingReference() {}

    public record Out(double[] rewards, double[] kl, int rowsWithoutResponse) {}

    public static double estimate(double d, int klType) {
        switch (klType) {
            case 1: return d;
            case 2: return d * d / 2;
            case 3: return Math.exp(-d) - 1 + d;
            default: throw new IllegalArgumentException("klType " + klType);
        }
    }

    /** scores and tokens may be null; eosId < 0: no EOS check. */
    public static Out compute(float[] logpOld, float[] logpRef, float[] mask, float[] scores, int[] tokens, int batch,
                              int t, double beta, int klType, int eosId, double penalty) {
        double[] rewards = new double[batch * t];
        double[] kl = new double[batch * t];
        int empty = 0;
        for (int b = 0; b < batch; b++) {
            int last = -1;
            for (int i = 0; i < t; i++) {
                int j = b * t + i;
                if (mask[j] == 0) continue;
                last = i;
                kl[j] = estimate((double) logpOld[j] - (double) logpRef[j], klType);
                rewards[j] = -beta * kl[j];
            }
            if (last < 0) {
                empty++;
                continue;
            }
            double score = scores == null ? 0 : scores[b];
            if (tokens != null && eosId >= 0 && tokens[b * t + last] != eosId) score -= penalty;
            rewards[b * t + last] += score;
        }
        return new Out(rewards, kl, empty);
    }
}
