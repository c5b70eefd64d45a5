package dev.align4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.function.Executable;

/** What every {@link Tokenizer} promises about bad input: an IllegalArgumentException naming the argument or index. */
final class TokenizerContract {
    private TokenizerContract() {}

    /** Null text or ids, and ids outside {@code [0, V)} at a named index, in each method that takes them. */
    static void rejectsBadInputs(Tokenizer tok) {
        int v = tok.vocabSize();
        assertRejects(() -> tok.encode(null), "text");
        assertRejects(() -> tok.decode(null), "ids");
        assertRejects(() -> tok.decodeBytes(null), "ids");
        assertRejects(() -> tok.decode(new int[] {'a', 'b', v}), "ids[2]", "" + v);
        assertRejects(() -> tok.decode(new int[] {-1}, true), "ids[0]", "-1");
        assertRejects(() -> tok.decodeBytes(new int[] {-3}), "ids[0]", "-3");
        assertRejects(() -> tok.decodeBytes(new int[] {0, Integer.MAX_VALUE}), "ids[1]");
        assertRejects(() -> tok.tokenText(v), "id = " + v);
        assertThrows(IllegalArgumentException.class, () -> tok.isSpecial(-1));
        assertThrows(IllegalArgumentException.class, () -> tok.isSpecial(v));
    }

    /** {@code body} throws an IllegalArgumentException whose message holds every fragment. */
    static void assertRejects(Executable body, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, body);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
    }
}
