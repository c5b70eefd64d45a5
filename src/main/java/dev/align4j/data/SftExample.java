package dev.align4j.data;

import java.util.List;

/**
 * One supervised fine-tuning example as text: an ordered list of segments, each trained on or not. A prompt and
 * its response are two segments ({@code prompt} untrained, {@code response} trained); a chat is one segment per
 * rendered turn, the assistant turns trained. {@link Encoder} tokenises each segment on its own, appends EOS after
 * every trained segment (inside the loss mask) and concatenates, so the mask is exact by construction.
 *
 * <p>An example read from a chat or instruction format also keeps its conversation ({@link #chat()}), so that a
 * model with its own chat template (a Hugging Face tokenizer's {@code chat_template}) can render it with that
 * template instead of these segments ({@link Encoder#withChat}).
 *
 * @param segments the segments, in order; at least one trained segment with non-empty text
 * @param origin   where it came from, for messages ("alpaca.json:12", "task:sort#3"); may be empty
 * @param chat     the conversation the segments render, or null (prompt/completion text, built-in tasks)
 */
public record SftExample(List<Segment> segments, String origin, Chat chat) {
    /** A conversation and which assistant turns are trained. */
    public record Chat(List<ChatTemplate.Turn> turns, ChatTemplate.Training training) {
        public Chat {
            if (turns == null || turns.isEmpty() || training == null) throw new IllegalArgumentException("a chat needs turns and a training mode");
            turns = List.copyOf(turns);
        }

        /** A one-turn instruction: user {@code prompt}, assistant {@code reply}. */
        public static Chat instruction(String prompt, String reply) {
            return new Chat(List.of(new ChatTemplate.Turn(ChatTemplate.Role.USER, prompt),
                    new ChatTemplate.Turn(ChatTemplate.Role.ASSISTANT, reply)), ChatTemplate.Training.LAST_ASSISTANT);
        }
    }

    /** Without a conversation. */
    public SftExample(List<Segment> segments, String origin) {
        this(segments, origin, null);
    }

    /** The same example with its conversation. */
    public SftExample withChat(Chat c) {
        return new SftExample(segments, origin, c);
    }

    /** A piece of text; {@code trained}: its tokens (and the EOS that follows it) are in the loss mask. */
    public record Segment(String text, boolean trained) {
        public Segment {
            if (text == null) throw new IllegalArgumentException("segment text must not be null");
        }
    }

    public SftExample {
        if (segments == null || segments.isEmpty()) throw new IllegalArgumentException("segments must not be empty (" + origin + ")");
        segments = List.copyOf(segments);
        if (origin == null) origin = "";
        boolean any = false;
        for (Segment s : segments) any |= s.trained() && !s.text().isEmpty();
        if (!any) throw new IllegalArgumentException("an SFT example needs a non-empty trained segment (" + origin + ")");
    }

    /** An untrained prompt followed by a trained response. */
    public static SftExample of(String prompt, String response, String origin) {
        return new SftExample(List.of(new Segment(prompt, false), new Segment(response, true)), origin);
    }

    /** The text of the untrained segments before the first trained one (what a model is prompted with). */
    public String prompt() {
        StringBuilder sb = new StringBuilder();
        for (Segment s : segments) {
            if (s.trained()) break;
            sb.append(s.text());
        }
        return sb.toString();
    }
}
