package dev.align4j.model;

import dev.align4j.data.Encoder;
import dev.align4j.kernels.LogProbs;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.train.ProgressListener;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Responses of a policy to text prompts, decoded and ready to judge: the shared generation step of gold
 * evaluation, win rates and sampled preference pairs.
 *
 * <p>Prompts are tokenised by {@link Encoder#encodePrompt} (exactly as training encodes them), generated in
 * batches of {@code batchSize} prompts with {@link Generator}, and each response is decoded up to its first EOS
 * (excluded, specials skipped). A response that reached {@code maxNewTokens} without EOS keeps all its tokens and
 * has {@code endedWithEos = false}. Determinism: batch {@code c} samples with the {@code c}-th seed split from
 * {@code seed}, so results depend on (model, prompts, batchSize, maxNewTokens, temperature, seed) only.
 */
public final class Responses {
    private Responses() {}

    /**
     * One response. {@code tokens}: the generated ids, EOS included when sampled; {@code logProbs}: their
     * untempered log-probs under the policy (parallel to {@code tokens}); {@code entropies}: the policy's entropy
     * (nats, temperature 1) at each of those positions, or null when not requested.
     */
    public record Response(int[] tokens, String text, boolean endedWithEos, float[] logProbs, float[] entropies) {
        /** Σ log-probs of the generated tokens (EOS included when sampled). */
        public double logProb() {
            double s = 0;
            for (float x : logProbs) s += x;
            return s;
        }

        /** The policy's probability of the whole response: {@code exp(logProb())}, in [0, 1]. */
        public double confidence() {
            return Math.min(1.0, Math.exp(logProb()));
        }

        /** Tokens before EOS (the answer's length in tokens). */
        public int answerTokens() {
            return endedWithEos ? tokens.length - 1 : tokens.length;
        }

        /** The answer's ids: {@link #tokens} without the EOS. */
        public int[] answerIds() {
            return Arrays.copyOf(tokens, answerTokens());
        }
    }

    /**
     * Generates one response per prompt ({@code temperature} 0 = greedy, otherwise plain sampling at that
     * temperature); with {@code withEntropy}, a fresh forward on each batch's rows gives the per-position entropy.
     */
    public static List<Response> generate(CausalLm model, Encoder encoder, List<String> prompts, int batchSize,
                                          int maxNewTokens, double temperature, long seed, boolean withEntropy) {
        return generate(model, encoder, prompts, batchSize, maxNewTokens, temperature, seed, withEntropy, ProgressListener.NONE);
    }

    /**
     * As {@link #generate(CausalLm, Encoder, List, int, int, double, long, boolean)}; {@code progress} is told after
     * each batch (step = batches done, total = batches; metrics {@code step} and {@code tokens}, the tokens of the
     * batch's rows, prompts and responses).
     */
    public static List<Response> generate(CausalLm model, Encoder encoder, List<String> prompts, int batchSize,
                                          int maxNewTokens, double temperature, long seed, boolean withEntropy,
                                          ProgressListener progress) {
        if (progress == null) throw new IllegalArgumentException("progress must not be null (ProgressListener.NONE for none)");
        if (model == null) throw new IllegalArgumentException("model must not be null");
        if (encoder == null) throw new IllegalArgumentException("encoder must not be null");
        if (prompts == null) throw new IllegalArgumentException("prompts must not be null");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        Tokenizer tok = encoder.tokenizer();
        GenerationConfig base = new GenerationConfig(maxNewTokens, temperature, 0, 1, tok.eosId(), tok.padId(), seed);
        SplittableRandom seeds = new SplittableRandom(seed);
        List<Response> out = new ArrayList<>(prompts.size());
        long batches = (prompts.size() + batchSize - 1) / batchSize;
        for (int from = 0; from < prompts.size(); from += batchSize) {
            int to = Math.min(prompts.size(), from + batchSize);
            int[][] ids = new int[to - from][];
            for (int i = from; i < to; i++) {
                if (prompts.get(i) == null) throw new IllegalArgumentException("prompts[" + i + "] must not be null");
                ids[i - from] = encoder.encodePrompt(prompts.get(i));
            }
            Generation g = Generator.generate(model, ids, base.withSeed(seeds.nextLong()));
            float[] entropy = withEntropy ? entropies(model, g) : null;
            for (int b = 0; b < g.batch(); b++) {
                int[] resp = g.response(b);
                int start = b * g.width() + g.promptLengths()[b];
                float[] lp = Arrays.copyOfRange(g.logProbs(), start, start + resp.length);
                float[] ent = entropy == null ? null : Arrays.copyOfRange(entropy, start, start + resp.length);
                boolean eos = resp.length > 0 && resp[resp.length - 1] == tok.eosId();
                int[] answer = eos ? Arrays.copyOf(resp, resp.length - 1) : resp;
                out.add(new Response(resp, tok.decode(answer, true), eos, lp, ent));
            }
            long tokens = 0;
            for (int b = 0; b < g.batch(); b++) tokens += g.promptLengths()[b] + g.responseLengths()[b];
            long step = from / batchSize + 1;
            progress.onStep(step, batches, Map.of("step", step, "tokens", tokens));
        }
        return out;
    }

    /**
     * Entropy of the policy at every generated position of {@code g}, laid out like {@code g.tokens()} (0 where the
     * response mask is 0): a forward on the rows' first {@code width − 1} tokens, then {@link LogProbs} with the
     * entropy output; the entry for the token at column j comes from the logits at column j − 1. If the model runs
     * its LM head in chunks, the chunking is switched off for this forward and restored after.
     */
    public static float[] entropies(CausalLm model, Generation g) {
        int b = g.batch(), w = g.width(), t = w - 1;
        float[] out = new float[b * w];
        if (t < 1) return out;
        int[] in = new int[b * t], tg = new int[b * t];
        float[] m = new float[b * t];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++) {
                in[i * t + j] = g.tokens()[i * w + j];
                tg[i * t + j] = g.tokens()[i * w + j + 1];
                m[i * t + j] = g.responseMask()[i * w + j + 1];
            }
        int chunk = model.logitsChunkRows();
        if (chunk != 0) model.setLogitsChunkRows(0);
        try (Scope s = new Scope()) {
            model.forward(in, null, null, b, t);
            Tensor logits = model.logits();
            Tensor labels = s.of(model.device(), tg, b, t);
            Tensor mask = s.of(model.device(), m, b, t);
            LogProbs.Result r = LogProbs.forward(s, logits, labels, mask, 1f, true);
            float[] e = r.entropy().toFloatArray();
            for (int i = 0; i < b; i++)
                for (int j = 0; j < t; j++) out[i * w + j + 1] = m[i * t + j] != 0f ? e[i * t + j] : 0f;
        } finally {
            if (chunk != 0) model.setLogitsChunkRows(chunk);
        }
        return out;
    }
}
