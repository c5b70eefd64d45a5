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

    // ------------------------------------------------------------------ GRPO's generalisation

    /**
     * The options of the general loss: level 0 per-token ratio, 1 per-sequence (GSPO); agg 0 token-mean (bnpo), 1
     * sequence-mean (grpo), 2 and 3 the token sum over {@code norm} (dr_grpo with norm = B·max length, dapo); beta
     * the k3 KL's coefficient (logpRef unused when 0); dualClip &lt;= 0 off.
     */
    public record Options(int level, double epsLow, double epsHigh, double dualClip, double beta, int agg, double norm) {}

    /** Loss, gradient and every metric; the metrics are token-means over the mask. */
    public record Full(double loss, double[] dlogpNew, double clipFrac, double approxKlK1, double approxKlK3,
                       double dualClipFrac, double kl, double clipLow, double clipHigh, long tokens) {}

    /**
     * The general loss, literally: per token ρ = exp(ℓ_new − ℓ_old) or, per sequence, s = exp(Σ m·(ℓ_new − ℓ_old) /
     * max(Σ m, 1)); L = max(−A·ρ, −A·clip(ρ)), capped at −c·A for A &lt; 0 with the dual clip, plus β·(e^u − u − 1)
     * with u = ℓ_ref − ℓ_new; aggregated with {@link #generalWeights}. The gradient from the chain rule: the policy
     * term's derivative in ρ is −A on the unclipped, uncapped branch (0 otherwise), and ∂ρ/∂ℓ_new,j is ρ at token
     * level and s·m_j/n at sequence level; the KL's is β·(1 − e^u). adv has B·T values (per token) or B (per sequence).
     */
    public static Full general(double[] logpNew, double[] logpOld, double[] logpRef, double[] adv, double[] mask, int b,
                               int t, Options o) {
        int n = b * t;
        boolean perToken = adv.length == n;
        double[] ratio = ratios(logpNew, logpOld, mask, b, t, o.level());
        double[] w = generalWeights(mask, b, t, o.agg(), o.norm());
        double[] grad = new double[n];
        double loss = 0, tokens = 0, clipped = 0, k1 = 0, k3 = 0, dual = 0, kl = 0, low = 0, high = 0;
        for (int r = 0; r < b; r++) {
            double rowCount = 0;
            for (int j = 0; j < t; j++) rowCount += mask[r * t + j];
            double seqTerm = 0;  // Σ_i w_i·(−A_i) over the row's unclipped tokens (sequence level)
            for (int j = 0; j < t; j++) {
                int i = r * t + j;
                if (mask[i] == 0) continue;
                double a = perToken ? adv[i] : adv[r];
                double rho = ratio[i];
                double unclipped = -a * rho;
                double clippedLoss = -a * clip(rho, 1 - o.epsLow(), 1 + o.epsHigh());
                boolean isClipped = clippedLoss > unclipped;
                double l = isClipped ? clippedLoss : unclipped;
                boolean capped = o.dualClip() > 0 && a < 0 && l > -o.dualClip() * a;
                if (capped) l = -o.dualClip() * a;
                boolean active = !isClipped && !capped;
                double u = o.beta() > 0 ? logpRef[i] - logpNew[i] : 0;
                double k3ref = Math.expm1(u) - u;
                loss += w[i] * (l + o.beta() * k3ref);
                if (o.level() == 0) grad[i] += active ? w[i] * -a * rho : 0;
                else seqTerm += active ? w[i] * -a : 0;
                grad[i] += w[i] * o.beta() * -Math.expm1(u);
                double d = logpOld[i] - logpNew[i];
                tokens++;
                clipped += isClipped ? 1 : 0;
                k1 += d;
                k3 += Math.expm1(-d) + d;
                dual += capped ? 1 : 0;
                kl += o.beta() > 0 ? k3ref : 0;
                low += rho < 1 - o.epsLow() && a < 0 ? 1 : 0;
                high += rho > 1 + o.epsHigh() && a > 0 ? 1 : 0;
            }
            if (o.level() == 1 && rowCount > 0) {
                double s = ratio[r * t];
                for (int j = 0; j < t; j++) grad[r * t + j] += seqTerm * s * mask[r * t + j] / rowCount;
            }
        }
        double inv = tokens > 0 ? 1 / tokens : 0;
        return new Full(loss, grad, clipped * inv, k1 * inv, k3 * inv, dual * inv, kl * inv, low * inv, high * inv,
                (long) tokens);
    }

    /** The general loss alone (for finite differences). */
    public static double generalLoss(double[] logpNew, double[] logpOld, double[] logpRef, double[] adv, double[] mask,
                                     int b, int t, Options o) {
        return general(logpNew, logpOld, logpRef, adv, mask, b, t, o).loss();
    }

    /** Each token's ratio: its own (level 0) or its sequence's (level 1; exp(0) = 1 for a row without tokens). */
    static double[] ratios(double[] logpNew, double[] logpOld, double[] mask, int b, int t, int level) {
        double[] ratio = new double[b * t];
        for (int r = 0; r < b; r++) {
            double sum = 0, count = 0;
            for (int j = 0; j < t; j++) {
                int i = r * t + j;
                sum += mask[i] * (logpNew[i] - logpOld[i]);
                count += mask[i];
            }
            double s = Math.exp(sum / Math.max(count, 1));
            for (int j = 0; j < t; j++) {
                int i = r * t + j;
                ratio[i] = level == 0 ? Math.exp(logpNew[i] - logpOld[i]) : s;
            }
        }
        return ratio;
    }

    /** {@link #weights} for agg 0 and 1; m / norm for agg 2 and 3. */
    public static double[] generalWeights(double[] mask, int b, int t, int agg, double norm) {
        if (agg < 2) return weights(mask, b, t, agg);
        double[] w = new double[b * t];
        for (int i = 0; i < w.length; i++) w[i] = mask[i] / norm;
        return w;
    }

    static double clip(double x, double lo, double hi) {
        return Math.max(lo, Math.min(hi, x));
    }
}
