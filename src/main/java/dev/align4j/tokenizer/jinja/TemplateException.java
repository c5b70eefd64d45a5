package dev.align4j.tokenizer.jinja;

/**
 * A chat template that cannot be parsed or rendered: a syntax error, an unsafe access (the sandbox), a broken limit,
 * a type error, or the template's own {@code raise_exception(...)}. The message is one line naming the template line.
 */
public class TemplateException extends RuntimeException {
    private final int line;

    public TemplateException(int line, String message) {
        super("chat template line " + line + ": " + message);
        this.line = line;
    }

    /** The template line (1-based) where it happened. */
    public int line() {
        return line;
    }
}
