package dev.align4j.train;

import dev.align4j.config.Knob;

/**
 * The step cadence every trainer shares: how many optimizer steps, how often to evaluate and checkpoint, and the
 * seed of the data order (and, where a trainer samples, of its sampling).
 *
 * @param steps           optimizer steps (>= 1)
 * @param evalEvery       steps between evaluations; 0: never (a due evaluation also runs at the last step)
 * @param checkpointEvery steps between checkpoints; 0: only at the end
 * @param seed            data order and sampling
 */
public record Schedule(@Knob(doc = "optimizer steps") long steps,
                       @Knob(doc = "steps between evaluations (0: never)") long evalEvery,
                       @Knob(doc = "steps between checkpoints (0: only at the end)") long checkpointEvery,
                       @Knob(doc = "seed of the data order and sampling") long seed) {
    public Schedule {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (evalEvery < 0) throw new IllegalArgumentException("evalEvery must be >= 0, got " + evalEvery);
        if (checkpointEvery < 0) throw new IllegalArgumentException("checkpointEvery must be >= 0, got " + checkpointEvery);
    }

    public Schedule withSteps(long s) {
        return new Schedule(s, evalEvery, checkpointEvery, seed);
    }

    public Schedule withCadence(long eval, long checkpoint) {
        return new Schedule(steps, eval, checkpoint, seed);
    }

    public Schedule withSeed(long s) {
        return new Schedule(steps, evalEvery, checkpointEvery, s);
    }

    /** Whether step {@code s} (1-based) evaluates: every {@code evalEvery} steps and at the last. */
    public boolean evaluatesAt(long s) {
        return evalEvery > 0 && (s % evalEvery == 0 || s == steps);
    }

    /** Whether step {@code s} (1-based) checkpoints: every {@code checkpointEvery} steps and at the last. */
    public boolean checkpointsAt(long s) {
        return (checkpointEvery > 0 && s % checkpointEvery == 0) || s == steps;
    }
}
