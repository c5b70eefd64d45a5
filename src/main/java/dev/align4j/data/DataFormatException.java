package dev.align4j.data;

import java.io.IOException;
import java.nio.file.Path;

/** A record that cannot be read: names the file, the 1-based line (0 when not line-based) and the reason. */
public final class DataFormatException extends IOException {
    private final transient Path file;
    private final long line;
    private final String reason;

    public DataFormatException(Path file, long line, String reason) {
        super(file + (line > 0 ? ":" + line : "") + ": " + reason);
        this.file = file;
        this.line = line;
        this.reason = reason;
    }

    public DataFormatException(Path file, long line, String reason, Throwable cause) {
        this(file, line, reason);
        initCause(cause);
    }

    public Path file() {
        return file;
    }

    public long line() {
        return line;
    }

    /** The reason alone (without file and line): also the key of skip counts. */
    public String reason() {
        return reason;
    }
}
