package dev.align4j.kernels;

import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Masked sequence sums over padded {@code [B, T]} rows: {@code sums[b] = Σ_t m[b,t]·values[b,t]} and
 * {@code counts[b] = Σ_t m[b,t]}. Turns token log-probs into sequence log-probs ℓ(y) and lengths |y| for the
 * DPO family. The backward of a loss L(sums) is {@code dvalues[b,t] = dsums[b]·m[b,t]}.
 * Masked-out values are never used (padding may hold anything, NaN included); NaN or ±inf on the mask
 * propagate. Counts are exact for T < 2^24.
 *
 * <pre>{@code
 * try (Scope scope = new Scope()) {
 *     SeqReduce.Result r = SeqReduce.forward(scope, logp, mask);   // r.sums() = ℓ(y), r.counts() = |y|
 *     Tensor dlogp = SeqReduce.backward(scope, dsums, mask);
 * }
 * }</pre>
 */
public final class SeqReduce {
    private SeqReduce() {}

    /** Per-sequence sums and counts, both {@code [B]}. */
    public record Result(Tensor sums, Tensor counts) implements AutoCloseable {
        @Override
        public void close() {
            sums.close();
            counts.close();
        }
    }

    /** Forward into new tensors of {@code scope}. */
    public static Result forward(Scope scope, Tensor values, Tensor mask) {
        Device device = Args.open("values", values);
        long b = rows("values", values);
        return Args.withOutputs(scope, device, new long[][] {{b}, {b}}, out -> {
            forward(values, mask, out[0], out[1]);
            return new Result(out[0], out[1]);
        });
    }

    /**
     * Σ over the mask of every row of {@code values} ({@code [B, T]} on any device): the B row sums reach the host
     * and are added there in double; the trainers' token-summed metrics.
     */
    public static double maskedTotal(Tensor values, Tensor mask) {
        try (Scope tmp = new Scope()) {
            double total = 0;
            for (float v : forward(tmp, values, mask).sums().toFloatArray()) total += v;
            return total;
        }
    }

    /** Forward into caller-provided {@code sums [B]} and {@code counts [B]}. */
    public static void forward(Tensor values, Tensor mask, Tensor sums, Tensor counts) {
        Device device = Args.sameDevice(new String[] {"values", "mask", "sums", "counts"}, values, mask, sums, counts);
        long b = rows("values", values);
        long t = values.dim(1);
        Args.f32("values", values, false, b, t);
        Args.f32("mask", mask, false, b, t);
        Args.f32("sums", sums, false, b);
        Args.f32("counts", counts, false, b);
        Args.mask("mask", mask);
        NativeKernels.seqReduceFwd(device, values, mask, b, t, sums, counts);
    }

    /** Backward into a new {@code [B, T]} tensor of {@code scope}: {@code dvalues = dsums[b]·mask}. */
    public static Tensor backward(Scope scope, Tensor dsums, Tensor mask) {
        Device device = Args.open("mask", mask);
        rows("mask", mask);
        return Args.withOutput(scope, device, mask.shape(), dvalues -> backward(dsums, mask, dvalues));
    }

    /** Backward into a caller-provided {@code dvalues [B, T]}. */
    public static void backward(Tensor dsums, Tensor mask, Tensor dvalues) {
        Device device = Args.sameDevice(new String[] {"dsums", "mask", "dvalues"}, dsums, mask, dvalues);
        long b = rows("mask", mask);
        long t = mask.dim(1);
        Args.f32("mask", mask, false, b, t);
        Args.f32("dsums", dsums, false, b);
        Args.f32("dvalues", dvalues, false, b, t);
        Args.mask("mask", mask);
        NativeKernels.seqReduceBwd(device, dsums, mask, b, t, dvalues);
    }

    /** Convenience on Java arrays (CPU), {@code [batch·T]} row-major: returns {sums, counts}. */
    public static float[][] forward(float[] values, float[] mask, int batch) {
        int t = rowLength("values", values, batch);
        sameLength("mask", mask, values.length);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Result r = forward(s, s.of(cpu, values, batch, t), s.of(cpu, mask, batch, t));
            return new float[][] {r.sums().toFloatArray(), r.counts().toFloatArray()};
        }
    }

    /** The {@code B} of a rank-2 {@code [B, T]} tensor, after checking that it is open. */
    static long rows(String name, Tensor t) {
        Args.open(name, t);
        if (t.rank() != 2)
            throw new IllegalArgumentException(name + " must have shape [B, T], got rank " + t.rank() + " " + t.describe());
        return t.dim(0);
    }

    /** T of a {@code [batch·T]} row-major array (convenience overloads); {@code batch >= 1} and must divide. */
    static int rowLength(String name, float[] data, int batch) {
        if (data == null) throw new IllegalArgumentException(name + " must not be null");
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (data.length % batch != 0)
            throw new IllegalArgumentException(name + " has " + data.length + " values, not a multiple of batch = " + batch);
        return data.length / batch;
    }

    static void sameLength(String name, float[] data, int expected) {
        if (data == null) throw new IllegalArgumentException(name + " must not be null");
        if (data.length != expected)
            throw new IllegalArgumentException(name + " has " + data.length + " values, expected " + expected);
    }
}
