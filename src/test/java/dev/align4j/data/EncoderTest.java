package dev.align4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class EncoderTest {
    static int[] trainedIds(TokenizedSft t) {
        return java.util.stream.IntStream.range(0, t.length()).filter(j -> t.trained()[j] == 1f).map(j -> t.tokens()[j]).toArray();
    }

    @Test
    void maskMarksExactlyTheResponseAndItsEos() {
        for (String name : new String[] {"byte", "gpt2"}) {
            Tokenizer tok = Tokenizers.byName(name);
            Encoder enc = new Encoder(tok, 512);
            String prompt = "Translate to French: the cat\nAnswer:", response = " le chat";
            TokenizedSft t = enc.encode(prompt, response);
            int[] p = enc.encodePrompt(prompt);
            assertArrayEquals(p, Arrays.copyOf(t.tokens(), p.length), name + ": the prompt alone is a prefix");
            int[] r = trainedIds(t);
            assertEquals(tok.eosId(), r[r.length - 1], name + ": EOS ends the response, inside the mask");
            assertEquals(response, tok.decode(Arrays.copyOf(r, r.length - 1)), name);
            assertEquals(t.length() - p.length, r.length, name + ": every id after the prompt is trained");
            assertEquals(0, enc.truncated());
        }
    }

    @Test
    void chatSegmentsTrainEveryAssistantTurn() {
        Tokenizer tok = Tokenizers.byName("byte");
        SftExample ex = new SftExample(List.of(new SftExample.Segment("U: hi\nA:", false), new SftExample.Segment(" hello", true),
                new SftExample.Segment("\nU: bye\nA:", false), new SftExample.Segment(" ciao", true)), "chat");
        TokenizedSft t = new Encoder(tok, 512).encode(ex);
        int[] r = trainedIds(t);
        String s = tok.decode(r);
        assertEquals(" hello" + tok.tokenText(tok.eosId()) + " ciao" + tok.tokenText(tok.eosId()), s);
        assertEquals("U: hi\nA:", ex.prompt());
    }

    @Test
    void truncationKeepsThePromptEndAndTheResponseStart() {
        Tokenizer tok = Tokenizers.byName("byte");
        Encoder enc = new Encoder(tok, 20);
        // long prompt, short response: the prompt keeps its last 20 − 4 ids, the response (3 + EOS) is whole
        TokenizedSft a = enc.encode("0123456789abcdefghijklmnop", "xyz");
        assertEquals(20, a.length());
        assertEquals("abcdefghijklmnop", tok.decode(Arrays.copyOf(a.tokens(), 16)));
        assertEquals(tok.eosId(), a.tokens()[19]);
        // short prompt, long response: the response keeps its first ids and loses its EOS
        TokenizedSft b = enc.encode("Q:", "0123456789abcdefghijklmnop");
        assertEquals(20, b.length());
        assertEquals("Q:0123456789abcdefgh", tok.decode(b.tokens()));
        assertTrue(Arrays.stream(b.tokens()).noneMatch(x -> x == tok.eosId()));
        // both long: the prompt keeps max/2 = 10 of its last ids
        TokenizedSft c = enc.encode("0123456789abcdefghijklmnop", "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        assertEquals("ghijklmnopABCDEFGHIJ", tok.decode(c.tokens()));
        assertEquals(3, enc.truncated());
        assertEquals(3, enc.encoded());
    }

    @Test
    void pairsShareOnePromptCut() {
        Tokenizer tok = Tokenizers.byName("byte");
        Encoder enc = new Encoder(tok, 16);
        TokenizedPair p = enc.encode(new PreferencePair("0123456789abcdef", "good", "a much longer bad one", "t"));
        assertEquals("89abcdef", tok.decode(p.prompt()));
        assertEquals("good" + tok.tokenText(tok.eosId()), tok.decode(p.chosen()));
        assertEquals("a much l", tok.decode(p.rejected()));
        assertEquals(1, enc.truncated());
    }

    @Test
    void emptyPromptGetsBosAndBadInputIsNamed() {
        Tokenizer tok = Tokenizers.byName("byte");
        TokenizedSft t = new Encoder(tok, 64).encode("", "hi");
        assertEquals(tok.bosId(), t.tokens()[0]);
        assertEquals(0f, t.trained()[0]);
        assertThrows(IllegalArgumentException.class, () -> SftExample.of("p", "", "x.json:3"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PreferencePair("p", "", "r", "pairs.jsonl:7"));
        assertTrue(e.getMessage().contains("chosen") && e.getMessage().contains("pairs.jsonl:7"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Encoder(tok, 2));
        assertThrows(IllegalArgumentException.class, () -> new Encoder(null, 64));
    }
}
