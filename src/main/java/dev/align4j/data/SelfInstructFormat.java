package dev.align4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Self-Instruct seed tasks (yizhongw/self-instruct, tatsu-lab/stanford_alpaca {@code seed_tasks.jsonl}): JSONL (or a
 * JSON array) of {@code {"id", "name", "instruction", "instances": [{"input", "output"}, …], "is_classification"}}.
 *
 * <p>Each instance becomes one {@code SftExample.of(prompt, output)}, the prompt rendered with the Alpaca templates
 * exactly as {@link AlpacaFormat#prompt} does (the seed tasks are what Alpaca's data was generated from, so the
 * two formats train the same way): with input when the instance's {@code input} is non-empty, else without. The
 * output is the trained response, verbatim. The origin is {@code "file:line#k"}, {@code k} the 0-based index of
 * the instance in {@code instances}.
 *
 * <p>Bad records (the whole task, all of its instances): {@code instruction} missing, not a string or blank;
 * {@code instances} missing, not an array, or empty ({@code "no instances"}); an instance that is not a JSON
 * object; an instance's {@code input} missing or not a string (it may be {@code ""}); an instance's {@code output}
 * missing, not a string or blank. An instance's error names it ("in instance k") but the skip key stays the plain
 * reason, shared with the Alpaca format's. {@code id}, {@code name}, {@code is_classification} and other fields
 * are ignored.
 */
public final class SelfInstructFormat {
    private SelfInstructFormat() {
    }

    public static ReadResult<SftExample> read(Path file, ReadOptions options) throws IOException {
        return RecordReader.read(file, "self-instruct", options, false, (node, ctx, out) -> {
            Fields.requireObject(node, "record");
            String instruction = Fields.nonBlank(node, "instruction");
            JsonNode instances = Fields.array(node, "instances");
            if (instances.isEmpty()) throw new BadRecord("no instances");
            // a bad instance rejects the whole task: the reader commits a record's outputs only when it parses whole
            for (int k = 0; k < instances.size(); k++) {
                JsonNode inst = instances.get(k);
                String input, output;
                try {
                    if (!inst.isObject()) throw new BadRecord("instance is not a JSON object", "got " + Fields.kind(inst));
                    input = Fields.string(inst, "input");
                    output = Fields.nonBlank(inst, "output");
                } catch (BadRecord b) { // say which instance
                    throw new BadRecord(b.key, (b.detail == null ? "" : b.detail + " ") + "in instance " + k);
                }
                out.add(SftExample.of(AlpacaFormat.prompt(instruction, input), output, ctx.origin() + "#" + k)
                        .withChat(SftExample.Chat.instruction(AlpacaFormat.userMessage(instruction, input), output)));
            }
        });
    }
}
