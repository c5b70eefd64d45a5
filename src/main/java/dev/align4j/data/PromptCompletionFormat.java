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
        return RecordReader.read(file, "prompt-completion", options, false, (node, ctx, out) -> {
            Fields.requireObject(node, "record");
            String prompt = Fields.string(node, "prompt");
            String completion = Fields.nonBlank(node, "completion");
            out.add(SftExample.of(prompt, completion, ctx.origin()));
        });
    }
}
