package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Rotary position embedding (RoPE) in Hugging Face's rotate-half layout, as transformers' {@code
 * apply_rotary_pos_emb} for Llama, Qwen2/2.5/3 and Mistral, on one tensor {@code x [B, H, T, D]} (q with H heads, or k
 * with H_kv heads: grouped-query attention is just another H; the layout after {@link AttentionPermute}). With
 * {@code invFreq [R]} ({@link #invFreq}: R = D/2, or fewer with a partial rotary factor, when the dims
 * {@code [2R, D)} pass through unchanged) and token t at position {@code p = pos0 + t} (a KV cache's offset),
 * the angle {@code a_i = p·invFreq[i]} rotates each pair {@code (x[i], x[i+R])}:
 * <pre>
 *   out[i]   = x[i]·cos a_i − x[i+R]·sin a_i
 *   out[i+R] = x[i+R]·cos a_i + x[i]·sin a_i          (q' = q·cos + rotate_half(q)·sin)
 * </pre>
 * The backward is the transpose, the rotation by {@code −a_i}: {@code dx = Rᵀ·dout}. Both may run in place
 * ({@code out} may be {@code x}, {@code dx} may be {@code dout}).
 *
 * <p>Precision: the angle is computed in double (exact for positions below 2^29), cos and sin in double and
 * rounded to float, the rotation in float: each output is within about 2.4e-7·(|x[i]| + |x[i+R]|) of the exact
 * rotation, at position 10^6 as at 0. transformers computes the angle in float32 (off by up to p·2^-24 rad,
 * 0.06 rad at p = 10^6), so at long positions align4j is closer to the exact rotation than transformers is.
 *
 * <p>{@link #invFreq} computes the frequencies in one place, in double: {@code rope_theta}, a partial rotary
 * factor and {@code rope_scaling} of type {@code "llama3"} (Llama 3.1/3.2; {@link Llama3Scaling}).
 */
public final class Rope {
    private Rope() {}

    /** The largest position: positions are exact as doubles up to here (2^53). */
    public static final long MAX_POSITION = 1L << 53;

    /**
     * {@code rope_scaling} of {@code rope_type "llama3"} (transformers' {@code _compute_llama3_parameters}): the
     * frequencies whose wavelength 2π/f exceeds {@code originalMaxPositionEmbeddings / lowFreqFactor} are divided by
     * {@code factor}, those below {@code originalMaxPositionEmbeddings / highFreqFactor} are kept, and those in
     * between interpolated smoothly.
     */
    public record Llama3Scaling(double factor, double lowFreqFactor, double highFreqFactor,
                                int originalMaxPositionEmbeddings) {
        /** Llama 3.1 (8B, 70B, 405B): factor 8, low 1, high 4, original context 8192. */
        public static final Llama3Scaling LLAMA_3_1 = new Llama3Scaling(8, 1, 4, 8192);
        /** Llama 3.2 (1B, 3B): factor 32, low 1, high 4, original context 8192. */
        public static final Llama3Scaling LLAMA_3_2 = new Llama3Scaling(32, 1, 4, 8192);

        public Llama3Scaling {
            if (!(factor > 0 && factor < Double.POSITIVE_INFINITY))
                throw new IllegalArgumentException("llama3 rope_scaling: factor must be finite and > 0, got " + factor);
            if (!(lowFreqFactor > 0 && lowFreqFactor < Double.POSITIVE_INFINITY))
                throw new IllegalArgumentException(
                        "llama3 rope_scaling: low_freq_factor must be finite and > 0, got " + lowFreqFactor);
            if (!(highFreqFactor > lowFreqFactor && highFreqFactor < Double.POSITIVE_INFINITY))
                throw new IllegalArgumentException("llama3 rope_scaling: high_freq_factor must be finite and > low_freq_factor ("
                        + lowFreqFactor + "), got " + highFreqFactor);
            if (originalMaxPositionEmbeddings < 1)
                throw new IllegalArgumentException("llama3 rope_scaling: original_max_position_embeddings must be >= 1, got "
                        + originalMaxPositionEmbeddings);
        }
    }

    // ------------------------------------------------------------------------------------ frequencies

    /** {@link #invFreq(int, double, double, Llama3Scaling)} without a partial rotary factor (1.0). */
    public static float[] invFreq(int headDim, double theta, Llama3Scaling scalingOrNull) {
        return invFreq(headDim, theta, 1.0, scalingOrNull);
    }

    /**
     * The inverse frequencies, as transformers computes them for {@code rope_type} "default" or "llama3", but in
     * double and then rounded to float: with {@code dim = (int) (headDim·partialRotaryFactor)} (even),
     * {@code invFreq[i] = 1 / theta^(2i/dim)} for {@code i < dim/2}, then the llama3 scaling when given.
     * (transformers evaluates the same formulas in float32, so its values may differ in the last bit.)
     */
    public static float[] invFreq(int headDim, double theta, double partialRotaryFactor, Llama3Scaling scalingOrNull) {
        double[] d = invFreqDouble(headDim, theta, partialRotaryFactor, scalingOrNull);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    /** {@link #invFreq(int, double, double, Llama3Scaling)} before rounding to float. */
    public static double[] invFreqDouble(int headDim, double theta, double partialRotaryFactor,
                                         Llama3Scaling scalingOrNull) {
        if (headDim < 2) throw new IllegalArgumentException("headDim must be >= 2, got " + headDim);
        if (!(theta > 0 && theta < Double.POSITIVE_INFINITY))
            throw new IllegalArgumentException("theta (rope_theta) must be finite and > 0, got " + theta);
        if (!(partialRotaryFactor > 0 && partialRotaryFactor <= 1))
            throw new IllegalArgumentException("partialRotaryFactor must be in (0, 1], got " + partialRotaryFactor);
        int dim = (int) (headDim * partialRotaryFactor);
        if (dim < 2 || dim % 2 != 0)
            throw new IllegalArgumentException("the rotary dimension (int) (headDim·partialRotaryFactor) = (int) (" + headDim
                    + "·" + partialRotaryFactor + ") = " + dim + " must be even and >= 2");
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / dim);
        if (scalingOrNull != null) llama3(inv, scalingOrNull);
        return inv;
    }

    /** transformers' _compute_llama3_parameters, in place, literally (three bands by wavelength). */
    private static void llama3(double[] inv, Llama3Scaling s) {
        double oldContext = s.originalMaxPositionEmbeddings();
        double lowFreqWavelen = oldContext / s.lowFreqFactor();
        double highFreqWavelen = oldContext / s.highFreqFactor();
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            double f = wavelen > lowFreqWavelen ? inv[i] / s.factor() : inv[i];
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium) {
                double smooth = (oldContext / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                f = (1 - smooth) * f / s.factor() + smooth * f;
            }
            inv[i] = f;
        }
    }

    // ------------------------------------------------------------------------------------ kernels

    /** Forward into a new tensor of {@code scope}. */
    public static Tensor forward(Scope scope, Tensor x, Tensor invFreq, long pos0) {
        Device device = Args.open("x", x);
        checkX("x", x);
        return Args.withOutput(scope, device, x.shape(), out -> forward(x, invFreq, pos0, out));
    }

    /** {@code out = R(pos0)·x}; {@code out} may be {@code x}. */
    public static void forward(Tensor x, Tensor invFreq, long pos0, Tensor out) {
        Device device = Args.sameDevice(new String[] {"x", "invFreq", "out"}, x, invFreq, out);
        long[] s = checkX("x", x);
        long r = checkCall(invFreq, s, pos0);
        Args.f32("out", out, false, s);
        NativeKernels.ropeFwd(device, x, invFreq, s[0], s[1], s[2], s[3], r, pos0, out);
    }

    /** {@code dx = R(pos0)ᵀ·dout}, the rotation by −angle; {@code dx} may be {@code dout}. */
    public static void backward(Tensor dout, Tensor invFreq, long pos0, Tensor dx) {
        Device device = Args.sameDevice(new String[] {"dout", "invFreq", "dx"}, dout, invFreq, dx);
        long[] s = checkX("dout", dout);
        long r = checkCall(invFreq, s, pos0);
        Args.f32("dx", dx, false, s);
        NativeKernels.ropeBwd(device, dout, invFreq, s[0], s[1], s[2], s[3], r, pos0, dx);
    }

    /** Convenience on Java arrays (CPU): x {@code [batch, heads, seqLen, headDim]} row-major -> the rotated copy. */
    public static float[] compute(float[] x, int batch, int heads, int seqLen, int headDim, float[] invFreq, long pos0) {
        if (x == null) throw new IllegalArgumentException("x must not be null");
        if (invFreq == null) throw new IllegalArgumentException("invFreq must not be null");
        if (batch < 0 || heads < 0 || seqLen < 0 || headDim < 0)
            throw new IllegalArgumentException("batch, heads, seqLen and headDim must be >= 0, got " + batch + ", " + heads
                    + ", " + seqLen + ", " + headDim);
        if ((long) batch * heads * seqLen * headDim != x.length)
            throw new IllegalArgumentException("x has " + x.length + " values, not batch·heads·seqLen·headDim = "
                    + batch + "·" + heads + "·" + seqLen + "·" + headDim);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            return forward(s, s.of(cpu, x, batch, heads, seqLen, headDim), s.of(cpu, invFreq), pos0).toFloatArray();
        }
    }

    /** x (or dout): open, F32, [B, H, T, D] with D even and >= 2; returns the shape. */
    private static long[] checkX(String name, Tensor x) {
        Args.open(name, x);
        Args.dtype(name, x, DType.F32);
        if (x.rank() != 4)
            throw new IllegalArgumentException(name + " must be [B, H, T, D] (rank 4), got " + java.util.Arrays.toString(x.shape()));
        long d = x.dim(3);
        if (d < 2 || d % 2 != 0)
            throw new IllegalArgumentException(name + ": the head dimension D must be even and >= 2, got " + d);
        return x.shape();
    }

    /** invFreq [R], 1 <= R <= D/2, finite; positions pos0 .. pos0 + T − 1 in [0, 2^53]. Returns R. */
    private static long checkCall(Tensor invFreq, long[] shape, long pos0) {
        Args.open("invFreq", invFreq);
        Args.dtype("invFreq", invFreq, DType.F32);
        long d = shape[3];
        if (invFreq.rank() != 1 || invFreq.dim(0) < 1 || 2 * invFreq.dim(0) > d)
            throw new IllegalArgumentException("invFreq must be [R] with 1 <= R <= D/2 = " + d / 2 + ", got "
                    + java.util.Arrays.toString(invFreq.shape()));
        if (pos0 < 0) throw new IllegalArgumentException("pos0 must be >= 0, got " + pos0);
        if (pos0 > MAX_POSITION - Math.max(0, shape[2] - 1))
            throw new IllegalArgumentException("positions pos0 + t must be <= 2^53 (exact in double): pos0 = " + pos0
                    + ", T = " + shape[2]);
        Args.finiteValues("invFreq", invFreq);
        return invFreq.dim(0);
    }
}
