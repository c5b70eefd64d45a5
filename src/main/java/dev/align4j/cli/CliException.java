package dev.align4j.cli;

/**
 * A failure the command line reports as one line on stderr ({@code align4j <cmd>: message}) with an exit code:
 * {@link #USAGE} (2) for bad arguments, files or values, {@link #FAILURE} (1) for a failure while running.
 */
public final class CliException extends RuntimeException {
    public static final int USAGE = 2;
    public static final int FAILURE = 1;

    private final int exitCode;

    public CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    /** A usage error (exit code 2). */
    public static CliException usage(String message) {
        return new CliException(USAGE, message);
    }

    public int exitCode() {
        return exitCode;
    }
}
