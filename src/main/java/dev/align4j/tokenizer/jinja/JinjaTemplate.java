package dev.align4j.tokenizer.jinja;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Jinja template as Hugging Face chat templates are written, compiled once and rendered sandboxed.
 *
 * <p><b>Language.</b> What transformers' {@code ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
 * extensions=[loopcontrols, generation])} offers chat templates: {@code if/elif/else}, {@code for} (with
 * {@code loop.*}, unpacking, an {@code if} filter, {@code else}, {@code break}/{@code continue}), {@code set}
 * (including {@code ns.attr} and the block form), {@code macro} and calls, {@code filter} blocks, {@code raw},
 * {@code generation}, comments, whitespace control ({@code -} and {@code +}); literals, arithmetic, {@code ~},
 * comparisons, {@code in}, {@code is} tests, inline {@code if/else}, slicing; Jinja's filters and tests used by chat
 * templates; the str methods (startswith, split, strip, replace, ...) and dict methods (get, items, keys, values);
 * globals {@code range}, {@code namespace}, {@code dict}, {@code cycler}, {@code joiner}, and transformers'
 * {@code raise_exception} and {@code strftime_now}; transformers' own {@code tojson} (no HTML escaping, non-ASCII
 * kept, Python's separators).
 *
 * <p><b>Sandbox.</b> A template is untrusted input (it arrives inside a downloaded model folder). It only ever sees
 * plain values (strings, numbers, booleans, None, lists, dicts) and the interpreter's own objects; there is no
 * reflection, no Java object, no file or network access to reach. As in Jinja's immutable sandbox, attributes that
 * start with an underscore ({@code __class__}, {@code __globals__} ...) and mutating methods ({@code append},
 * {@code update} ...) are refused. Every render is bounded by {@link Limits} (steps, string and output length,
 * {@code range} size, macro recursion). Any failure is a {@link TemplateException} whose message names the template
 * line.
 */
public final class JinjaTemplate {
    private final List<Node> nodes;
    private final Limits limits;

    private JinjaTemplate(List<Node> nodes, Limits limits) {
        this.nodes = nodes;
        this.limits = limits;
    }

    /** Parses {@code source} with the default limits. */
    public static JinjaTemplate compile(String source) {
        return compile(source, Limits.DEFAULT);
    }

    /** Parses {@code source}; a syntax error is a {@link TemplateException} naming the line. */
    public static JinjaTemplate compile(String source, Limits limits) {
        if (source == null) throw new IllegalArgumentException("template source must not be null");
        if (limits == null) throw new IllegalArgumentException("limits must not be null");
        try {
            return new JinjaTemplate(Parser.parse(source), limits);
        } catch (StackOverflowError e) {
            throw new TemplateException(1, "the template is nested too deeply to parse");
        }
    }

    /**
     * Renders with {@code variables} (names to JSON-like Java values: null, String, Boolean, Integer/Long,
     * Float/Double, List, Map with String keys; anything else is refused before rendering starts).
     */
    public String render(Map<String, ?> variables) {
        return renderTracked(variables, null).text();
    }

    /**
     * The rendered text, the character spans of its {@code {% generation %}} blocks, and for each tracked item the
     * spans of the output written while a {@code for} loop's current item was that item (the item is identified
     * by identity: pass the very objects that are in the variables, e.g. the message maps).
     */
    public record Rendered(String text, List<int[]> generationSpans, Map<Integer, List<int[]>> itemSpans) {}

    /**
     * Renders as {@link #render(Map)} and records which output came from where. {@code trackedItems} (may be null)
     * are looked up by identity among the values in {@code variables}; the returned {@code itemSpans} are keyed by
     * their index in {@code trackedItems}. Only output written directly to the result counts (not output that a
     * macro or a {@code set} block captures).
     */
    public Rendered renderTracked(Map<String, ?> variables, List<?> trackedItems) {
        if (variables == null) throw new IllegalArgumentException("variables must not be null");
        IdentityHashMap<Object, Object> converted = new IdentityHashMap<>();
        Map<String, Object> context = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : variables.entrySet()) {
            if (e.getKey() == null) throw new IllegalArgumentException("variable names must not be null");
            context.put(e.getKey(), convert(e.getValue(), e.getKey(), converted, 0));
        }
        IdentityHashMap<Object, Integer> tracked = null;
        if (trackedItems != null) {
            tracked = new IdentityHashMap<>();
            for (int i = 0; i < trackedItems.size(); i++) {
                Object c = converted.get(trackedItems.get(i));
                if (c != null) tracked.put(c, i);
            }
        }
        Renderer r = new Renderer(limits, tracked);
        String text = r.render(nodes, context);
        return new Rendered(text, new ArrayList<>(r.generationSpans), r.itemSpans);
    }

    /** {@link Values#fromJava} that remembers which converted object each container became. */
    private static Object convert(Object v, String where, IdentityHashMap<Object, Object> converted, int depth) {
        if (depth > 100) throw new IllegalArgumentException(where + ": nested deeper than 100 levels (a cycle?)");
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            converted.put(v, out);
            for (int i = 0; i < l.size(); i++) out.add(convert(l.get(i), where + "[" + i + "]", converted, depth + 1));
            return out;
        }
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            converted.put(v, out);
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getKey() instanceof String k))
                    throw new IllegalArgumentException(where + ": map keys must be strings, got " + e.getKey());
                out.put(k, convert(e.getValue(), where + "." + k, converted, depth + 1));
            }
            return out;
        }
        return Values.fromJava(v, where);
    }
}
