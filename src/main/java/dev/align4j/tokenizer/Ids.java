package dev.align4j.tokenizer;

import java.nio.charset.StandardCharsets;

/** Validation and UTF-8 assembly shared by the tokenizers. */
final class Ids {
    private Ids() {}

    static void notNull(String name, Object value) {
        if (value == null) throw new IllegalArgumentException(name + " must not be null");
    }

    static void checkId(String name, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException(name + " = " + id + " is outside the vocabulary [0, " + vocabSize + ")");
        }
    }

    /** Every id in range, checked before any decoding so a failure never yields partial output. */
    static void checkIds(int[] ids, int vocabSize) {
        notNull("ids", ids);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException(
                        "ids[" + i + "] = " + ids[i] + " is outside the vocabulary [0, " + vocabSize + ")");
            }
        }
    }

    /**
     * UTF-8 decoding with replacement: {@code new String(byte[], UTF_8)} substitutes U+FFFD for malformed
     * and truncated sequences instead of throwing, which is the documented behaviour of
     * {@link Tokenizer#decode(int[], boolean)}.
     */
    static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
