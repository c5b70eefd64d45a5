package dev.align4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ByteTokenizerTest {
    private final ByteTokenizer tok = new ByteTokenizer();

    @Test
    void vocabularyAndSpecials() {
        assertEquals(259, tok.vocabSize());
        assertEquals(256, tok.eosId());
        assertEquals(257, tok.bosId());
        assertEquals(258, tok.padId());
        assertEquals("byte", tok.name());
        for (int id = 0; id < 256; id++) assertFalse(tok.isSpecial(id), "id " + id);
        for (int id = 256; id < 259; id++) assertTrue(tok.isSpecial(id), "id " + id);
        assertEquals("<|endoftext|>", tok.tokenText(256));
        assertEquals("<|startoftext|>", tok.tokenText(257));
        assertEquals("<|pad|>", tok.tokenText(258));
        assertEquals("A", tok.tokenText('A'));
        assertEquals("\uFFFD", tok.tokenText(0xE2), "a lone lead byte shows as U+FFFD");
    }

    @Test
    void paddedVocabulary() {
        ByteTokenizer p = ByteTokenizer.padded(64);
        assertEquals(320, p.vocabSize());
        assertEquals(0, p.vocabSize() % 64);
        assertEquals(259, ByteTokenizer.padded(1).vocabSize());
        assertEquals(259, ByteTokenizer.padded(259).vocabSize());
        assertEquals(384, ByteTokenizer.padded(128).vocabSize());
        assertTrue(p.isSpecial(300));
        assertEquals("<|unused:300|>", p.tokenText(300));
        assertEquals("a<|unused:319|>b", p.decode(new int[] {'a', 319, 'b'}));
        assertEquals("ab", p.decode(new int[] {'a', 319, 'b'}, true));
        assertArrayEquals(tok.encode("same ids"), p.encode("same ids"));
        assertThrows(IllegalArgumentException.class, () -> p.decode(new int[] {320}));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {300}), "unpadded vocab ends at 259");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ByteTokenizer.padded(0));
        assertTrue(e.getMessage().contains("multiple"), e.getMessage());
    }

    @Test
    void allBytesRoundTrip() {
        byte[] all = new byte[256];
        int[] ids = new int[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
            ids[i] = i;
        }
        assertArrayEquals(all, tok.decodeBytes(ids));
        // Every single byte: encode(decode) of a valid one-byte UTF-8 string and decodeBytes of each id.
        for (int i = 0; i < 256; i++) {
            assertArrayEquals(new byte[] {(byte) i}, tok.decodeBytes(new int[] {i}), "byte " + i);
            if (i < 0x80) assertArrayEquals(new int[] {i}, tok.encode(tok.decode(new int[] {i})), "ascii " + i);
        }
        // Every pair of bytes, so every 2-byte UTF-8 sequence and every malformed pair is covered.
        for (int a = 0; a < 256; a++) {
            for (int b = 0; b < 256; b++) {
                int[] pair = {a, b};
                byte[] bytes = {(byte) a, (byte) b};
                assertArrayEquals(bytes, tok.decodeBytes(pair));
                assertEquals(new String(bytes, StandardCharsets.UTF_8), tok.decode(pair), "bytes " + a + "," + b);
            }
        }
    }

    @Test
    void everyCodePointRoundTrips() {
        StringBuilder sb = new StringBuilder();
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            if (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE) continue;
            sb.appendCodePoint(cp);
        }
        String s = sb.toString();
        int[] ids = tok.encode(s);
        assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), tok.decodeBytes(ids));
        assertEquals(s, tok.decode(ids));
    }

    @Test
    void invalidUtf8DecodesWithReplacement() {
        // Truncated 3-byte sequence (first two bytes of '€' = E2 82 AC).
        assertEquals("x\uFFFD", tok.decode(new int[] {'x', 0xE2, 0x82}));
        // Lone continuation byte, overlong encoding of '/', surrogate encoded in UTF-8, byte 0xFF.
        assertEquals("\uFFFDa", tok.decode(new int[] {0x80, 'a'}));
        assertFalse(tok.decode(new int[] {0xC0, 0xAF}).contains("/"), "overlong forms must not decode");
        assertTrue(tok.decode(new int[] {0xED, 0xA0, 0x80}).chars().allMatch(c -> c == 0xFFFD));
        assertEquals("\uFFFD", tok.decode(new int[] {0xFF}));
        // A special splits a character: both halves are malformed, nothing is glued across it.
        String s = tok.decode(new int[] {0xE2, 0x82, 256, 0xAC});
        assertEquals("\uFFFD<|endoftext|>\uFFFD", s);
        // Streaming: decodeBytes keeps the split character's bytes exact.
        assertEquals("€", new String(tok.decodeBytes(new int[] {0xE2, 0x82, 256, 0xAC}), StandardCharsets.UTF_8));
    }

    @Test
    void specialsInTextAreOrdinaryText() {
        String marker = "<|endoftext|>";
        int[] ids = tok.encode(marker);
        assertEquals(marker.length(), ids.length);
        for (int id : ids) assertTrue(id < 256, "encode never yields a special id: " + id);
        assertEquals(marker, tok.decode(ids));
        assertEquals("hi<|endoftext|>", tok.decode(new int[] {'h', 'i', 256}));
        assertEquals("<|startoftext|>hi<|pad|><|pad|>", tok.decode(new int[] {257, 'h', 'i', 258, 258}));
        assertEquals("hi", tok.decode(new int[] {257, 'h', 'i', 256, 258}, true));
        assertArrayEquals("hi".getBytes(StandardCharsets.UTF_8), tok.decodeBytes(new int[] {257, 'h', 'i', 256}));
    }

    @Test
    void emptyAndSurrogates() {
        assertEquals(0, tok.encode("").length);
        assertEquals("", tok.decode(new int[0]));
        assertEquals(0, tok.decodeBytes(new int[0]).length);
        // An unpaired surrogate is not representable in UTF-8: documented to come back as '?'.
        assertEquals("a?b", tok.decode(tok.encode("a\uD800b")));
    }

    @Test
    void badInputs() {
        TokenizerContract.rejectsBadInputs(tok);
        TokenizerContract.rejectsBadInputs(ByteTokenizer.padded(64));
    }

    @Test
    void randomBytesDecodeLikeJava() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int trial = 0; trial < 200; trial++) {
            int n = rnd.nextInt(40);
            byte[] bytes = new byte[n];
            rnd.nextBytes(bytes);
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = bytes[i] & 0xFF;
            assertEquals(new String(bytes, StandardCharsets.UTF_8), tok.decode(ids), "seed " + seed);
            assertArrayEquals(bytes, tok.decodeBytes(ids), "seed " + seed);
        }
    }

    @Test
    void realTextRoundTrips() {
        String shakespeare = RealText.tinyShakespeare();
        int[] ids = tok.encode(shakespeare);
        assertEquals(shakespeare.getBytes(StandardCharsets.UTF_8).length, ids.length);
        assertEquals(shakespeare, tok.decode(ids));

        for (String s : RealText.alpacaOutputs()) assertEquals(s, tok.decode(tok.encode(s)));

        List<RealText.Message> messages = RealText.oasstMessages();
        for (RealText.Message m : messages) {
            int[] mids = tok.encode(m.text());
            assertEquals(m.text(), tok.decode(mids), "lang " + m.lang());
            assertArrayEquals(m.text().getBytes(StandardCharsets.UTF_8), tok.decodeBytes(mids), "lang " + m.lang());
        }
        assertTrue(messages.stream().anyMatch(m -> RealText.hasCjk(m.text())), "sample has CJK text");
        assertTrue(messages.stream().anyMatch(m -> RealText.hasSupplementary(m.text())), "sample has emoji");
    }
}
