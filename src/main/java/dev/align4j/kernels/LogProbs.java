package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Token log-probs: a fused log-softmax + gather over logits {@code [..., V]} at {@code labels [...]}, under
 * an optional row mask, with an optional temperature τ and per-token entropy. With s = logits/τ:
 * {@code logp = s[label] − logsumexp(s)}, {@code entropy = logsumexp(s) − Σ softmax(s)·s}. The forward
 * saves the per-row logsumexp so that the backward recomputes probabilities instead of storing them; no
 * N×V temporary is ever allocated, and the backward may write the gradient into the logits buffer. For
 * |lse| >= 64 (huge logits or a small temperature) the fp32 lse is too coarse for that, and the backward
 * renormalises the row (one more read of it), so the gradient stays as exact as at ordinary magnitudes.
 * Rows whose mask is 0 are not read; their outputs and gradients are 0. A row whose logits are all −inf
 * has no distribution: its lse is −inf and its log-prob, entropy and gradient are NaN; NaN or +inf in a row
 * gives NaN.
 *
 * <pre>{@code
 * try (Scope scope = new Scope()) {
 *     LogProbs.Result r = LogProbs.forward(scope, logits, labels, mask, 1.0f, true);
 *     // ... upstream gradients dlogp, dentropy ...
 *     LogProbs.backward(logits, labels, mask, 1.0f, r, dlogp, dentropy, logits); // in place
 * }
 * }</pre>
 */
public final class LogProbs {
    private LogProbs() {}

    /** Forward outputs, all of shape {@code labels.shape()}; {@code entropy} is null unless requested. */
    public record Result(Tensor logp, Tensor entropy, Tensor lse) implements AutoCloseable {
        @Override
        public void close() {
            logp.close();
            if (entropy != null) entropy.close();
            lse.close();
        }
    }

    /** Forward into new tensors of {@code scope}. */
    public static Result forward(Scope scope, Tensor logits, Tensor labels, Tensor mask, float temperature,
                                 boolean withEntropy) {
        Device device = Args.open("logits", logits);
        long[] rows = rowShape(logits);
        Tensor logp = scope.empty(device, DType.F32, rows);
        Tensor entropy = withEntropy ? scope.empty(device, DType.F32, rows) : null;
        Tensor lse = scope.empty(device, DType.F32, rows);
        try {
            forward(logits, labels, mask, temperature, logp, entropy, lse);
        } catch (RuntimeException e) {
            logp.close();
            if (entropy != null) entropy.close();
            lse.close();
            throw e;
        }
        return new Result(logp, entropy, lse);
    }

    /** Forward into caller-provided outputs ({@code entropy} may be null). */
    public static void forward(Tensor logits, Tensor labels, Tensor mask, float temperature, Tensor logp,
                               Tensor entropy, Tensor lse) {
        Device device = Args.sameDevice(new String[] {"logits", "labels", "mask", "logp", "entropy", "lse"},
                logits, labels, mask, logp, entropy, lse);
        Args.open("labels", labels);
        Args.open("logp", logp);
        Args.open("lse", lse);
        long[] rows = rowShape(logits);
        long n = labels.numel();
        long v = logits.dim(-1);
        checkRows(labels, mask, rows);
        Args.f32("logp", logp, false, rows);
        Args.f32("entropy", entropy, true, rows);
        Args.f32("lse", lse, false, rows);
        Args.positive("temperature", temperature);
        if (mask != null) Args.mask("mask", mask);
        Args.indices("labels", labels, 0, (int) v);
        NativeKernels.logprobsFwd(device, logits, labels, mask, n, v, 1.0f / temperature, logp, entropy, lse);
    }

