package dev.align4j.train;

import java.nio.file.Path;

/**
 * A NaN or infinite loss or gradient norm: the run stops before the update, so the parameters and the
 * checkpoints stay as they were after the last good step; {@link #lastCheckpoint()} is the one to resume
 * from (null when none was written).
 */
public final class TrainingDivergedException extends RuntimeException {
    private final long step;
    private final Path lastCheckpoint;

    TrainingDivergedException(long step, String what, double value, Path lastCheckpoint) {
        super("training diverged at step " + step + ": " + what + " is " + value + "; parameters not updated, last good checkpoint: "
                + (lastCheckpoint == null ? "none" : lastCheckpoint.toString()));
        this.step = step;
        this.lastCheckpoint = lastCheckpoint;
    }

    /** The 1-based step that failed. */
    public long step() {
        return step;
    }

    public Path lastCheckpoint() {
        return lastCheckpoint;
    }
}
