package dev.align4j.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Draws one token from a row of logits (host floats), all arithmetic in double. The sampling distribution:
 * <ol>
 *   <li>temperature τ: {@code z = logits / τ}; τ = 0 means greedy (argmax, the lowest index on ties, no random
 *       draw);</li>
 *   <li>top-k (k ≥ 1; 0 = off): keep the k largest logits (ties broken by the lower index);</li>
 *   <li>top-p (p ∈ (0, 1]; 1 = off): of those, in decreasing order, keep the shortest prefix whose probability
 *       under {@code softmax(z)} renormalised over the top-k set reaches p (at least one token);</li>
 *   <li>draw from {@code softmax(z)} renormalised over the kept tokens (one {@code nextDouble()}).</li>
 * </ol>
 * Each {@link Sample} carries two log-probs of the drawn token: {@code logProb}, under the model's UNTEMPERED
 * full softmax {@code log softmax(logits)[token]} (what PPO stores as the behaviour policy's log-prob and what a
 * fresh forward's {@code LogProbs} recomputes), and {@code sampleLogProb}, under the actual sampling distribution
 * of steps 1–4 (0 for greedy).
 */
public final class Sampler {
    private final double temperature;
    private final int topK;
    private final double topP;

    /** One drawn token with its log-probs (see the class comment). */
    public record Sample(int token, double logProb, double sampleLogProb) {}

    public Sampler(double temperature, int topK, double topP) {
        checkTemperature(temperature);
        checkTopK(topK);
        checkTopP(topP);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
    }

    static void checkTemperature(double temperature) {
        if (!(temperature >= 0) || Double.isInfinite(temperature))
            throw new IllegalArgumentException("temperature must be finite and >= 0 (0 = greedy), got " + temperature);
    }

    static void checkTopK(int topK) {
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
    }

    static void checkTopP(double topP) {
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1] (1 = off), got " + topP);
    }

    public boolean greedy() {
        return temperature == 0;
    }

    /** Samples from {@code logits[offset .. offset + v)}; {@code rng} is used only when not greedy. */
    public Sample sample(float[] logits, int offset, int v, SplittableRandom rng) {
        if (v < 1 || offset < 0 || offset + v > logits.length)
            throw new IllegalArgumentException("logits row [" + offset + ", " + (offset + v) + ") outside an array of "
                    + logits.length);
        double max = Double.NEGATIVE_INFINITY;
        int argmax = -1;
        for (int i = 0; i < v; i++) {
            double x = logits[offset + i];
            if (Double.isNaN(x)) throw new IllegalStateException("logits[" + i + "] is NaN");
            if (x > max) {
                max = x;
                argmax = i;
            }
        }
        if (Double.isInfinite(max)) throw new IllegalStateException("the largest logit is " + max);
        if (temperature == 1 && (topK == 0 || topK >= v) && topP == 1) {
            // plain sampling (RL's rollouts): the sampling weights are the softmax's own terms, exponentiated once
            double[] w = new double[v];
            double z = 0;
            for (int i = 0; i < v; i++) z += (w[i] = Math.exp(logits[offset + i] - max));
            int tok = draw(w, v, z, rng);
            return new Sample(tok, logits[offset + tok] - (max + Math.log(z)), Math.log(w[tok] / z));
        }
        double sum = 0;
        for (int i = 0; i < v; i++) sum += Math.exp(logits[offset + i] - max);
        double lse = max + Math.log(sum);
        if (greedy()) return new Sample(argmax, logits[offset + argmax] - lse, 0.0);

        double zmax = max / temperature;
        int k = topK == 0 ? v : Math.min(topK, v);
        if (k == v && topP == 1) {
            // the whole vocabulary in index order: no sort needed
            double[] w = new double[v];
            double z = 0;
            for (int i = 0; i < v; i++) z += (w[i] = Math.exp(logits[offset + i] / temperature - zmax));
            int tok = draw(w, v, z, rng);
            return new Sample(tok, logits[offset + tok] - lse, Math.log(w[tok] / z));
        }
        int[] order = sortedDescending(logits, offset, v);
        double[] w = new double[k];
        double zk = 0;
        for (int i = 0; i < k; i++) zk += (w[i] = Math.exp(logits[offset + order[i]] / temperature - zmax));
        int n = k;
        if (topP < 1) {
            double cum = 0;
            for (n = 0; n < k; ) {
                cum += w[n++];
                if (cum >= topP * zk) break;
            }
        }
        double zn = 0;
        for (int i = 0; i < n; i++) zn += w[i];
        int j = draw(w, n, zn, rng);
        int tok = order[j];
        return new Sample(tok, logits[offset + tok] - lse, Math.log(w[j] / zn));
    }

    /** Index i < n with probability w[i] / total (inverse CDF; never an index of weight 0). */
    private static int draw(double[] w, int n, double total, SplittableRandom rng) {
        double u = rng.nextDouble() * total;
        double cum = 0;
        int last = 0;
        for (int i = 0; i < n; i++) {
            if (w[i] <= 0) continue;
            last = i;
            cum += w[i];
            if (u < cum) return i;
        }
        return last;   // u landed in the rounding gap at the top: the last positive weight
    }

    /** Indices of logits[offset ..) sorted by decreasing logit, ties by increasing index. */
    static int[] sortedDescending(float[] logits, int offset, int v) {
        long[] keys = new long[v];
        for (int i = 0; i < v; i++) {
            int bits = Float.floatToIntBits(logits[offset + i]);
            int ordered = bits < 0 ? bits ^ 0x7fffffff : bits;       // signed order = float order
            keys[i] = ((long) ~ordered << 32) | i;                     // ~ reverses it; the index breaks ties
        }
        Arrays.sort(keys);
        int[] out = new int[v];
        for (int i = 0; i < v; i++) out[i] = (int) keys[i];
        return out;
    }
}
