package dev.align4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The double-precision Llama reference against llama2.c: from BOS, stories260K's greedy continuation of 64 tokens
 * and the log-prob of each, as llama2.c's run.c computed them from the original file (../shared/models/stories260K,
 * skipped when absent). This pins the architecture (rotate-half RoPE on Hugging Face's q/k row order, grouped-query
 * attention, SwiGLU, RMSNorm, tied head) before any kernel implements it.
 */
class LlamaReferenceTest {
    static final Path STORIES = Path.of("../shared/models/stories260K");

    @Test
    void reproducesLlama2cOnStories260K() throws Exception {
        Assumptions.assumeTrue(Files.isDirectory(STORIES), "../shared/models/stories260K is absent");
        JsonNode ref = new ObjectMapper().readTree(STORIES.resolve("reference_greedy.json").toFile());
        int[] prompt = ints(ref.get("prompt"));
        int[] want = ints(ref.get("greedy_continuation"));
        double[] wantLogp = new double[want.length];
        for (int i = 0; i < want.length; i++) wantLogp[i] = ref.get("logprob_of_each").get(i).asDouble();

        LlamaReference model = LlamaReference.load(STORIES);
        int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + want.length);
        int[] got = new int[want.length];
        double maxErr = 0;
        for (int i = 0; i < want.length; i++) {
            int len = prompt.length + i;
            double[][] logits = model.logits(java.util.Arrays.copyOf(seq, len));
            double[] logp = LlamaReference.logSoftmax(logits[len - 1]);
            int best = 0;
            for (int v = 1; v < logp.length; v++) if (logp[v] > logp[best]) best = v;
            got[i] = best;
            seq[len] = best;
            maxErr = Math.max(maxErr, Math.abs(logp[best] - wantLogp[i]));
        }
        assertArrayEquals(want, got, "greedy continuation of BOS");
        // llama2.c works in fp32; the README of the model gives about 1e-4 as the agreement to expect.
        assertEquals(0.0, maxErr, 1e-4, "max |log-prob - llama2.c's| over 64 tokens");
    }

    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }
}
