package dev.align4j.model;

import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Batched generation with a {@link KvCache}: prefill the prompts, then one token per unfinished sequence per
 * step, sampled on the host by a {@link Sampler}, until every sequence has sampled {@code eosId} or
 * {@code maxNewTokens} tokens. Prompts may differ in length (the cache left-pads them exactly, see
 * {@link KvCache}); the result uses right padding (see {@link Generation}).
 *
 * <p>Determinism: the seed is split into one {@link SplittableRandom} per sequence (in order), each drawing one
 * {@code nextDouble()} per sampled token, so a sequence's draws do not depend on when the others stop. Greedy
 * decoding draws nothing. The same model, prompts, config and device give the same result.
 *
 * <p>Limits: {@code P + maxNewTokens ≤ nCtx} (P: the longest prompt), so that the returned rows fit a forward.
 */
public final class Generator {
    private Generator() {}

    public static Generation generate(CausalLm model, int[][] prompts, GenerationConfig config) {
        return generate(model, prompts, config, new int[0]);
    }

    /**
     * As {@link #generate(CausalLm, int[][], GenerationConfig)}, and a sequence also stops once it samples any of
     * {@code stopIds} (a tokenizer's {@code stopIds()}: EOS and a Hugging Face model's other end-of-turn ids); the
     * stop id is the response's last token.
     */
    public static Generation generate(CausalLm model, int[][] prompts, GenerationConfig config, int[] stopIds) {
        return generate(model, prompts, config, stopIds, null);
    }

    /**
     * As {@link #generate(CausalLm, int[][], GenerationConfig, int[])} for rows {@code rows} (ascending) of a larger
     * batch: prompt j draws with the random stream of sequence {@code rows[j]} of that batch, so that ranks of a
     * data-parallel job, each generating its share, sample what one process generating the whole batch samples. Null:
     * rows 0, 1, ...
     */
    public static Generation generate(CausalLm model, int[][] prompts, GenerationConfig config, int[] stopIds, int[] rows) {
        if (stopIds == null) throw new IllegalArgumentException("stopIds must not be null");
        if (model == null) throw new IllegalArgumentException("model must not be null");
        if (config == null) throw new IllegalArgumentException("config must not be null");
        if (prompts == null || prompts.length == 0) throw new IllegalArgumentException("prompts must not be null or empty");
        LmConfig mc = model.config();
        int b = prompts.length, v = mc.vocabSize(), nCtx = mc.nCtx();
        int p = KvCache.longestPrompt(prompts, nCtx, "longer than the context nCtx", v);
        int maxNew = config.maxNewTokens();
        if ((long) p + maxNew > nCtx)
            throw new IllegalArgumentException("maxNewTokens = " + maxNew + " plus the longest prompt (" + p
                    + ") exceeds the context nCtx = " + nCtx);
        if (config.eosId() >= v)
            throw new IllegalArgumentException("eosId = " + config.eosId() + " is outside the vocabulary [0, " + v + ")");
        if (config.padId() >= v)
            throw new IllegalArgumentException("padId = " + config.padId() + " is outside the vocabulary [0, " + v + ")");

        boolean[] stop = new boolean[v];
        for (int id : stopIds) {
            if (id < 0 || id >= v) throw new IllegalArgumentException("stop id " + id + " is outside the vocabulary [0, " + v + ")");
            stop[id] = true;
        }
        if (config.eosId() >= 0) stop[config.eosId()] = true;
        Sampler sampler = new Sampler(config.temperature(), config.topK(), config.topP());
        if (rows != null && rows.length != b) throw new IllegalArgumentException("rows has " + rows.length + " entries for " + b + " prompts");
        SplittableRandom root = new SplittableRandom(config.seed());
        SplittableRandom[] rngs = new SplittableRandom[b];
        for (int i = 0, k = 0; i < b; i++) {
            int row = rows == null ? i : rows[i];
            if (row < k) throw new IllegalArgumentException("rows must be ascending and distinct, got " + Arrays.toString(rows));
            SplittableRandom r = root.split();
            for (; k < row; k++) r = root.split(); // the streams of the rows not generated here
            rngs[i] = r;
            k++;
        }

        int width = p + maxNew;
        int[] tokens = new int[b * width];
        Arrays.fill(tokens, config.padId());
        float[] mask = new float[b * width], logp = new float[b * width], sampleLogp = new float[b * width];
        int[] promptLengths = new int[b], responseLengths = new int[b];
        for (int i = 0; i < b; i++) {
            promptLengths[i] = prompts[i].length;
            System.arraycopy(prompts[i], 0, tokens, i * width, prompts[i].length);
        }
        // held[j]: the sequence in the decoder's row j; finished sequences leave the decoder (retain) once they are a
        // quarter of its rows, so that a step costs what the unfinished ones need (a moved row costs about one step)
        int[] held = new int[b];
        for (int i = 0; i < b; i++) held[i] = i;
        boolean[] done = new boolean[b];
        int n = b;
        try (Decoder cache = model.decoder(b, p + maxNew - 1)) {
            Tensor logits = cache.prefill(prompts);
            for (int s = 0; s < maxNew; s++) {
                float[] host = logits.toFloatArray();
                int[] next = new int[n];
                int finished = 0;
                for (int j = 0; j < n; j++) {
                    int i = held[j];
                    if (done[i]) {
                        next[j] = config.padId();   // fed only to keep the batch aligned; its outputs are ignored
                        finished++;
                        continue;
                    }
                    Sampler.Sample smp = sampler.sample(host, j * v, v, rngs[i]);
                    int at = i * width + promptLengths[i] + s;
                    tokens[at] = smp.token();
                    mask[at] = 1f;
                    logp[at] = (float) smp.logProb();
                    sampleLogp[at] = (float) smp.sampleLogProb();
                    responseLengths[i]++;
                    next[j] = smp.token();
                    if (stop[smp.token()]) {
                        done[i] = true;
                        finished++;
                    }
                }
                if (finished == n || s == maxNew - 1) break;
                if (4 * finished >= n) {
                    int[] keep = new int[n - finished];
                    for (int j = 0, k = 0; j < n; j++)
                        if (!done[held[j]]) {
                            keep[k] = j;
                            held[k] = held[j];
                            next[k++] = next[j];
                        }
                    cache.retain(keep);
                    n = keep.length;
                    next = Arrays.copyOf(next, n);
                }
                logits = cache.step(next);
            }
        }
        return new Generation(b, width, tokens, mask, logp, sampleLogp, promptLengths, responseLengths);
    }
}
