package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.testing.Close;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The sampling distribution against a double-precision reference, and its log-probs. */
class SamplerTest {

    /** Reference: the distribution of Sampler's class comment, written literally (probabilities, double). */
    static double[] reference(float[] logits, double temperature, int topK, double topP) {
        int v = logits.length;
        double[] out = new double[v];
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : a - b);
        if (temperature == 0) {
            out[order[0]] = 1;
            return out;
        }
        int k = topK == 0 ? v : Math.min(topK, v);
        double[] p = new double[k];
        double z = 0;
        for (int i = 0; i < k; i++) z += (p[i] = Math.exp(logits[order[i]] / temperature));
        int n = 0;
        double cum = 0;
        while (n < k) {
            cum += p[n++] / z;
            if (cum >= topP) break;
        }
        double zn = 0;
        for (int i = 0; i < n; i++) zn += p[i];
        for (int i = 0; i < n; i++) out[order[i]] = p[i] / zn;
        return out;
    }

    @Test
    void distributionsAndLogProbs() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int v = 7;
        double[][] options = {{1, 0, 1}, {0.7, 4, 1}, {1.3, 0, 0.8}, {0.5, 5, 0.9}, {2, 1, 1}, {1, 0, 1e-9}, {0, 0, 1}};
        for (double[] o : options) {
            float[] logits = new float[v];
            for (int i = 0; i < v; i++) logits[i] = (float) (1.5 * rnd.nextGaussian());
            Sampler s = new Sampler(o[0], (int) o[1], o[2]);
            double[] ref = reference(logits, o[0], (int) o[1], o[2]);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float x : logits) max = Math.max(max, x);
            for (float x : logits) sum += Math.exp(x - max);
            double lse = max + Math.log(sum);
            int n = 40000;
            int[] counts = new int[v];
            SplittableRandom r = new SplittableRandom(seed);
            String tag = "seed " + seed + " options " + java.util.Arrays.toString(o);
            for (int i = 0; i < n; i++) {
                Sampler.Sample x = s.sample(logits, 0, v, r);
                counts[x.token()]++;
                assertTrue(ref[x.token()] > 0, tag + ": drew token " + x.token() + " of probability 0");
                Close.assertClose(tag + " logProb", logits[x.token()] - lse, x.logProb(), 1e-12, 1e-12);
                Close.assertClose(tag + " sampleLogProb", o[0] == 0 ? 0 : Math.log(ref[x.token()]), x.sampleLogProb(), 1e-12, 1e-9);
            }
            for (int j = 0; j < v; j++) {
                double sd = Math.sqrt(n * ref[j] * (1 - ref[j]));
                assertTrue(Math.abs(counts[j] - n * ref[j]) <= 5 * sd + 1e-9,
                        tag + ": token " + j + " drawn " + counts[j] + " times, expected " + n * ref[j]);
            }
        }
    }

    @Test
    void greedyTopK1AndTinyTopPAreArgmaxWithTiesToTheLowestIndex() {
        float[] logits = {0.5f, 2f, -1f, 2f, 1.9f};
        SplittableRandom r = new SplittableRandom(1);
        for (Sampler s : new Sampler[] {new Sampler(0, 0, 1), new Sampler(1, 1, 1), new Sampler(1, 0, 1e-12),
                new Sampler(3, 1, 0.5)})
            for (int i = 0; i < 100; i++) assertEquals(1, s.sample(logits, 0, 5, r).token());
        // an offset row
        float[] two = {9f, 0f, 0f, 1f, 3f, 2f};
        assertEquals(4, new Sampler(0, 0, 1).sample(two, 3, 3, r).token() + 3);
    }

    @Test
    void seededIsReproducible() {
        float[] logits = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
        Sampler s = new Sampler(1, 0, 1);
        SplittableRandom a = new SplittableRandom(42), b = new SplittableRandom(42);
        for (int i = 0; i < 200; i++) assertEquals(s.sample(logits, 0, 6, a).token(), s.sample(logits, 0, 6, b).token());
    }

    @Test
    void badArguments() {
        KvCacheTest.msg(() -> new Sampler(-0.1, 0, 1), "temperature");
        KvCacheTest.msg(() -> new Sampler(Double.NaN, 0, 1), "temperature");
        KvCacheTest.msg(() -> new Sampler(1, -1, 1), "topK");
        KvCacheTest.msg(() -> new Sampler(1, 0, 0), "topP");
        KvCacheTest.msg(() -> new Sampler(1, 0, 1.01), "topP");
        KvCacheTest.msg(() -> new Sampler(1, 0, Double.NaN), "topP");
        assertThrows(IllegalStateException.class,
                () -> new Sampler(1, 0, 1).sample(new float[] {0f, Float.NaN}, 0, 2, new SplittableRandom(1)));
    }
}
