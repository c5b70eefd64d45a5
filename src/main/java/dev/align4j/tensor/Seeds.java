package dev.align4j.tensor;

/**
 * Counter-based randomness: a draw is a pure function of (seed, index, stream), so a data position (a count of
 * draws) is the whole RNG state, and resuming at a position replays exactly what an uninterrupted run draws.
 * SplitMix64's finaliser (Steele, Lea, Flood 2014) over the mixed inputs.
 */
public final class Seeds {
    private Seeds() {}

    public static long mix(long seed, long index, long stream) {
        long z = seed + 0x9E3779B97F4A7C15L * (index + 1) + 0xD1B54A32D192ED03L * (stream + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 53 bits. */
    public static double unit(long seed, long index, long stream) {
        return (mix(seed, index, stream) >>> 11) * 0x1.0p-53;
    }

    /** Uniform in [0, bound) (bias below 2^-32 for bound < 2^32). */
    public static long below(long seed, long index, long stream, long bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be > 0, got " + bound);
        return Long.remainderUnsigned(mix(seed, index, stream), bound);
    }
}
