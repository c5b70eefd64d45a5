package dev.align4j.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

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

    /**
     * The Hugging Face tokenizer of a model folder when it holds {@value HfTokenizer#TOKENIZER_FILE}
     * ({@link HfTokenizer#load(Path)}), else empty (the caller then infers byte or gpt2 from the vocabulary).
     */
    public static Optional<HfTokenizer> forModel(Path dir) throws IOException {
        Ids.notNull("dir", dir);
        return HfTokenizer.isTokenizerDir(dir) ? Optional.of(HfTokenizer.load(dir)) : Optional.empty();
    }
}
