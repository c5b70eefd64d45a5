package dev.align4j.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Generic prompt/completion JSONL (or a JSON array): {@code {"prompt": "...", "completion": "..."}} →
 * {@code SftExample.of(prompt, completion)}, both verbatim (no template, no whitespace stripped: a completion's
 * leading space stays part of the response). {@code prompt} may be empty ({@link Encoder} then starts the
 * sequence with BOS); {@code completion} must have non-whitespace text. Other fields are ignored.
 */
public final class PromptCompletionFormat {
    private PromptCompletionFormat() {
    }

    public static ReadResult<SftExample> read(Path file, ReadOptions options) throws IOException {
        return RecordReader.readObjects(file, "prompt-completion", options,
                (o, ctx) -> SftExample.of(Fields.string(o, "prompt"), Fields.nonBlank(o, "completion"), ctx.origin()));
    }
}
