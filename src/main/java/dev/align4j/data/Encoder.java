package dev.align4j.data;

import dev.align4j.tokenizer.ChatFormatter;
import dev.align4j.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Text examples to token ids, with exact masks and a stated truncation rule.
 *
 * <p><b>Token boundaries.</b> Each segment is tokenised on its own and the ids are concatenated; EOS follows every
 * trained segment and is trained on. The mask therefore marks exactly the ids the model is trained to produce,
 * and a prompt encoded alone is a prefix of the concatenation — what a generator is fed at sampling time. (The
 * joint tokenisation of prompt + response could merge tokens across the boundary; we never tokenise the
 * concatenated text.) The first id is BOS when {@code addBos}.
 *
 * <p><b>Truncation</b> to {@code maxTokens}: split the ids into the prompt P (before the first trained id) and the
 * rest R. If |P| + |R| exceeds the limit, the prompt keeps its LAST ids — {@code max(maxTokens − |R|,
 * min(|P|, maxTokens / 2))} of them — and then R keeps its FIRST ids up to the limit (so a truncated response
 * loses its EOS: its text did not end there). A pair applies the same prompt cut to both responses, sized by the
 * longer one. Every truncated example is counted ({@link #truncated()}).
 *
 * <p><b>A model's own chat template</b> ({@link #withChat}): an example that carries its conversation
 * ({@link SftExample#chat()}: chat messages, OpenAssistant threads, Alpaca and Self-Instruct records) is rendered by
 * the {@link ChatFormatter} instead — the whole text encoded at once, as transformers does, with the mask 1 on the
 * trained assistant replies through their end-of-turn token (TRL's {@code assistant_only_loss}); no EOS or BOS is
 * added (the template writes them). A conversation whose template rewrites earlier turns may become one example per
 * trained reply ({@link #encodeAll}; counted by {@link #split()}). The same truncation rule applies. Examples without
 * a conversation (prompt/completion, built-in tasks) are encoded segment by segment as above.
 */
public final class Encoder {
    private final Tokenizer tokenizer;
    private final int maxTokens;
    private final boolean addBos;
    private final ChatFormatter chat;
    private long encoded, truncated, split;

    public Encoder(Tokenizer tokenizer, int maxTokens, boolean addBos) {
        this(tokenizer, maxTokens, addBos, null);
    }

    private Encoder(Tokenizer tokenizer, int maxTokens, boolean addBos, ChatFormatter chat) {
        if (tokenizer == null) throw new IllegalArgumentException("tokenizer must not be null");
        if (maxTokens < 4) throw new IllegalArgumentException("maxTokens must be >= 4, got " + maxTokens);
        this.tokenizer = tokenizer;
        this.maxTokens = maxTokens;
        this.addBos = addBos;
        this.chat = chat;
    }

    /** This encoder (fresh counters) rendering conversations with {@code formatter} (see the class comment). */
    public Encoder withChat(ChatFormatter formatter) {
        if (formatter == null) throw new IllegalArgumentException("formatter must not be null");
        return new Encoder(tokenizer, maxTokens, addBos, formatter);
    }

    /** The chat formatter, or null. */
    public ChatFormatter chat() {
        return chat;
    }

    /** Without BOS: the prompt's own first id starts the sequence. */
    public Encoder(Tokenizer tokenizer, int maxTokens) {
        this(tokenizer, maxTokens, false);
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public int maxTokens() {
        return maxTokens;
    }

    /**
     * Encodes an SFT example: one sequence, or with a chat formatter possibly one per trained reply (see the class
     * comment).
     */
    public List<TokenizedSft> encodeAll(SftExample ex) {
        if (chat == null || ex.chat() == null) return List.of(encode(ex));
        SftExample.Chat c = ex.chat();
        List<Map<String, Object>> messages = new ArrayList<>();
        Set<Integer> trained = new LinkedHashSet<>();
        for (int i = 0; i < c.turns().size(); i++) {
            ChatTemplate.Turn t = c.turns().get(i);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", t.role().name().toLowerCase(Locale.ROOT));
            m.put("content", t.content());
            messages.add(m);
            boolean last = i == c.turns().size() - 1;
            if (t.role() == ChatTemplate.Role.ASSISTANT && (c.training() == ChatTemplate.Training.ALL_ASSISTANT || last)) trained.add(i);
        }
        List<ChatFormatter.Masked> parts;
        try {
            parts = chat.encode(messages, trained);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException((ex.origin().isEmpty() ? "" : ex.origin() + ": ") + e.getMessage(), e);
        }
        if (parts.size() > 1) split++;
        List<TokenizedSft> out = new ArrayList<>(parts.size());
        for (ChatFormatter.Masked p : parts) out.add(finish(p.ids(), p.mask()));
        return out;
    }

    /**
     * Encodes an SFT example (see the class comment for the rule); with a chat formatter it must give one sequence
     * ({@link #encodeAll} otherwise).
     */
    public TokenizedSft encode(SftExample ex) {
        if (chat != null && ex.chat() != null) {
            List<TokenizedSft> all = encodeAll(ex);
            if (all.size() != 1)
                throw new IllegalArgumentException(ex.origin() + ": the chat template gives " + all.size() + " examples; use encodeAll");
            return all.get(0);
        }
        IntList ids = new IntList();
        IntList mask = new IntList();
        if (addBos) {
            ids.add(tokenizer.bosId());
            mask.add(0);
        }
        for (SftExample.Segment s : ex.segments()) {
            for (int id : tokenizer.encode(s.text())) {
                ids.add(id);
                mask.add(s.trained() ? 1 : 0);
            }
            if (s.trained()) {
                ids.add(tokenizer.eosId());
                mask.add(1);
            }
        }
        int firstTrained = 0;
        while (mask.get(firstTrained) == 0) firstTrained++;
        if (firstTrained == 0) {
            // a response with no prompt at all: the first id cannot be a target, so BOS is prepended
            ids.insertFirst(tokenizer.bosId());
            mask.insertFirst(0);
            firstTrained = 1;
        }
        return finish(ids.toArray(), mask.toArray());
    }

    /** Truncation (the class comment's rule) of ids with a 0/1 mask whose first trained id is not the first id. */
    private TokenizedSft finish(int[] all, int[] m) {
        int firstTrained = 0;
        while (firstTrained < m.length && m[firstTrained] == 0) firstTrained++;
        if (firstTrained == m.length) throw new IllegalArgumentException("an example with no trained token");
        int p = firstTrained, r = all.length - p;
        encoded++;
        if (p + r > maxTokens) {
            truncated++;
            int keepP = promptKeep(p, r);
            int keepR = Math.min(r, maxTokens - keepP);
            all = Arrays.copyOfRange(all, p - keepP, p + keepR);
            m = Arrays.copyOfRange(m, p - keepP, p + keepR);
        }
        float[] f = new float[m.length];
        for (int j = 0; j < m.length; j++) f[j] = m[j];
        return new TokenizedSft(all, f);
    }

    /** Encodes a prompt and one response (a response is trained, ends with EOS). */
    public TokenizedSft encode(String prompt, String response) {
        return encode(SftExample.of(prompt, response, ""));
    }

    /** Encodes a preference pair (see the class comment for the rule). */
    public TokenizedPair encode(PreferencePair pair) {
        return encodePair(pair.prompt(), pair.chosen(), pair.rejected());
    }

    /**
     * Encodes two responses to one prompt as {@link #encode(PreferencePair)} does, an empty response included: a
     * policy that answered with EOS alone gave the response [EOS], which a reward model scores like any other (a
     * preference file's empty response, by contrast, is refused by {@link PreferencePair}).
     */
    public TokenizedPair encodePair(String prompt, String chosen, String rejected) {
        int[] p = encodePrompt(prompt);
        int[] c = withEos(tokenizer.encode(chosen));
        int[] r = withEos(tokenizer.encode(rejected));
        encoded++;
        int longer = Math.max(c.length, r.length);
        if (p.length + longer > maxTokens) {
            truncated++;
            int keepP = promptKeep(p.length, longer);
            p = Arrays.copyOfRange(p, p.length - keepP, p.length);
            c = Arrays.copyOf(c, Math.min(c.length, maxTokens - keepP));
            r = Arrays.copyOf(r, Math.min(r.length, maxTokens - keepP));
        }
        return new TokenizedPair(p, c, r);
    }

    /** A prompt's ids as a generator is fed them (BOS first when {@code addBos}, or when the text is empty). */
    public int[] encodePrompt(String prompt) {
        int[] t = tokenizer.encode(prompt);
        if (addBos || t.length == 0) {
            int[] out = new int[t.length + 1];
            out[0] = tokenizer.bosId();
            System.arraycopy(t, 0, out, 1, t.length);
            return out;
        }
        return t;
    }

    private int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = tokenizer.eosId();
        return out;
    }

    private int promptKeep(int p, int r) {
        int keep = Math.max(maxTokens - r, Math.min(p, maxTokens / 2));
        return Math.max(1, Math.min(p, keep));
    }

    /** Examples encoded so far. */
    public long encoded() {
        return encoded;
    }

    /** Examples truncated so far. */
    public long truncated() {
        return truncated;
    }

    /** Conversations encoded as one example per trained reply (their template rewrites earlier turns). */
    public long split() {
        return split;
    }

    private static final class IntList {
        private int[] a = new int[64];
        private int n;

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, 2 * n);
            a[n++] = v;
        }

        void insertFirst(int v) {
            add(0);
            System.arraycopy(a, 0, a, 1, n - 1);
            a[0] = v;
        }

        int get(int i) {
            return a[i];
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
