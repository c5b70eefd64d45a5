package dev.align4j.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Stanford Alpaca instruction data: a JSON array, or JSONL, of {@code {"instruction", "input", "output"}}.
 *
 * <p>Each record becomes {@code SftExample.of(prompt, output)} with the Alpaca prompt templates, exactly as in
 * tatsu-lab/stanford_alpaca: {@link #PROMPT_WITH_INPUT} when {@code input} is non-empty, else
 * {@link #PROMPT_NO_INPUT}. The output is the trained response, verbatim (the {@link Encoder} appends EOS). With a
 * model's own chat template the record is one user turn ({@link #userMessage}) and the output the assistant's reply.
 *
 * <p>Bad records: any of the three fields missing or not a string, an empty (blank) {@code instruction} or
 * {@code output}. {@code input} must be present but may be {@code ""}. Other fields are ignored.
 */
public final class AlpacaFormat {
    public static final String PROMPT_WITH_INPUT = "Below is an instruction that describes a task, paired with an input "
            + "that provides further context. Write a response that appropriately completes the request.\n\n"
            + "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n";
    public static final String PROMPT_NO_INPUT = "Below is an instruction that describes a task. Write a response that "
            + "appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n";

    private AlpacaFormat() {
    }

    /** The Alpaca prompt for an instruction and an input ({@code ""} or null: the template without input). */
    public static String prompt(String instruction, String input) {
        if (instruction == null) throw new IllegalArgumentException("instruction must not be null");
        if (input == null || input.isEmpty()) return PROMPT_NO_INPUT.replace("{instruction}", instruction);
        // one pass, so an instruction containing "{input}" is not substituted into
        int i = PROMPT_WITH_INPUT.indexOf("{instruction}"), j = PROMPT_WITH_INPUT.indexOf("{input}");
        return PROMPT_WITH_INPUT.substring(0, i) + instruction
                + PROMPT_WITH_INPUT.substring(i + "{instruction}".length(), j) + input
                + PROMPT_WITH_INPUT.substring(j + "{input}".length());
    }

    public static ReadResult<SftExample> read(Path file, ReadOptions options) throws IOException {
        // arguments evaluate left to right: the fields are checked in the order instruction, input, output
        return RecordReader.readObjects(file, "alpaca", options, (o, ctx) -> {
            String instruction = Fields.nonBlank(o, "instruction"), input = Fields.string(o, "input");
            String output = Fields.nonBlank(o, "output");
            return SftExample.of(prompt(instruction, input), output, ctx.origin())
                    .withChat(SftExample.Chat.instruction(userMessage(instruction, input), output));
        });
    }

    /**
     * The user message of an instruction when a model's own chat template renders it (instead of the Alpaca
     * prompt): the instruction, then a blank line and the input when there is one.
     */
    public static String userMessage(String instruction, String input) {
        return input == null || input.isEmpty() ? instruction : instruction + "\n\n" + input;
    }
}
