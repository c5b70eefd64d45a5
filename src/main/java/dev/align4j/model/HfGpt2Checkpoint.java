package dev.align4j.model;

import java.util.Map;

/**
 * A GPT-2 checkpoint in memory, in Hugging Face's layout (see {@link HfGpt2Layout}): the config, every
 * parameter by its unprefixed HF name in layout order (Conv1D weights as {@code [in, out]}), and any extra
 * floating tensors the file held outside that layout (e.g. a value head), by their names in the file.
 */
public record HfGpt2Checkpoint(GptConfig config, Map<String, float[]> params, Map<String, float[]> extras) {
    public HfGpt2Checkpoint {
        params = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(params));
        extras = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(extras));
    }

    /** The parameter {@code name} (an HF name such as {@code h.0.attn.c_attn.weight}); fails when absent. */
    public float[] param(String name) {
        float[] p = params.get(name);
        if (p == null) throw new IllegalArgumentException("no parameter '" + name + "'");
        return p;
    }
}
