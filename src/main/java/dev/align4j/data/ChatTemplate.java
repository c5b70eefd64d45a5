package dev.align4j.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Renders a chat (system / user / assistant turns) as the text segments of an {@link SftExample}, or as a prompt
 * string that ends where the assistant's reply begins.
 *
 * <p><b>Rendering</b> (with {@link #DEFAULT}; {@code ⟨EOS⟩} is the tokenizer's EOS id, which {@link Encoder}
 * appends after every trained segment — it is never text):
 * <pre>
 * &lt;|system|&gt;\n{system}\n&lt;|user|&gt;\n{user}\n&lt;|assistant|&gt;\n{reply}⟨EOS⟩\n&lt;|user|&gt;\n{user}\n&lt;|assistant|&gt;\n{reply}⟨EOS⟩
 * </pre>
 * Each turn is its role marker, its content, and {@link #turnEnd()}; the last turn has no {@code turnEnd} (the
 * example ends with the EOS). Trained: the content of the assistant turns chosen by {@link Training} (and the EOS
 * after each); untrained: markers, system and user contents, {@code turnEnd}s, and assistant turns that are only
 * history. Adjacent untrained text is one segment, so the untrained prefix of an example is tokenised exactly as
 * {@link #renderPrompt(List)} of the same history is (what a generator is fed).
 *
 * <p>An assistant turn that is untrained history (OpenAssistant threads, pair prompts) has no EOS after its
 * content — text cannot carry the EOS id — so the same history reads
 * {@code …{reply}\n<|user|>…} there and {@code …{reply}⟨EOS⟩\n<|user|>…} where every assistant turn is trained.
 *
 * <p>The markers are plain text: tokenizers encode them as ordinary characters (never as special ids), so no
 * vocabulary change is needed and user text cannot inject a turn boundary id.
 */
public record ChatTemplate(String systemMarker, String userMarker, String assistantMarker, String turnEnd) {
    /** {@code <|system|>\n}, {@code <|user|>\n}, {@code <|assistant|>\n}, turns ending with {@code \n}. */
    public static final ChatTemplate DEFAULT = new ChatTemplate("<|system|>\n", "<|user|>\n", "<|assistant|>\n", "\n");

    public ChatTemplate {
        if (systemMarker == null || userMarker == null || assistantMarker == null || turnEnd == null)
            throw new IllegalArgumentException("chat template markers must not be null");
        if (assistantMarker.isEmpty()) throw new IllegalArgumentException("assistantMarker must not be empty");
    }

    public enum Role {
        SYSTEM, USER, ASSISTANT;

        /** "system", "user", "assistant" (case-insensitive), or null when unknown. */
        public static Role parse(String s) {
            if (s == null) return null;
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "system" -> SYSTEM;
                case "user" -> USER;
                case "assistant" -> ASSISTANT;
                default -> null;
            };
        }
    }

    /** One turn of a chat. */
    public record Turn(Role role, String content) {
        public Turn {
            if (role == null || content == null) throw new IllegalArgumentException("role and content must not be null");
        }
    }

    /** Which assistant turns are trained on. */
    public enum Training {
        /** Every assistant turn (chat {@code messages} files). */
        ALL_ASSISTANT,
        /** Only the final turn, which must be an assistant turn (OpenAssistant threads: each reply trained once). */
        LAST_ASSISTANT
    }

    /**
     * The chat as an SFT example. {@code turns} must end with an assistant turn with non-blank content.
     *
     * @throws IllegalArgumentException when the last turn is not an assistant turn
     */
    public SftExample render(List<Turn> turns, Training training, String origin) {
        if (turns == null || turns.isEmpty()) throw new IllegalArgumentException("a chat needs turns (" + origin + ")");
        int last = turns.size() - 1;
        if (turns.get(last).role() != Role.ASSISTANT)
            throw new IllegalArgumentException("the last turn must be an assistant turn (" + origin + ")");
        Segments seg = new Segments();
        for (int i = 0; i <= last; i++) {
            Turn t = turns.get(i);
            seg.add(marker(t.role()), false);
            boolean trained = t.role() == Role.ASSISTANT && (training == Training.ALL_ASSISTANT || i == last);
            seg.add(t.content(), trained);
            if (i < last) seg.add(turnEnd, false);
        }
        return new SftExample(seg.list, origin, new SftExample.Chat(turns, training));
    }

    /**
     * The prompt text for the assistant's next reply: every turn of {@code history} rendered as untrained text
     * (marker, content, turnEnd), then the assistant marker. The reply follows it directly.
     */
    public String renderPrompt(List<Turn> history) {
        StringBuilder sb = new StringBuilder();
        for (Turn t : history) sb.append(marker(t.role())).append(t.content()).append(turnEnd);
        return sb.append(assistantMarker).toString();
    }

    public String marker(Role role) {
        return switch (role) {
            case SYSTEM -> systemMarker;
            case USER -> userMarker;
            case ASSISTANT -> assistantMarker;
        };
    }

    /** Builds segments, merging adjacent untrained text. */
    private static final class Segments {
        final List<SftExample.Segment> list = new ArrayList<>();

        void add(String text, boolean trained) {
            if (!trained && text.isEmpty()) return;
            int n = list.size();
            if (!trained && n > 0 && !list.get(n - 1).trained()) {
                list.set(n - 1, new SftExample.Segment(list.get(n - 1).text() + text, false));
            } else {
                list.add(new SftExample.Segment(text, trained));
            }
        }
    }
}
