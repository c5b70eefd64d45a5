package dev.align4j.tokenizer;

import dev.align4j.tokenizer.jinja.JinjaTemplate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model's chat template and tokenizer together: renders conversations as transformers'
 * {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} does, and encodes them with a
 * per-token mask that is 1 exactly on the assistant replies (TRL's {@code assistant_only_loss}).
 *
 * <p><b>Rendering.</b> The template sees {@code messages}, {@code add_generation_prompt}, {@code tools} and
 * {@code documents} (None), the tokenizer's special tokens ({@code bos_token}, {@code eos_token}, ...), and any extra
 * variables given (e.g. Qwen3's {@code enable_thinking}); see {@link JinjaTemplate} for the sandbox.
 *
 * <p><b>Encoding.</b> The rendered text is encoded in one piece with {@link HfTokenizer#encodeWithSpecials}, as
 * transformers does: the template's special tokens become their ids — and so does the text of a special token that
 * a <em>message</em> contains (a user writing {@code <|im_end|>} gets the id {@code <|im_end|>}); this is
 * transformers' default ({@code split_special_tokens=False}), kept so that training and serving tokenise alike.
 *
 * <p><b>Masks.</b> What counts as an assistant reply is, as in TRL with a {@code {% generation %}} template, the text
 * the model generates after the generation prompt, through the end-of-turn token, and nothing after it. When the
 * template has {@code {% generation %}} blocks, their spans are used. Otherwise the renderer records which output
 * was written while the template's {@code for} loop stood on each message; in an assistant message's output the
 * reply starts after the generation prompt (the text that {@code add_generation_prompt=True} adds to the
 * conversation before it, e.g. {@code <|im_start|>assistant\n}; where that adds nothing, where the message's content
 * starts) and ends after the last end-of-turn token (the text of
 * EOS or a stop id, e.g. {@code <|im_end|>}; the {@code \n} after it is not trained). A token is trained when its
 * characters overlap a reply. The first token is never trained.
 *
 * <p><b>Templates that rewrite earlier turns.</b> Qwen3's template drops the reasoning of assistant turns before the
 * last user message and writes {@code <think>\n\n</think>\n\n} only in turns after it, so an earlier reply renders
 * differently from how the model produced it when it was the last turn. {@link MultiTurn#AUTO} detects that (each
 * trained reply is compared with its rendering as the last turn of its own prefix) and then encodes each trained
 * reply as its own example, its conversation cut after it — exactly what the model sees when it generates that
 * reply. {@link MultiTurn#SINGLE_SEQUENCE} keeps one sequence whatever the template does (TRL's behaviour);
 * {@link MultiTurn#PER_TURN} always splits.
 */
public final class ChatFormatter {
    /** How conversations with several trained replies are encoded (see the class comment). */
    public enum MultiTurn { AUTO, SINGLE_SEQUENCE, PER_TURN }

    /** Ids with a 0/1 mask (1: trained), the rendered text, and the character spans of the trained replies. */
    public record Masked(int[] ids, int[] mask, String text, List<int[]> spans) {
        public int trainedTokens() {
            int n = 0;
            for (int m : mask) n += m;
            return n;
        }
    }

    private final HfTokenizer tokenizer;
    private final JinjaTemplate template;
    private final Map<String, Object> extra;
    private final MultiTurn multiTurn;
    private final List<String> endMarkers;

    private ChatFormatter(HfTokenizer tokenizer, JinjaTemplate template, Map<String, Object> extra, MultiTurn multiTurn) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.extra = extra;
        this.multiTurn = multiTurn;
        Set<String> ends = new LinkedHashSet<>();
        for (int id : tokenizer.stopIds()) ends.add(tokenizer.tokenText(id));
        Object eos = tokenizer.specialTokensMap().get("eos_token");
        if (eos instanceof String s) ends.add(s);
        ends.removeIf(String::isEmpty);
        this.endMarkers = List.copyOf(ends);
    }

    /** The tokenizer's default chat template. */
    public static ChatFormatter of(HfTokenizer tokenizer) {
        Ids.notNull("tokenizer", tokenizer);
        String t = tokenizer.chatTemplate();
        if (t == null)
            throw new IllegalArgumentException(tokenizer.dir() + ": the tokenizer has no chat template (tokenizer_config.json chat_template"
                    + (tokenizer.chatTemplates().isEmpty() ? "" : " has only " + tokenizer.chatTemplates().keySet()) + ")");
        return of(tokenizer, t);
    }

    /** {@code templateSource} with {@code tokenizer}. */
    public static ChatFormatter of(HfTokenizer tokenizer, String templateSource) {
        Ids.notNull("tokenizer", tokenizer);
        Ids.notNull("templateSource", templateSource);
        return new ChatFormatter(tokenizer, JinjaTemplate.compile(templateSource), Map.of(), MultiTurn.AUTO);
    }

    /** With extra template variables (e.g. {@code enable_thinking=false}), passed like transformers' kwargs. */
    public ChatFormatter withVariables(Map<String, ?> variables) {
        Ids.notNull("variables", variables);
        Map<String, Object> m = new LinkedHashMap<>(extra);
        m.putAll(variables);
        return new ChatFormatter(tokenizer, template, Map.copyOf(m), multiTurn);
    }

    public ChatFormatter withMultiTurn(MultiTurn mode) {
        Ids.notNull("mode", mode);
        return new ChatFormatter(tokenizer, template, extra, mode);
    }

    public HfTokenizer tokenizer() {
        return tokenizer;
    }

    /** The end-of-turn texts a reply's span ends with (EOS and the stop ids' texts). */
    public List<String> endMarkers() {
        return endMarkers;
    }

    private Map<String, Object> variables(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, List<?> tools) {
        Map<String, Object> v = new LinkedHashMap<>(tokenizer.specialTokensMap());
        v.put("messages", messages);
        v.put("add_generation_prompt", addGenerationPrompt);
        v.put("tools", tools);
        v.put("documents", null);
        v.putAll(extra);
        return v;
    }

    /** transformers' {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)}. */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, null);
    }

    /** {@link #render(List, boolean)} with {@code tools} (JSON schemas) for templates that take them. */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, List<?> tools) {
        Ids.notNull("messages", messages);
        return template.render(variables(messages, addGenerationPrompt, tools));
    }

    /** The prompt for the next assistant reply: the conversation rendered with the generation prompt, encoded. */
    public int[] encodePrompt(List<? extends Map<String, ?>> messages) {
        return tokenizer.encodeWithSpecials(render(messages, true));
    }

    /** A one-message user prompt ({@code --chat}): {@code [{"role": "user", "content": text}]} with the generation prompt. */
    public int[] encodeUserPrompt(String text) {
        Ids.notNull("text", text);
        return encodePrompt(List.of(Map.of("role", "user", "content", text)));
    }

    /**
     * The conversation as training examples: the replies of the assistant messages whose indexes are in
     * {@code trained} are masked 1, all else 0. One example, or one per trained reply (see {@link MultiTurn}).
     *
     * @throws IllegalArgumentException when a trained message is not an assistant message, or its reply cannot be
     *                                  located in the rendering (naming the message)
     */
    public List<Masked> encode(List<? extends Map<String, ?>> messages, Set<Integer> trained) {
        Ids.notNull("messages", messages);
        Ids.notNull("trained", trained);
        for (int i : trained) {
            if (i < 0 || i >= messages.size()) throw new IllegalArgumentException("trained message " + i + " is outside [0, " + messages.size() + ")");
            if (!"assistant".equals(messages.get(i).get("role")))
                throw new IllegalArgumentException("message " + i + " is trained but its role is " + messages.get(i).get("role"));
        }
        if (trained.isEmpty()) throw new IllegalArgumentException("no trained assistant message");
        List<Integer> order = trained.stream().sorted().toList();
        boolean split = multiTurn == MultiTurn.PER_TURN;
        if (multiTurn == MultiTurn.AUTO && order.size() > 1) {
            Masked whole = encodeOne(messages, order);
            for (int k = 0; k < order.size() - 1 && !split; k++) {
                int i = order.get(k);
                Masked alone = encodeOne(messages.subList(0, i + 1), List.of(i));
                int[] a = whole.spans().get(k), b = alone.spans().get(0);
                split = !whole.text().substring(a[0], a[1]).equals(alone.text().substring(b[0], b[1]))
                        || !whole.text().startsWith(alone.text().substring(0, b[0]));
            }
            if (!split) return List.of(whole);
        }
        if (!split || order.size() == 1) return List.of(encodeOne(messages, order));
        List<Masked> out = new ArrayList<>();
        for (int i : order) out.add(encodeOne(messages.subList(0, i + 1), List.of(i)));
        return out;
    }

    /** Every assistant message trained: {@code encode(messages, all assistant indexes)}. */
    public List<Masked> encodeAllAssistant(List<? extends Map<String, ?>> messages) {
        Set<Integer> t = new LinkedHashSet<>();
        for (int i = 0; i < messages.size(); i++) if ("assistant".equals(messages.get(i).get("role"))) t.add(i);
        return encode(messages, t);
    }

    private Masked encodeOne(List<? extends Map<String, ?>> messages, List<Integer> trained) {
        JinjaTemplate.Rendered r = template.renderTracked(variables(messages, false, null), messages);
        String text = r.text();
        List<int[]> spans = new ArrayList<>();
        if (!r.generationSpans().isEmpty()) {
            for (int i : trained) {
                int[] turn = turnSpan(r, i);
                boolean found = false;
                for (int[] g : r.generationSpans()) {
                    if (g[0] >= turn[0] && g[1] <= turn[1] && g[1] > g[0]) {
                        spans.add(g);
                        found = true;
                    }
                }
                if (!found) throw new IllegalArgumentException("message " + i + ": the template's {% generation %} blocks write nothing for it");
            }
        } else {
            for (int i : trained) {
                int[] turn = turnSpan(r, i);
                String turnText = text.substring(turn[0], turn[1]);
                String prompt = generationPrompt(messages, i);
                int start;
                if (prompt.isEmpty()) {
                    // no generation prompt to go by (a template that writes it unconditionally, like Llama 3's first
                    // one, or none at all): the reply starts where the message's content does, else with the turn
                    Object content = messages.get(i).get("content");
                    String c = content instanceof String cs ? cs.strip() : "";
                    int k = c.isEmpty() ? -1 : turnText.indexOf(c);
                    start = turn[0] + Math.max(0, k);
                } else {
                    int k = turnText.indexOf(prompt);
                    if (k < 0)
                        throw new IllegalArgumentException("message " + i + ": cannot find the generation prompt " + quote(prompt)
                                + " in the assistant turn's rendering " + quote(turnText));
                    start = turn[0] + k + prompt.length();
                }
                int end = turn[1];
                int best = -1;
                for (String m : endMarkers) {
                    int at = text.lastIndexOf(m, turn[1] - m.length());
                    if (at >= start) best = Math.max(best, at + m.length());
                }
                if (best > 0) end = best;
                if (end <= start) throw new IllegalArgumentException("message " + i + ": the assistant reply renders as nothing");
                spans.add(new int[] {start, end});
            }
        }
        HfTokenizer.Encoded e = tokenizer.encodeWithOffsets(text);
        int[] mask = new int[e.ids().length];
        for (int j = 0; j < mask.length; j++) {
            for (int[] s : spans) {
                boolean overlap = e.start()[j] == e.end()[j] ? e.start()[j] >= s[0] && e.start()[j] < s[1]
                        : e.start()[j] < s[1] && e.end()[j] > s[0];
                if (overlap) {
                    mask[j] = 1;
                    break;
                }
            }
        }
        if (mask.length > 0) mask[0] = 0;
        return new Masked(e.ids(), mask, text, spans);
    }

    /** The output written while the template iterated over message {@code i}, as one span. */
    private static int[] turnSpan(JinjaTemplate.Rendered r, int i) {
        List<int[]> parts = r.itemSpans().get(i);
        if (parts == null || parts.isEmpty())
            throw new IllegalArgumentException("message " + i + ": the chat template wrote nothing while its for loop stood on this"
                    + " message, so its reply cannot be located (templates must loop over messages)");
        int a = Integer.MAX_VALUE, b = -1;
        for (int[] p : parts) {
            a = Math.min(a, p[0]);
            b = Math.max(b, p[1]);
        }
        return new int[] {a, b};
    }

    /** What {@code add_generation_prompt=True} adds after {@code messages[:i]} (empty when it cannot be rendered). */
    private String generationPrompt(List<? extends Map<String, ?>> messages, int i) {
        String without, with;
        try {
            without = template.render(variables(messages.subList(0, i), false, null));
            with = template.render(variables(messages.subList(0, i), true, null));
        } catch (RuntimeException e) {
            return ""; // e.g. a template that needs a first message: take the whole turn
        }
        if (!with.startsWith(without))
            throw new IllegalArgumentException("message " + i + ": add_generation_prompt=True does not extend the rendering of the"
                    + " messages before it, so the reply's start cannot be found");
        return with.substring(without.length());
    }

    private static String quote(String s) {
        String q = s.replace("\n", "\\n");
        return "\"" + (q.length() > 80 ? q.substring(0, 80) + "..." : q) + "\"";
    }

    @Override
    public String toString() {
        return "ChatFormatter(" + tokenizer.name() + ", " + multiTurn + (extra.isEmpty() ? "" : ", " + extra) + ")";
    }
}
