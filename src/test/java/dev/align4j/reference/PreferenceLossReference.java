package dev.align4j.reference;

import dev.align4j.kernels.PreferenceLoss.Type;

/**
 * Plain double-precision reference for the DPO family, following DESIGN.md "DPO family" literally. Lengths
 * and references may be null where the loss does not read them. Gradients are not computed here: tests
 * take central finite differences of {@link #meanLoss}.
 */
public final class PreferenceLossReference {
    private PreferenceLossReference() {}

    /** Per-pair outputs and the batch means (stats order: loss, rewards/chosen, rewards/rejected, accuracy, margin). */
    public record Result(double[] losses, double[] rewardsChosen, double[] rewardsRejected, double[] stats) {}

    /** log σ(z) = min(z, 0) − log1p(exp(−|z|)). */
    public static double logSigmoid(double z) {
        return Math.min(z, 0) - Math.log1p(Math.exp(-Math.abs(z)));
    }

    /** The loss of one pair; rc, rr ignored for SIMPO, lc, lr ignored where lengths are not used. */
    public static double pairLoss(Type type, double beta, double eps, double gamma, double c, double r, double rc,
                                  double rr, double lc, double lr) {
        switch (type) {
            case SIGMOID, CDPO -> {
                double delta = (c - r) - (rc - rr);
                return -(1 - eps) * logSigmoid(beta * delta) - eps * logSigmoid(-beta * delta);
            }
            case ROBUST -> {
                double delta = (c - r) - (rc - rr);
                return (-(1 - eps) * logSigmoid(beta * delta) + eps * logSigmoid(-beta * delta)) / (1 - 2 * eps);
            }
            case HINGE -> {
                double delta = (c - r) - (rc - rr);
                return Math.max(0, 1 - beta * delta);
            }
            case IPO -> {
                double deltaBar = (c / lc - r / lr) - (rc / lc - rr / lr);
                double d = deltaBar - 1 / (2 * beta);
                return d * d;
            }
            case LN_DPO -> {
                double z = beta * ((c - rc) / lc - (r - rr) / lr);
                return -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
            }
            case SIMPO -> {
                double z = beta * c / lc - beta * r / lr - gamma;
                return -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
            }
            default -> throw new IllegalArgumentException("type " + type);
        }
    }

    public static double rewardChosen(Type type, double beta, double c, double rc, double lc) {
        return switch (type) {
            case IPO, LN_DPO -> beta * (c / lc - rc / lc);
            case SIMPO -> beta * c / lc;
            default -> beta * (c - rc);
        };
    }

    private static double at(float[] a, int i, double absent) {
        return a == null ? absent : a[i];
    }

    /** Mean loss over the batch (0 for B = 0), in double, from inputs given as doubles. */
    public static double meanLoss(Type type, double beta, double eps, double gamma, double[] c, double[] r,
                                  double[] rc, double[] rr, double[] lc, double[] lr) {
        int b = c.length;
        if (b == 0) return 0;
        double s = 0;
        for (int i = 0; i < b; i++)
            s += pairLoss(type, beta, eps, gamma, c[i], r[i], rc == null ? 0 : rc[i], rr == null ? 0 : rr[i],
                    lc == null ? 1 : lc[i], lr == null ? 1 : lr[i]);
        return s / b;
    }

    public static Result compute(Type type, double beta, double eps, double gamma, float[] c, float[] r, float[] rc,
                                 float[] rr, float[] lc, float[] lr) {
        int b = c.length;
        double[] losses = new double[b], rwc = new double[b], rwr = new double[b];
        double[] stats = new double[5];
        for (int i = 0; i < b; i++) {
            double vrc = at(rc, i, 0), vrr = at(rr, i, 0), vlc = at(lc, i, 1), vlr = at(lr, i, 1);
            losses[i] = pairLoss(type, beta, eps, gamma, c[i], r[i], vrc, vrr, vlc, vlr);
            rwc[i] = rewardChosen(type, beta, c[i], vrc, vlc);
            rwr[i] = rewardChosen(type, beta, r[i], vrr, vlr);
            stats[0] += losses[i];
            stats[1] += rwc[i];
            stats[2] += rwr[i];
            stats[3] += rwc[i] > rwr[i] ? 1 : 0;
            stats[4] += rwc[i] - rwr[i];
        }
        if (b > 0) for (int k = 0; k < 5; k++) stats[k] /= b;
        return new Result(losses, rwc, rwr, stats);
    }
}
