package dev.align4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Gpt2TokenizerTest {
    private final Gpt2Tokenizer tok = new Gpt2Tokenizer();

    @Test
    void vocabularyAndSpecials() {
        assertEquals("gpt2", tok.name());
        assertEquals(50257, tok.vocabSize());
        assertEquals(50256, tok.eosId());
        assertEquals(50256, tok.bosId());
        assertEquals(50256, tok.padId(), "GPT-2 has no PAD: EOS by default");
        assertEquals(0, tok.withPadId(0).padId());
        assertEquals(50256, tok.withPadId(0).eosId());
        assertTrue(tok.isSpecial(50256));
        assertFalse(tok.isSpecial(0));
        assertFalse(tok.isSpecial(50255));
        assertEquals("<|endoftext|>", tok.tokenText(50256));
        assertEquals("!", tok.tokenText(0));
        assertEquals(" the", tok.tokenText(262));
    }

    @Test
    void knownGpt2Ids() {
        assertArrayEquals(new int[] {15496, 995}, tok.encode("Hello world"));
        assertArrayEquals(new int[] {262}, tok.encode(" the"));
        assertArrayEquals(new int[] {464}, tok.encode("The"));
        assertArrayEquals(new int[] {0}, tok.encode("!"));
        // tiktoken's documented example for GPT-2: "hello world" → [31373, 995].
        assertArrayEquals(new int[] {31373, 995}, tok.encode("hello world"));
        assertEquals("Hello world", tok.decode(new int[] {15496, 995}));
    }

    @Test
    void endOfTextInTextIsOrdinaryText() {
        String marker = "<|endoftext|>";
        int[] ids = tok.encode(marker);
        assertFalse(Arrays.equals(new int[] {50256}, ids), "the marker text must not become the special id");
        for (int id : ids) assertNotEquals(50256, id);
        assertTrue(ids.length > 1, Arrays.toString(ids));
        assertEquals(marker, tok.decode(ids));
        int[] doc = tok.encode("a" + marker + "b");
        assertEquals("a" + marker + "b", tok.decode(doc));
        for (int id : doc) assertNotEquals(50256, id);
    }

    @Test
    void decodeSpecials() {
        int[] hi = tok.encode("Hi there");
        int[] ids = new int[hi.length + 2];
        System.arraycopy(hi, 0, ids, 1, hi.length);
        ids[0] = 50256;
        ids[ids.length - 1] = 50256;
        assertEquals("<|endoftext|>Hi there<|endoftext|>", tok.decode(ids));
        assertEquals("Hi there", tok.decode(ids, true));
        assertEquals("Hi there", new String(tok.decodeBytes(ids), StandardCharsets.UTF_8));
        assertEquals("<|endoftext|><|endoftext|>", tok.decode(new int[] {50256, 50256}));
        assertEquals("", tok.decode(new int[] {50256, 50256}, true));
    }

    @Test
    void incompleteUtf8DecodesWithReplacement() {
        // An emoji is several byte-level tokens; a prefix of them is an incomplete UTF-8 sequence.
        String emoji = "🦙";
        int[] ids = tok.encode(emoji);
        assertTrue(ids.length > 1, "GPT-2 splits this emoji into byte tokens: " + Arrays.toString(ids));
        String partial = tok.decode(Arrays.copyOf(ids, ids.length - 1));
        assertTrue(partial.chars().allMatch(c -> c == 0xFFFD), "replacement only, got " + partial);
        assertTrue(tok.tokenText(ids[0]).contains("\uFFFD"));
        // Token-by-token bytes reassemble exactly (streaming).
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) bytes.writeBytes(tok.decodeBytes(new int[] {id}));
        assertEquals(emoji, bytes.toString(StandardCharsets.UTF_8));
        // An EOS in the middle of a character: neither half is glued across it.
        int[] split = {ids[0], 50256, ids[1]};
        assertTrue(tok.decode(split).startsWith("\uFFFD<|endoftext|>"));
    }

    @Test
    void everyIdDecodes() {
        // The vocabulary is dense: every ordinary id has bytes, and all of them together round-trip.
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (int id = 0; id < 50256; id++) {
            byte[] b = tok.decodeBytes(new int[] {id});
            assertTrue(b.length > 0, "id " + id);
            all.writeBytes(b);
        }
        int[] every = new int[50256];
        for (int i = 0; i < every.length; i++) every[i] = i;
        assertArrayEquals(all.toByteArray(), tok.decodeBytes(every));
    }

    @Test
    void badInputs() {
        TokenizerContract.rejectsBadInputs(tok);
        TokenizerContract.assertRejects(() -> tok.withPadId(50257), "padId");
    }

    @Test
    void emptyAndWhitespace() {
        assertEquals(0, tok.encode("").length);
        assertEquals("", tok.decode(new int[0]));
        for (String s : List.of(" ", "  ", "\n", "\n\n\n", "\t x  \n", "   leading", "trailing   ", "\r\n")) {
            assertEquals(s, tok.decode(tok.encode(s)), "whitespace " + s.replace("\n", "\\n"));
        }
    }

    @Test
    void randomUnicodeRoundTrips() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int trial = 0; trial < 200; trial++) {
            StringBuilder sb = new StringBuilder();
            int n = rnd.nextInt(30);
            for (int i = 0; i < n; i++) {
                int cp;
                switch (rnd.nextInt(4)) {
                    case 0: cp = 0x20 + rnd.nextInt(0x5F); break;           // ASCII
                    case 1: cp = 0xA0 + rnd.nextInt(0x2000); break;         // Latin .. Greek, Cyrillic, ...
                    case 2: cp = 0x4E00 + rnd.nextInt(0x5000); break;       // CJK
                    default: cp = 0x1F300 + rnd.nextInt(0x300); break;      // emoji
                }
                sb.appendCodePoint(cp);
            }
            String s = sb.toString();
            assertEquals(s, tok.decode(tok.encode(s)), "seed " + seed);
        }
    }

    @Test
    void realTextRoundTrips() {
        String shakespeare = RealText.tinyShakespeare();
        int[] ids = tok.encode(shakespeare);
        // OpenAI's tiktoken (r50k_base) gives 338,025 tokens for this whole file (checked once by hand; nanoGPT's
        // shakespeare prep reports the same total, 301,966 + 36,059, for its 90/10 split).
        assertEquals(338_025, ids.length, "tiny shakespeare GPT-2 token count");
        assertEquals(shakespeare, tok.decode(ids));

        for (String s : RealText.alpacaOutputs()) assertEquals(s, tok.decode(tok.encode(s)));

        List<RealText.Message> messages = RealText.oasstMessages();
        int cjk = 0, cyrillic = 0, emoji = 0;
        for (RealText.Message m : messages) {
            int[] mids = tok.encode(m.text());
            assertEquals(m.text(), tok.decode(mids), "lang " + m.lang());
            assertArrayEquals(m.text().getBytes(StandardCharsets.UTF_8), tok.decodeBytes(mids), "lang " + m.lang());
            if (RealText.hasCjk(m.text())) cjk++;
            if (RealText.hasCyrillic(m.text())) cyrillic++;
            if (RealText.hasSupplementary(m.text())) emoji++;
        }
        assertTrue(cjk > 0 && cyrillic > 0 && emoji > 0,
                "sample covers non-Latin scripts and emoji: cjk=" + cjk + " cyrillic=" + cyrillic + " emoji=" + emoji);
    }
}
