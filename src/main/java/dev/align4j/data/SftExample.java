package dev.align4j.data;

import java.util.List;

/**
 * One supervised fine-tuning example as text: an ordered list of segments, each trained on or not. A prompt and
 * its response are two segments ({@code prompt} untrained, {@code response} trained); a chat is one segment per
 * rendered turn, the assistant turns trained. {@link Encoder} tokenises each segment on its own, appends EOS after
 * every trained segment (inside the loss mask) and concatenates, so the mask is exact by construction.
 *
 * @param segments the segments, in order; at least one trained segment with non-empty text
 * @param origin   where it came from, for messages ("alpaca.json:12", "task:sort#3"); may be empty
 */
public record SftExample(List<Segment> segments, String origin) {
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
