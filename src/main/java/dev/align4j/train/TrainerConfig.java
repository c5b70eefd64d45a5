package dev.align4j.train;

/**
 * What every trainer's config holds — a {@link Schedule} and an {@link OptimConfig} — and the shortcuts onto them,
 * written once here instead of once per config. A config record implements the two {@code with} methods; the rest
 * follows.
 */
public interface TrainerConfig<C extends TrainerConfig<C>> {
    Schedule schedule();

    OptimConfig optim();

    C withSchedule(Schedule s);

    C withOptim(OptimConfig o);

    default long steps() {
        return schedule().steps();
    }

    default long evalEvery() {
        return schedule().evalEvery();
    }

    default long checkpointEvery() {
        return schedule().checkpointEvery();
    }

    default long seed() {
        return schedule().seed();
    }

    default C withSteps(long s) {
        return withSchedule(schedule().withSteps(s));
    }

    /** Evaluation and checkpoint cadence (0 and 0: no evaluation, a checkpoint only at the end). */
    default C withSchedule(long evalEvery, long checkpointEvery) {
        return withSchedule(schedule().withCadence(evalEvery, checkpointEvery));
    }

    default C withSeed(long s) {
        return withSchedule(schedule().withSeed(s));
    }
}
