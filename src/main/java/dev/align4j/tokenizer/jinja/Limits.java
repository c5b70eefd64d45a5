package dev.align4j.tokenizer.jinja;

/**
 * What one render may spend. Every evaluated node and loop iteration is a step; every string, list or output the
 * template builds is checked against {@code maxLength} before it is built; {@code range()} against {@code maxRange}
 * (Jinja's sandbox allows 100,000); macro calls nest at most {@code maxCallDepth} deep. A render past a limit stops
 * with a {@link TemplateException} naming it.
 */
public record Limits(long maxSteps, int maxLength, int maxRange, int maxCallDepth) {
    /** 5 million steps, 16 Mi characters, range(100000), macros 64 deep. */
    public static final Limits DEFAULT = new Limits(5_000_000L, 16 << 20, 100_000, 64);

    public Limits {
        if (maxSteps < 1 || maxLength < 1 || maxRange < 1 || maxCallDepth < 1)
            throw new IllegalArgumentException("limits must be >= 1: " + maxSteps + ", " + maxLength + ", " + maxRange + ", " + maxCallDepth);
    }

    void checkLength(long length, int line) {
        if (length > maxLength)
            throw new TemplateException(line, "output or string longer than " + maxLength + " characters (the sandbox's limit)");
    }
}
