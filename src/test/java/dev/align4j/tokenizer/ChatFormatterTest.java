package dev.align4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.ChatTemplate;
import dev.align4j.data.Encoder;
import dev.align4j.data.SftExample;
import dev.align4j.data.TokenizedSft;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Assistant-only masks on real templates (Qwen3 from ../shared, Llama 3 and Gemma 3 from tools/out/tokenizers; each
 * skips when absent): the mask covers exactly the reply and its end-of-turn token.
 */
class ChatFormatterTest {
    static Map<String, Object> msg(String role, String content) {
        return Map.of("role", role, "content", content);
    }

    /** The decoded text of the trained tokens, runs joined with "|". */
    static String trainedText(HfTokenizer tok, ChatFormatter.Masked m) {
        StringBuilder sb = new StringBuilder();
        List<Integer> run = new ArrayList<>();
        for (int j = 0; j <= m.ids().length; j++) {
            if (j < m.ids().length && m.mask()[j] == 1) {
                run.add(m.ids()[j]);
                continue;
            }
            if (!run.isEmpty()) {
                if (sb.length() > 0) sb.append('|');
                sb.append(tok.decode(run.stream().mapToInt(Integer::intValue).toArray()));
                run.clear();
            }
        }
        return sb.toString();
    }

    @Test
    void qwen3SingleTurnTrainsTheReplyAndImEnd() {
        HfTokenizer q = HfTokenizerGoldenTest.tokenizer("qwen3");
        ChatFormatter f = ChatFormatter.of(q);
        List<Map<String, Object>> c = List.of(msg("system", "Be brief."), msg("user", "Hi?"), msg("assistant", "Hello!"));
        List<ChatFormatter.Masked> out = f.encodeAllAssistant(c);
        assertEquals(1, out.size());
        ChatFormatter.Masked m = out.get(0);
        assertEquals("<think>\n\n</think>\n\nHello!<|im_end|>", trainedText(q, m));
        assertArrayEquals(q.encodeWithSpecials(f.render(c, false)), m.ids());
        // the prompt the model is fed at generation time is a prefix of the training sequence
        int[] prompt = f.encodePrompt(c.subList(0, 2));
        for (int j = 0; j < prompt.length; j++) assertEquals(prompt[j], m.ids()[j]);
        assertEquals(0, m.mask()[prompt.length - 1]);
        assertEquals(1, m.mask()[prompt.length]);
    }

    @Test
    void qwen3MultiTurnIsSplitBecauseTheTemplateRewritesEarlierReplies() {
        HfTokenizer q = HfTokenizerGoldenTest.tokenizer("qwen3");
        List<Map<String, Object>> c = List.of(msg("user", "2+2?"), msg("assistant", "4"), msg("user", "3*3?"), msg("assistant", "9"));
        ChatFormatter f = ChatFormatter.of(q);
        List<ChatFormatter.Masked> auto = f.encodeAllAssistant(c);
        assertEquals(2, auto.size(), "the first reply renders without <think> once a user message follows it");
        assertEquals("<think>\n\n</think>\n\n4<|im_end|>", trainedText(q, auto.get(0)));
        assertEquals("<think>\n\n</think>\n\n9<|im_end|>", trainedText(q, auto.get(1)));
        List<ChatFormatter.Masked> single = f.withMultiTurn(ChatFormatter.MultiTurn.SINGLE_SEQUENCE).encodeAllAssistant(c);
        assertEquals(1, single.size());
        assertEquals("4<|im_end|>|<think>\n\n</think>\n\n9<|im_end|>", trainedText(q, single.get(0)));
        // with enable_thinking=false the replies do not change with later turns... except the template's own rule
        List<ChatFormatter.Masked> last = f.encode(c, Set.of(3));
        assertEquals(1, last.size());
        assertEquals("<think>\n\n</think>\n\n9<|im_end|>", trainedText(q, last.get(0)));
    }

    @Test
    void injectedSpecialTextBecomesTheSpecialIdAsInTransformers() {
        HfTokenizer q = HfTokenizerGoldenTest.tokenizer("qwen3");
        ChatFormatter f = ChatFormatter.of(q);
        List<Map<String, Object>> c = List.of(msg("user", "print <|im_end|> please"), msg("assistant", "ok <|im_end|> done"));
        ChatFormatter.Masked m = f.encodeAllAssistant(c).get(0);
        long ends = java.util.Arrays.stream(m.ids()).filter(id -> id == 151645).count();
        assertEquals(4, ends, "two from the template, one from each message (transformers' default)");
        assertEquals("<think>\n\n</think>\n\nok <|im_end|> done<|im_end|>", trainedText(q, m));
    }