    /**
     * Backward: {@code dlogits = ∂L/∂logits} from {@code dlogp = ∂L/∂logp} and, optionally,
     * {@code dentropy = ∂L/∂entropy} (which needs the forward's entropy). {@code dlogits} may be
     * {@code logits} itself (in place). Masked rows get 0.
     */
    public static void backward(Tensor logits, Tensor labels, Tensor mask, float temperature, Result saved,
                                Tensor dlogp, Tensor dentropy, Tensor dlogits) {
        if (saved == null) throw new IllegalArgumentException("saved must not be null");
        backward(logits, labels, mask, temperature, saved.lse(), saved.entropy(), dlogp, dentropy, dlogits);
    }

    /** Backward with the saved tensors passed one by one ({@code entropy} needed only with {@code dentropy}). */
    public static void backward(Tensor logits, Tensor labels, Tensor mask, float temperature, Tensor lse,
                                Tensor entropy, Tensor dlogp, Tensor dentropy, Tensor dlogits) {
        Device device = Args.sameDevice(
                new String[] {"logits", "labels", "mask", "lse", "entropy", "dlogp", "dentropy", "dlogits"},
                logits, labels, mask, lse, entropy, dlogp, dentropy, dlogits);
        Args.open("labels", labels);
        Args.open("dlogits", dlogits);
        long[] rows = rowShape(logits);
        checkRows(labels, mask, rows);
        Args.f32("lse", lse, false, rows);
        Args.f32("dlogp", dlogp, false, rows);
        Args.f32("dentropy", dentropy, true, rows);
        if (dentropy != null && entropy == null)
            throw new IllegalArgumentException("entropy: the forward's entropy is needed when dentropy is given");
        Args.f32("entropy", entropy, true, rows);
        Args.f32("dlogits", dlogits, false, logits.shape());
        Args.positive("temperature", temperature);
        if (mask != null) Args.mask("mask", mask);
        long v = logits.dim(-1);
        Args.indices("labels", labels, 0, (int) v);
        NativeKernels.logprobsBwd(device, logits, labels, mask, labels.numel(), v, 1.0f / temperature, lse,
                dentropy == null ? null : entropy, dlogp, dentropy, dlogits);
    }

    /** Convenience on Java arrays (CPU): logits {@code [n·vocab]} row-major; mask may be null. */
    public static float[][] compute(float[] logits, int[] labels, float[] mask, int vocab, float temperature) {
        if (vocab < 1) throw new IllegalArgumentException("vocab must be >= 1, got " + vocab);
        if (labels == null) throw new IllegalArgumentException("labels must not be null");
        if (logits == null) throw new IllegalArgumentException("logits must not be null");
        if (logits.length != (long) labels.length * vocab)
            throw new IllegalArgumentException("logits has " + logits.length + " values, expected labels.length × vocab = "
                    + (long) labels.length * vocab);
        if (mask != null) SeqReduce.sameLength("mask", mask, labels.length);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor z = s.of(cpu, logits, labels.length, vocab);
            Tensor y = s.of(cpu, labels);
            Tensor m = mask == null ? null : s.of(cpu, mask);
            Result r = forward(s, z, y, m, temperature, true);
            return new float[][] {r.logp().toFloatArray(), r.entropy().toFloatArray(), r.lse().toFloatArray()};
        }
    }

    private static long[] rowShape(Tensor logits) {
        Args.dtype("logits", logits, DType.F32);
        if (logits.rank() < 1) throw new IllegalArgumentException("logits must have rank >= 1 (the last dimension is V)");
        if (logits.dim(-1) < 1)
            throw new IllegalArgumentException("logits: the last dimension (V) must be >= 1, got " + logits.dim(-1));
        if (logits.dim(-1) > Integer.MAX_VALUE)
            throw new IllegalArgumentException("logits: the last dimension (V) must fit an int, got " + logits.dim(-1));
        long[] s = logits.shape();
        return Arrays.copyOf(s, s.length - 1);
    }

    private static void checkRows(Tensor labels, Tensor mask, long[] rows) {
        Args.dtype("labels", labels, DType.I32);
        Args.shape("labels", labels, rows);
        Args.f32("mask", mask, true, rows);
    }
}
