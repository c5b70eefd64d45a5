package dev.align4j.testing;

import java.util.Random;

/** Random test inputs (never all zeros). */
public final class Rand {
    private Rand() {}

    public static float[] normal(Random r, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    public static float[] uniform(Random r, int n, double lo, double hi) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return x;
    }

    public static int[] ints(Random r, int n, int bound) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(bound);
        return x;
    }

    /** 0/1 mask with ones at probability p. */
    public static float[] mask(Random r, int n, double p) {
        float[] m = new float[n];
        for (int i = 0; i < n; i++) m[i] = r.nextDouble() < p ? 1f : 0f;
        return m;
    }

    public static float[] filled(int n, float v) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, v);
        return x;
    }
}
