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
        return RecordReader.read(file, "pairs", options, false, (node, ctx, out) -> {
            Fields.requireObject(node, "record");
            String prompt = Fields.string(node, "prompt");
            String chosen = Fields.nonBlank(node, "chosen");
            String rejected = Fields.nonBlank(node, "rejected");
            if (chosen.equals(rejected)) throw new BadRecord("chosen equals rejected");
            out.add(new PreferencePair(prompt, chosen, rejected, ctx.origin()));
        });
    }
}
