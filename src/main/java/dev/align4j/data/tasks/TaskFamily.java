package dev.align4j.data.tasks;

import java.util.Random;

/**
 * A family of generated problems (addition, reversal, ...) with its instruction templates and a difficulty fixed
 * at construction. Implementations: {@link Families}. Immutable; {@link #sample} draws only from {@code rnd}, so
 * a seeded generator gives the same tasks.
 */
public interface TaskFamily {
    /** Short name, unique in a suite ("add", "reverse"). */
    String name();

    /** Number of instruction templates (at least 3 for the built-in families). */
    int templateCount();

    /** Draws one problem instance with {@code rnd} and phrases it with template {@code template}. */
    Task sample(Random rnd, int template);

    /** The split of an instance; by default {@link Split#of(String, String)} of (name, input), template ignored. */
    default Split split(String input, int template) {
        return Split.of(name(), input);
    }

    /** A one-line description of the difficulty, for logs ("operands 0..49"). */
    String difficulty();
}
