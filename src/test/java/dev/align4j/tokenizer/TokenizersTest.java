package dev.align4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenizersTest {
    @Test
    void byName() {
        Tokenizer b = Tokenizers.byName("byte");
        assertInstanceOf(ByteTokenizer.class, b);
        assertEquals(259, b.vocabSize());
        Tokenizer g = Tokenizers.byName("gpt2");
        assertInstanceOf(Gpt2Tokenizer.class, g);
        assertEquals(50257, g.vocabSize());
        for (String name : Tokenizers.NAMES) assertEquals(name, Tokenizers.byName(name).name());
    }

    @Test
    void badNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.byName("bpe"));
        assertTrue(e.getMessage().contains("bpe") && e.getMessage().contains("gpt2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.byName(null));
        assertTrue(e.getMessage().contains("name"), e.getMessage());
    }

    @Test
    void sameContractForBoth() {
        String text = "Ünïcödé, 日本語, русский, 🦙 and <|endoftext|>.";
        for (String name : Tokenizers.NAMES) {
            Tokenizer t = Tokenizers.byName(name);
            int[] ids = t.encode(text);
            for (int id : ids) assertTrue(id >= 0 && id < t.vocabSize() && !t.isSpecial(id), name + " id " + id);
            assertEquals(text, t.decode(ids), name);
            assertEquals("<|endoftext|>", t.tokenText(t.eosId()), name);
        }
    }
}
