package dev.align4j.reference;

/** torch.nn.utils.clip_grad_norm_ in double: norm = ‖g‖₂, scale = clamp(maxNorm / (norm + 1e-6), max = 1). */
public final class GradNormReference {
    private GradNormReference() {}

    public static double norm(float[] g) {
        double s = 0;
        for (float x : g) s += (double) x * x;
        return Math.sqrt(s);
    }

    /** NaN stays NaN (torch.clamp), +inf norm gives 0. */
    public static double scale(double norm, double maxNorm) {
        double c = maxNorm / (norm + 1e-6);
        return c > 1 ? 1 : c;
    }
}
