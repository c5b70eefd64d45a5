package dev.align4j.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Anthropic HH-RLHF pairs: JSONL (plain or {@code .gz}) of {@code {"chosen": dialogue, "rejected": dialogue}},
 * each side a whole dialogue {@code "\n\nHuman: …\n\nAssistant: …"}.
 *
 * <p><b>Split rule.</b> The prompt ends at the last {@code "\n\nAssistant:"} marker that lies entirely inside the
 * longest common prefix of the two sides; {@code chosen} and {@code rejected} are what follows it on each side.
 * For a normal pair that is the last Assistant turn: the prompt is everything up to and including the last
 * {@code "\n\nAssistant:"}, the responses are the two final replies. Some pairs' sides differ before their last
 * Assistant turn (one side has an extra turn, or an earlier reply differs): the same rule splits them at the last
 * Assistant marker they share, so the responses carry the rest of each dialogue (later turns included). They are
 * kept and counted under {@link #DIFFER_EARLIER} — a continuation that still contains a
 * {@code "\n\nAssistant:"} marker is what identifies them.
 *
 * <p><b>Whitespace.</b> Nothing is stripped: the prompt ends with {@code "Assistant:"} (no trailing space) and each
 * response keeps its leading space ({@code " Sure, …"}), which is how GPT-2-style BPE tokenises a word after a
 * colon, and where a generator continuing the prompt starts.
 *
 * <p>Bad records: {@code chosen}/{@code rejected} missing or not strings; no {@code "\n\nAssistant:"} marker in the
 * shared prefix; a continuation that is empty or only whitespace ("empty chosen continuation", "empty rejected
 * continuation" — the public harmless-base test split has 4 blank chosen replies); identical continuations.
 */
public final class HhRlhfFormat {
    /** The turn marker that ends the prompt. */
    public static final String ASSISTANT = "\n\nAssistant:";
    /** Counter: pairs whose sides differ before the last Assistant turn, split at the last shared marker. */
    public static final String DIFFER_EARLIER = "hh: sides differ before the last Assistant turn (split at the last shared one)";

    private HhRlhfFormat() {
    }

    public static ReadResult<PreferencePair> read(Path file, ReadOptions options) throws IOException {
        return RecordReader.readObjects(file, "hh", options, (o, ctx) -> {
            Split s = split(Fields.string(o, "chosen"), Fields.string(o, "rejected"));
            if (s.differEarlier) ctx.count(DIFFER_EARLIER, 1);
            return new PreferencePair(s.prompt, s.chosen, s.rejected, ctx.origin());
        });
    }

    record Split(String prompt, String chosen, String rejected, boolean differEarlier) {
    }

    /** The split rule of the class comment. */
    static Split split(String chosen, String rejected) throws BadRecord {
        int common = 0, n = Math.min(chosen.length(), rejected.length());
        while (common < n && chosen.charAt(common) == rejected.charAt(common)) common++;
        int k = chosen.lastIndexOf(ASSISTANT, common - ASSISTANT.length()); // marker entirely inside the prefix
        if (common < ASSISTANT.length() || k < 0) throw new BadRecord("no shared Assistant turn");
        int end = k + ASSISTANT.length();
        String c = chosen.substring(end), r = rejected.substring(end);
        if (c.isBlank()) throw new BadRecord("empty chosen continuation");
        if (r.isBlank()) throw new BadRecord("empty rejected continuation");
        if (c.equals(r)) throw new BadRecord("chosen equals rejected");
        boolean earlier = c.contains(ASSISTANT) || r.contains(ASSISTANT);
        return new Split(chosen.substring(0, end), c, r, earlier);
    }
}
