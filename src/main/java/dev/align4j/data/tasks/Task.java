package dev.align4j.data.tasks;

import dev.align4j.data.SftExample;
import java.util.List;

/**
 * One generated problem of the built-in task suite, with its gold answer and its checker.
 *
 * <p><b>Format.</b> {@code prompt} is ready to feed a model: {@code "Q: <instruction>\nA:"}; {@code answer} is
 * what SFT trains on: a space then the answer text ({@code " 42"}), followed by EOS when encoded.
 *
 * <p><b>Checking.</b> Every family has exactly one correct answer, so the gold checker is an exact comparison:
 * the response (decoded model output up to EOS, specials skipped) with leading and trailing whitespace
 * stripped must equal the answer stripped the same way. Case, inner spaces and leading zeros count; anything
 * after the answer (a model that does not stop) makes it wrong. {@link #score} is the same judgement as 0/1 —
 * no partial credit, so that the gold judge can never be gamed by near misses.
 *
 * @param family      the family's name ("add", "reverse", ...)
 * @param template    index of the instruction template used (0-based, below the family's template count)
 * @param input       the canonical problem instance, independent of the template ("3+8", "tomek"): what the
 *                    train/test split hashes, and what makes two tasks the same problem
 * @param prompt      the fully formatted prompt
 * @param answer      the gold answer, with its leading space
 * @param corruptions plausible wrong answers (each with a leading space, each rejected by {@link #check}),
 *                    for preference pairs; at least one
 */
public record Task(String family, int template, String input, String prompt, String answer, List<String> corruptions) {
    public Task {
        if (family == null || family.isEmpty()) throw new IllegalArgumentException("family must not be null or empty");
        if (template < 0) throw new IllegalArgumentException("template must be >= 0, got " + template);
        if (input == null) throw new IllegalArgumentException("input must not be null");
        if (prompt == null || prompt.isEmpty()) throw new IllegalArgumentException("prompt must not be null or empty");
        if (answer == null || answer.isBlank()) throw new IllegalArgumentException("answer must not be blank (" + prompt + ")");
        if (corruptions == null || corruptions.isEmpty())
            throw new IllegalArgumentException("corruptions must not be empty (" + prompt + ")");
        corruptions = List.copyOf(corruptions);
        for (String c : corruptions)
            if (c.isBlank() || normalise(c).equals(normalise(answer)))
                throw new IllegalArgumentException("corruption '" + c + "' is blank or equals the answer (" + prompt + ")");
    }

    /** True when {@code response}, stripped of surrounding whitespace, equals the stripped answer. */
    public boolean check(String response) {
        if (response == null) throw new IllegalArgumentException("response must not be null");
        return normalise(response).equals(normalise(answer));
    }

    /** 1 when {@link #check} holds, else 0 (no partial credit). */
    public double score(String response) {
        return check(response) ? 1.0 : 0.0;
    }

    /** The SFT example: untrained prompt, trained answer (EOS is appended by the Encoder). */
    public SftExample toSft() {
        return SftExample.of(prompt, answer, origin());
    }

    /** {@code "task:<family>#<template>:<input>"}, for messages and data provenance. */
    public String origin() {
        return "task:" + family + "#" + template + ":" + input;
    }

    /** The normalisation of the checker: surrounding whitespace stripped. */
    public static String normalise(String s) {
        return s.strip();
    }
}
