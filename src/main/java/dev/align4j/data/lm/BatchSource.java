package dev.align4j.data.lm;

import dev.align4j.data.DataPosition;

/**
 * Where training batches come from. A source has an explicit position (the number of sequences drawn so
 * far) and every draw is a pure function of (seed, position, step), so {@link #seek} to a saved position
 * resumes the exact sequence of batches.
 */
public interface BatchSource extends DataPosition {
    /** The next {@code b} sequences of {@code t} targets for 0-based step {@code step} of {@code totalSteps}; advances by {@code b}. */
    Batch next(int b, int t, long step, long totalSteps);

    /** The share of instruction examples at 0-based {@code step} of {@code totalSteps} (reported only); 0 for text alone. */
    default double share(long step, long totalSteps) {
        return 0;
    }

    /** Random windows of a text, no instruction data. */
    static BatchSource text(TokenStream text, long seed) {
        return new MixedBatches(text, null, MidTrainingMixture.NONE, seed);
    }

    /** Text mixed with instruction examples on {@code mixture}'s schedule. */
    static BatchSource mixed(TokenStream text, InstructionSource instructions, MidTrainingMixture mixture, long seed) {
        return new MixedBatches(text, instructions, mixture, seed);
    }
}
