package dev.align4j.model;

import dev.align4j.tensor.Tensor;

/**
 * Incremental decoding of a {@link CausalLm} with a KV cache ({@link CausalLm#decoder}): {@link #prefill} the
 * prompts, then {@link #step} one token per sequence; each returns the next-token logits {@code [B, V]} of every
 * sequence's last token. Prompts of different lengths are stored right-aligned (left padding), masked so that
 * each sequence's logits equal a plain forward on its unpadded tokens up to float rounding. Not thread-safe.
 */
public interface Decoder extends AutoCloseable {
    /** The sequences held now: the prefill's, fewer after {@link #retain}. */
    int batch();

    /** Slots in the cache: the longest prompt plus the steps. */
    int maxT();

    /** Slots filled so far (P after the prefill, +1 per step); -1 before the prefill. */
    int length();

    /** The padding of each sequence ({@code P − L_b}: its first real slot). */
    int[] padding();

    /**
     * Resets the cache and runs the prompts ({@code prompts[b]}, 1 ≤ length ≤ maxT, tokens in [0, V)). Returns the
     * logits {@code [B, V]} of each prompt's last token: a buffer of this decoder, overwritten by the next call.
     */
    Tensor prefill(int[][] prompts);

    /** Appends one token per sequence at the next slot and returns the next logits (the same buffer). */
    Tensor step(int[] tokens);

    /**
     * Keeps only the sequences {@code rows} (ascending, distinct, each below {@link #batch()}), which become sequences
     * 0, 1, ... with their slots, padding and logits; later steps take and return {@code rows.length} sequences.
     * A generator drops its finished sequences this way, so that a step costs what the unfinished ones need.
     */
    void retain(int[] rows);

    @Override
    void close();
}
