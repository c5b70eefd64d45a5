package dev.align4j.data.lm;

import dev.align4j.io.StrictUtf8;
import dev.align4j.tokenizer.ByteTokenizer;
import dev.align4j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A text tokenised once and split in two contiguous parts: the first {@code 1 − valFraction} for training,
 * the rest for validation (nanoGPT's split: no window straddles the two). Byte tokenizer by default
 * ({@link ByteTokenizer}); any {@link Tokenizer}, e.g. GPT-2's, through {@link #of(String, Tokenizer, double)}.
 */
public final class TextCorpus {
    /** nanoGPT's shakespeare_char split: the last 10% for validation. */
    public static final double DEFAULT_VAL_FRACTION = 0.1;

    private final Tokenizer tokenizer;
    private final TokenStream train, val;

    private TextCorpus(Tokenizer tokenizer, int[] ids, double valFraction) {
        this.tokenizer = tokenizer;
        int nVal = (int) Math.round(ids.length * valFraction);
        int nTrain = ids.length - nVal;
        this.train = new TokenStream(java.util.Arrays.copyOfRange(ids, 0, nTrain));
        this.val = new TokenStream(java.util.Arrays.copyOfRange(ids, nTrain, ids.length));
    }

    /** {@code text} under the byte tokenizer, the last 10% for validation. */
    public static TextCorpus of(String text) {
        return of(text, new ByteTokenizer(), DEFAULT_VAL_FRACTION);
    }

    public static TextCorpus of(String text, Tokenizer tokenizer, double valFraction) {
        if (text == null) throw new IllegalArgumentException("text must not be null");
        if (tokenizer == null) throw new IllegalArgumentException("tokenizer must not be null");
        if (!(valFraction >= 0 && valFraction < 1)) throw new IllegalArgumentException("valFraction must be in [0, 1), got " + valFraction);
        return new TextCorpus(tokenizer, tokenizer.encode(text), valFraction);
    }

    /** A UTF-8 text file; invalid UTF-8 is an IOException naming the file and the byte offset ({@link StrictUtf8}). */
    public static TextCorpus read(Path file, Tokenizer tokenizer, double valFraction) throws IOException {
        return of(StrictUtf8.read(file), tokenizer, valFraction);
    }

    public static TextCorpus read(Path file) throws IOException {
        return read(file, new ByteTokenizer(), DEFAULT_VAL_FRACTION);
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public TokenStream train() {
        return train;
    }

    public TokenStream val() {
        return val;
    }
}
