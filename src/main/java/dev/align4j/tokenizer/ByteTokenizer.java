package dev.align4j.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Byte-level tokenizer: the text's UTF-8 bytes are the ids 0..255, followed by three specials — EOS 256
 * ({@code <|endoftext|>}), BOS 257 ({@code <|startoftext|>}), PAD 258 ({@code <|pad|>}) — for a vocabulary
 * of 259. The default for tiny models: no merges, no out-of-vocabulary text, any byte string round-trips.
 *
 * <p>{@link #padded(int)} rounds the vocabulary up to a multiple (64 gives 320), because an output
 * projection whose V is a multiple of 64 maps onto GEMM tiles without a ragged edge. The extra ids
 * 259..V-1 are never produced by {@link #encode(String)}; they are special ids whose marker is
 * {@code <|unused:ID|>} (an untrained model may still sample them, and the marker makes that visible).
 */
public final class ByteTokenizer extends BaseTokenizer {
    public static final int EOS = 256;
    public static final int BOS = 257;
    public static final int PAD = 258;
    /** Byte ids plus the three specials. */
    public static final int BASE_VOCAB = 259;

    private static final String EOS_TEXT = "<|endoftext|>";
    private static final String BOS_TEXT = "<|startoftext|>";
    private static final String PAD_TEXT = "<|pad|>";

    /** The plain 259-id vocabulary. */
    public ByteTokenizer() {
        this(BASE_VOCAB);
    }

    private ByteTokenizer(int vocabSize) {
        super("byte", vocabSize, EOS, BOS, PAD);
    }

    /** Vocabulary rounded up to a multiple of {@code multiple} (e.g. 64 → 320); 1 gives the plain 259. */
    public static ByteTokenizer padded(int multiple) {
        if (multiple < 1) throw new IllegalArgumentException("multiple must be >= 1, got " + multiple);
        long v = (BASE_VOCAB + (long) multiple - 1) / multiple * multiple;
        if (v > Integer.MAX_VALUE) throw new IllegalArgumentException("multiple " + multiple + " is too large");
        return new ByteTokenizer((int) v);
    }

    @Override
    boolean special(int id) {
        return id >= 256;
    }

    @Override
    String marker(int id) {
        switch (id) {
            case EOS: return EOS_TEXT;
            case BOS: return BOS_TEXT;
            case PAD: return PAD_TEXT;
            default: return "<|unused:" + id + "|>";
        }
    }

    @Override
    public int[] encode(String text) {
        Ids.notNull("text", text);
        // Unpaired surrogates become '?' here (Java's UTF-8 encoder replaces them); every well-formed
        // string round-trips exactly.
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) ids[i] = bytes[i] & 0xFF;
        return ids;
    }

    @Override
    byte[] ordinaryBytes(int[] ids, int from, int to) {
        byte[] b = new byte[to - from];
        for (int i = from; i < to; i++) b[i - from] = (byte) ids[i];
        return b;
    }

    @Override
    public String toString() {
        return "ByteTokenizer(vocab=" + vocabSize() + ")";
    }
}
