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

    /** Rows {@code first}, {@code first + step}, ... of this batch (a rank's share of a data-parallel batch); null when none. */
    public Batch rows(int first, int step) {
        if (first < 0 || step < 1) throw new IllegalArgumentException("first must be >= 0 and step >= 1, got " + first + ", " + step);
        int n = first >= b ? 0 : (b - first + step - 1) / step;
        if (n == 0) return null;
        int[] in = new int[n * t], tg = new int[n * t];
        float[] m = new float[n * t];
        for (int i = 0; i < n; i++) {
            int r = first + i * step;
            System.arraycopy(inputs, r * t, in, i * t, t);
            System.arraycopy(targets, r * t, tg, i * t, t);
            System.arraycopy(mask, r * t, m, i * t, t);
        }
        return new Batch(n, t, in, tg, m);
    }

    /** Number of targets under the mask. */
    public long maskedTokens() {
        long c = 0;
        for (float m : mask) if (m != 0) c++;
        return c;
    }
}
