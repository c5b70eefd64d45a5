package dev.align4j.data.lm;

/**
 * One micro-batch on the host, row-major {@code [b, t]}: {@code inputs}, next-token {@code targets} and the
 * loss {@code mask} (1 = the target is trained on; 0 for padding and prompts).
 */
public record Batch(int b, int t, int[] inputs, int[] targets, float[] mask) {
    public Batch {
        if (b < 1 || t < 1) throw new IllegalArgumentException("b and t must be >= 1, got " + b + ", " + t);
        long n = (long) b * t;
        if (inputs.length != n || targets.length != n || mask.length != n)
            throw new IllegalArgumentException("inputs/targets/mask must have b·t = " + n + " values");
    }

    /** Number of targets under the mask. */
    public long maskedTokens() {
        long c = 0;
        for (float m : mask) if (m != 0) c++;
        return c;
    }
}
