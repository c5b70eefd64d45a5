package dev.align4j.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Generic preference JSONL (or a JSON array): {@code {"prompt", "chosen", "rejected"}} → {@link PreferencePair},
 * all three verbatim. {@code prompt} may be empty; {@code chosen} and {@code rejected} must have non-whitespace
 * text and differ from each other (an identical pair carries no preference). Other fields are ignored.
 */
public final class PairsFormat {
    private PairsFormat() {
    }

    public static ReadResult<PreferencePair> read(Path file, ReadOptions options) throws IOException {
        return RecordReader.readObjects(file, "pairs", options, (o, ctx) -> {
            String prompt = Fields.string(o, "prompt");
            String chosen = Fields.nonBlank(o, "chosen"), rejected = Fields.nonBlank(o, "rejected");
            if (chosen.equals(rejected)) throw new BadRecord("chosen equals rejected");
            return new PreferencePair(prompt, chosen, rejected, ctx.origin());
        });
    }
}
