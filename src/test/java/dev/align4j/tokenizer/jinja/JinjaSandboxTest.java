package dev.align4j.tokenizer.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Hostile templates get one clear error naming the problem and the line, and nothing runs; plus small semantics. */
class JinjaSandboxTest {
    static String render(String src, Map<String, ?> vars) {
        return JinjaTemplate.compile(src).render(vars);
    }

    static String render(String src) {
        return render(src, Map.of("messages", List.of(Map.of("role", "user", "content", "hi"))));
    }

    static TemplateException fails(String src) {
        long t0 = System.nanoTime();
        TemplateException e = assertThrows(TemplateException.class, () -> render(src));
        assertTrue(System.nanoTime() - t0 < 20e9, "the sandbox must stop it quickly");
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " => ", value = {
            "{{ ''.__class__ }} => attribute '__class__' of 'str' object is unsafe",
            "{{ ''.__class__.__mro__[1].__subclasses__() }} => '__class__'",
            "{{ cycler.__init__.__globals__ }} => '__init__'",
            "{{ namespace.__call__ }} => '__call__'",
            "{{ messages[0].__dict__ }} => '__dict__'",
            "{{ messages['__class__'] }} => '__class__'",
            "{{ messages.append(1) }} => attribute 'append' of 'list' object is unsafe",
            "{% set d = {} %}{{ d.update({'a': 1}) }} => attribute 'update' of 'dict'",
            "{{ 'x'.format(1) }} => 'format'",
            "{% set ns = namespace() %}{% set ns.__class__ = 1 %} => '__class__'",
            "{% for i in range(10**9) %}x{% endfor %} => range too big",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %} => more than 5000000 steps",
            "{{ 'x' * 10**10 }} => longer than 16777216 characters",
            "{% set s = 'abcdefgh' * 1000000 %}{% for i in range(10) %}{{ s }}{% endfor %} => longer than",
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %} => longer than",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }} => macro calls nested deeper than 64",
            "{{ raise_exception('Conversation roles must alternate') }} => raise_exception: Conversation roles must alternate",
            "{{ undefined_var.attribute }} => is undefined",
            "{{ messages | shell }} => no filter named 'shell'",
            "{{ 1 + 'a' }} => unsupported operand type(s) for +: 'int' and 'str'",
            "{{ 2 ** 64 }} => integer overflow",
            "{% include 'x.jinja' %} => unknown or unsupported tag 'include'",
            "{% import 'os' as os %} => unknown or unsupported tag 'import'",
            "{% extends 'base' %} => unknown or unsupported tag 'extends'",
            "{% for m in messages %} => unexpected end of template, expected 'else' or 'endfor'",
            "{{ messages[0 }} => unclosed tag",
            "{{ 'unterminated }} => unterminated string",
    })
    void hostileOrBrokenTemplatesFailClearly(String src, String expected) {
        TemplateException e = fails(src);
        assertTrue(e.getMessage().startsWith("chat template line 1: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage() + " should contain " + expected);
    }

    @Test
    void errorsNameTheTemplateLine() {
        TemplateException e = fails("line one\n{% if true %}\n  {{ ''.__class__ }}\n{% endif %}");
        assertEquals(3, e.line());
        TemplateException r = fails("a\nb\n{{ raise_exception('bad roles') }}");
        assertEquals("chat template line 3: raise_exception: bad roles", r.getMessage());
    }

    @Test
    void deepNestingIsRefusedNotAStackOverflow() {
        TemplateException e = fails("{{ " + "(".repeat(5000) + "1" + ")".repeat(5000) + " }}");
        assertTrue(e.getMessage().contains("nested deeper than"), e.getMessage());
        TemplateException n = fails("{{ " + "not ".repeat(5000) + "1 }}");
        assertTrue(n.getMessage().contains("nested deeper than"), n.getMessage());
    }

    @Test
    void onlyPlainValuesGetIn() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> render("{{ x }}", Map.of("x", new Object())));
        assertTrue(e.getMessage().contains("x: a template value must be"), e.getMessage());
        List<Object> cyclic = new ArrayList<>();
        cyclic.add(cyclic);
        assertThrows(IllegalArgumentException.class, () -> render("{{ x }}", Map.of("x", cyclic)));
    }

    @Test
    void limitsAreConfigurable() {
        JinjaTemplate t = JinjaTemplate.compile("{% for i in range(50) %}{{ i }}{% endfor %}", new Limits(100, 1000, 1000, 4));
        assertTrue(assertThrows(TemplateException.class, () -> t.render(Map.of())).getMessage().contains("more than 100 steps"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = " => ", value = {
            "{{ messages[0].content }} => hi",
            "{{ messages[0]['role'] ~ '!' }} => user!",
            "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }} => 3",
            "{% set x = 1 %}{% for i in range(3) %}{% set x = x + 1 %}{% endfor %}{{ x }} => 1",
            "{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %} => 02",
            "{{ 'a' if false }} => ''",
            "{{ none }} => None",
            "{{ [1, 2, 3][::-1] | join('') }} => 321",
            "{{ 'héllo wörld'.split(' ')[1][:3] }} => wör",
            "{{ '😀ab'[1:] ~ '|' ~ '😀ab' | length }} => ab|3",
            "{{ 'a\\nb' | indent(2, true) }} => '  a\n  b'",
            "{{ {'b': 1, 'a': [true, none, 1.5]} | tojson(sort_keys=true) }} => '{\"a\": [true, null, 1.5], \"b\": 1}'",
            "{{ '<tag> & \"q\"' | tojson }} => '\"<tag> & \\\"q\\\"\"'",
            "{{ 'x' | e }} => x",
            "{% filter upper %}abc{% endfilter %} => ABC",
            "{% set t %}inner {{ 1 + 1 }}{% endset %}{{ t | trim }} => inner 2",
            "{{ (1, 2) | length }} => 2",
            "{{ loop is defined }} => False",
            "{{ 3 is divisibleby 3 }} {{ 4 is odd }} => True False",
    })
    void semantics(String src, String expected) {
        assertEquals(expected, render(src));
    }

    @Test
    void generationBlocksAndTrackedItemsReportSpans() {
        List<Map<String, Object>> msgs = List.of(Map.of("role", "user", "content", "u"), Map.of("role", "assistant", "content", "a"));
        JinjaTemplate t = JinjaTemplate.compile(
                "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}</s>{% endgeneration %}"
                        + "{% else %}{{ m.content }}{% endif %}|{% endfor %}");
        JinjaTemplate.Rendered r = t.renderTracked(Map.of("messages", msgs), msgs);
        assertEquals("<user>u|<assistant>a</s>|", r.text());
        assertEquals(1, r.generationSpans().size());
        int[] g = r.generationSpans().get(0);
        assertEquals("a</s>", r.text().substring(g[0], g[1]));
        int[] s1 = r.itemSpans().get(1).get(0);
        assertEquals("<assistant>a</s>|", r.text().substring(s1[0], s1[1]));
    }
}
