package dev.align4j.tokenizer.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The hand-written templates of {@code src/test/resources/chat/templates/} rendered for every conversation of
 * {@code conversations.json}, against Python jinja2's text as transformers configures it (written by
 * {@code tools/tokenizer_goldens.mjs}). Needs nothing outside the repository.
 */
class JinjaGoldenTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Object resource(String name) throws IOException {
        try (InputStream in = JinjaGoldenTest.class.getResourceAsStream("/chat/" + name)) {
            if (in == null) throw new IOException("no test resource chat/" + name);
            return JSON.readValue(in, Object.class);
        }
    }

    static String text(String name) throws IOException {
        try (InputStream in = JinjaGoldenTest.class.getResourceAsStream("/chat/" + name)) {
            if (in == null) throw new IOException("no test resource chat/" + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Map<String, Object>> conversations() throws IOException {
        Map<String, Map<String, Object>> out = new LinkedHashMap<>();
        for (Object c : (List<Object>) ((Map<String, Object>) resource("conversations.json")).get("conversations"))
            out.put((String) ((Map<String, Object>) c).get("id"), (Map<String, Object>) c);
        return out;
    }

    @SuppressWarnings("unchecked")
    @TestFactory
    List<DynamicTest> handWrittenTemplatesMatchJinja2() throws IOException {
        Map<String, Map<String, Object>> convs = conversations();
        Map<String, Object> golden = (Map<String, Object>) resource("golden-templates.json");
        List<DynamicTest> tests = new ArrayList<>();
        Map<String, JinjaTemplate> compiled = new LinkedHashMap<>();
        for (Object o : (List<Object>) golden.get("renders")) {
            Map<String, Object> r = (Map<String, Object>) o;
            String file = (String) r.get("template"), conv = (String) r.get("conversation");
            boolean agp = (Boolean) r.get("add_generation_prompt");
            tests.add(DynamicTest.dynamicTest(file + " / " + conv + " / agp=" + agp, () -> {
                JinjaTemplate t = compiled.computeIfAbsent(file, f -> {
                    try {
                        return JinjaTemplate.compile(text("templates/" + f));
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                Map<String, Object> c = convs.get(conv);
                Map<String, Object> ctx = new LinkedHashMap<>();
                ctx.put("messages", c.get("messages"));
                ctx.put("add_generation_prompt", agp);
                ctx.put("tools", c.get("tools"));
                ctx.put("bos_token", "<s>");
                ctx.put("eos_token", "</s>");
                if (r.containsKey("error")) assertThrows(TemplateException.class, () -> t.render(ctx));
                else assertEquals(r.get("text"), t.render(ctx));
            }));
        }
        assertTrue(tests.size() >= 40, "golden renders: " + tests.size());
        return tests;
    }
}
