package dev.align4j.bench;

/**
 * The unfused baseline for {@link LogProbsBench}: what straightforward code does — materialise
 * log_softmax into a full N×V array, then gather (and, for the entropy, read it again); the backward
 * builds a full N×V gradient from the saved log_softmax, as autograd does. Single-threaded plain Java
 * loops with Math.exp; the N×V temporaries are allocated on every call, as they would be. Each row is a
 * method call so that the JIT compiles the row loops normally after a few rows (one long method called
 * a handful of times would run in on-stack-replacement code, whose speed varies from variant to variant).
 */
final class LogProbsNaive {
    private LogProbsNaive() {}

    /** Row-wise log_softmax into a new N×V array. */
    static float[] logSoftmax(float[] z, int n, int v) {
        float[] out = new float[Math.multiplyExact(n, v)];
        for (int i = 0; i < n; i++) logSoftmaxRow(z, i * v, v, out);
        return out;
    }

    private static void logSoftmaxRow(float[] z, int o, int v, float[] out) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < v; j++) max = Math.max(max, z[o + j]);
        double sum = 0;
        for (int j = 0; j < v; j++) sum += Math.exp(z[o + j] - max);
        float lse = max + (float) Math.log(sum);
        for (int j = 0; j < v; j++) out[o + j] = z[o + j] - lse;
    }

    /** logp = log_softmax(z)[label]; returns the materialised log_softmax (saved for the backward). */
    static float[] forward(float[] z, int[] labels, int n, int v, float[] logp) {
        float[] ls = logSoftmax(z, n, v);
        for (int i = 0; i < n; i++) logp[i] = ls[i * v + labels[i]];
        return ls;
    }

    /** Forward plus entropy H = −Σ p·log p, p = exp(log_softmax), read from the materialised array. */
    static float[] forwardEntropy(float[] z, int[] labels, int n, int v, float[] logp, float[] entropy) {
        float[] ls = forward(z, labels, n, v, logp);
        for (int i = 0; i < n; i++) entropy[i] = entropyRow(ls, i * v, v);
        return ls;
    }

    private static float entropyRow(float[] ls, int o, int v) {
        double h = 0;
        for (int j = 0; j < v; j++) h -= Math.exp(ls[o + j]) * ls[o + j];
        return (float) h;
    }

    /**
     * dz = g·(onehot − p) − h·p·(log p + H) into a new N×V array, from the saved log_softmax {@code ls}
     * ({@code dentropy} and {@code entropy} null for the log-prob term alone).
     */
    static float[] backward(float[] ls, int[] labels, int n, int v, float[] dlogp, float[] dentropy, float[] entropy) {
        float[] dz = new float[Math.multiplyExact(n, v)];
        for (int i = 0; i < n; i++) {
            int o = i * v;
            if (dentropy == null) backwardRow(ls, o, v, dlogp[i], dz);
            else backwardEntropyRow(ls, o, v, dlogp[i], dentropy[i], entropy[i], dz);
            dz[o + labels[i]] += dlogp[i];
        }
        return dz;
    }

    private static void backwardRow(float[] ls, int o, int v, float g, float[] dz) {
        for (int j = 0; j < v; j++) dz[o + j] = -g * (float) Math.exp(ls[o + j]);
    }

    private static void backwardEntropyRow(float[] ls, int o, int v, float g, float h, float entropy, float[] dz) {
        for (int j = 0; j < v; j++) {
            float p = (float) Math.exp(ls[o + j]);
            dz[o + j] = -g * p - h * p * (ls[o + j] + entropy);
        }
    }
}