    @Test
    void llama3AndGemma3Masks() {
        HfTokenizer l3 = HfTokenizerGoldenTest.tokenizer("llama3");
        List<Map<String, Object>> c = List.of(msg("user", "Hi"), msg("assistant", " Hello there "), msg("user", "Bye"), msg("assistant", "Bye!"));
        // Llama 3's first template writes the assistant header unconditionally (add_generation_prompt changes nothing), so
        // the reply starts at the message's content; the turn ends with <|eot_id|>
        ChatFormatter f = ChatFormatter.of(l3);
        List<ChatFormatter.Masked> m = f.encodeAllAssistant(c);
        assertEquals(1, m.size());
        assertEquals("Hello there<|eot_id|>|Bye!<|eot_id|>", trainedText(l3, m.get(0)));
        HfTokenizer g3 = HfTokenizerGoldenTest.tokenizer("gemma3");
        ChatFormatter.Masked g = ChatFormatter.of(g3).encodeAllAssistant(c).get(0);
        assertEquals("Hello there<end_of_turn>|Bye!<end_of_turn>", trainedText(g3, g));
    }

    @Test
    void generationBlocksAreUsedWhenPresent() {
        HfTokenizer q = HfTokenizerGoldenTest.tokenizer("qwen3");
        String t = "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<|im_end|>"
                + "{% endgeneration %}{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}";
        ChatFormatter f = ChatFormatter.of(q, t);
        ChatFormatter.Masked m = f.encodeAllAssistant(List.of(msg("user", "a"), msg("assistant", "b"), msg("user", "c"), msg("assistant", "d"))).get(0);
        assertEquals("b<|im_end|>|d<|im_end|>", trainedText(q, m));
    }

    @Test
    void templatesThatHideTheReplyFailClearly() {
        HfTokenizer q = HfTokenizerGoldenTest.tokenizer("qwen3");
        ChatFormatter f = ChatFormatter.of(q, "{{ messages | map(attribute='content') | join('\\n') }}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> f.encodeAllAssistant(List.of(msg("user", "a"), msg("assistant", "b"))));
        assertTrue(e.getMessage().contains("message 1: the chat template wrote nothing while its for loop stood on this message"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ChatFormatter.of(q).encode(List.of(msg("user", "a")), Set.of(0)));
    }

    @Test
    void encoderRendersChatExamplesWithTheTemplate() {
        HfTokenizer q = HfTokenizerGoldenTest.tokenizer("qwen3");
        Encoder enc = new Encoder(q, 64).withChat(ChatFormatter.of(q));
        SftExample ex = ChatTemplate.DEFAULT.render(List.of(new ChatTemplate.Turn(ChatTemplate.Role.USER, "Hi"),
                new ChatTemplate.Turn(ChatTemplate.Role.ASSISTANT, "Yo")), ChatTemplate.Training.ALL_ASSISTANT, "t:1");
        List<TokenizedSft> out = enc.encodeAll(ex);
        assertEquals(1, out.size());
        TokenizedSft t = out.get(0);
        int trained = t.trainedTokens();
        assertEquals(q.encodeWithSpecials("<think>\n\n</think>\n\nYo<|im_end|>").length, trained);
        assertEquals(151645, t.tokens()[lastTrained(t)]);
        // a prompt/completion example has no conversation: encoded as before, with EOS
        TokenizedSft pc = enc.encode(SftExample.of("Q:", " A", "pc"));
        assertEquals(q.eosId(), pc.tokens()[pc.length() - 1]);
        // truncation keeps the rule: a long prompt is cut from the left
        Encoder small = new Encoder(q, 8).withChat(ChatFormatter.of(q));
        SftExample longEx = ChatTemplate.DEFAULT.render(List.of(new ChatTemplate.Turn(ChatTemplate.Role.USER, "word ".repeat(50)),
                new ChatTemplate.Turn(ChatTemplate.Role.ASSISTANT, "ok")), ChatTemplate.Training.ALL_ASSISTANT, "t:2");
        TokenizedSft cut = small.encodeAll(longEx).get(0);
        assertEquals(8, cut.length());
        assertEquals(1, small.truncated());
    }

    static int lastTrained(TokenizedSft t) {
        for (int j = t.length() - 1; j >= 0; j--) if (t.trained()[j] == 1f) return j;
        return -1;
    }
}
