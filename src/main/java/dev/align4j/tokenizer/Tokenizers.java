package dev.align4j.tokenizer;

import java.util.List;

/** Tokenizers by name, for configuration files and command lines. */
public final class Tokenizers {
    private Tokenizers() {}

    /** The names {@link #byName(String)} accepts. */
    public static final List<String> NAMES = List.of("byte", "gpt2");

    /**
     * {@code "byte"}: {@link ByteTokenizer} (259 ids); {@code "gpt2"}: {@link Gpt2Tokenizer} (r50k_base,
     * 50257 ids, PAD = EOS). Names are exact and lower-case.
     */
    public static Tokenizer byName(String name) {
        Ids.notNull("name", name);
        switch (name) {
            case "byte": return new ByteTokenizer();
            case "gpt2": return new Gpt2Tokenizer();
            default:
                throw new IllegalArgumentException("unknown tokenizer name \"" + name + "\"; known: " + NAMES);
        }
    }
}
