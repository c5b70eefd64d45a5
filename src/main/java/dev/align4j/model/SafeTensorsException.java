package dev.align4j.model;

import java.io.IOException;

/**
 * A safetensors file that is malformed (truncated, bad header, offsets that do not fit) or does not hold what
 * the caller requires (a tensor missing, or of the wrong dtype or shape). The message names the file and,
 * where there is one, the tensor.
 */
public class SafeTensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    public SafeTensorsException(String message) {
        super(message);
    }

    public SafeTensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
