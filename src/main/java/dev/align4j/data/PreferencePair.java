package dev.align4j.data;

/**
 * One preference pair as text: a prompt and two responses, {@code chosen} preferred over {@code rejected}
 * (reward model, DPO family). Responses are non-empty; {@link Encoder} appends EOS to each.
 */
public record PreferencePair(String prompt, String chosen, String rejected, String origin) {
    public PreferencePair {
        if (prompt == null || chosen == null || rejected == null)
            throw new IllegalArgumentException("prompt, chosen and rejected must not be null (" + origin + ")");
        if (chosen.isEmpty()) throw new IllegalArgumentException("chosen must not be empty (" + origin + ")");
        if (rejected.isEmpty()) throw new IllegalArgumentException("rejected must not be empty (" + origin + ")");
        if (origin == null) origin = "";
    }
}
