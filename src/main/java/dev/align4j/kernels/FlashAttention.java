package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Fused causal attention (FlashAttention's tiling and online softmax, {@code cuda/flash_attention.cuh}): the
 * attention of queries {@code q [B, H, Tq, D]} over keys and values {@code k, v [B, Hkv, S, D]} without a
 * {@code [Tq, Tk]} score tensor anywhere, only per-tile scratch.
 * <ul>
 *   <li><b>Grouped-query attention</b>: {@code H % Hkv == 0}; query head h reads key/value head {@code h / (H / Hkv)}
 *       (Hkv = H: multi-head attention, Hkv = 1: multi-query).</li>
 *   <li><b>Slots</b>: only the first {@code Tk <= S} slots of k and v are read, so a KV cache {@code [B, Hkv, maxT, D]}
 *       is passed as it is ({@code S = maxT}, {@code Tk} = the slots filled).</li>
 *   <li><b>Causal mask</b>: {@code Tq <= Tk}; query i sits at slot {@code Tk − Tq + i} and sees the keys
 *       {@code j <= Tk − Tq + i} (Tq = Tk: training; Tq &lt; Tk: new tokens against a cache).</li>
 *   <li><b>Left padding</b>: with {@code keyStart [B]} (int32, null = all 0), the keys {@code j < keyStart[b]} of
 *       sequence b are masked too (right-aligned prompts in a KV cache).</li>
 * </ul>
 * <pre>
 *   o_i   = Σ_j softmax_j(scale·q_i·k_j)·v_j,   lse_i = log Σ_j exp(scale·q_i·k_j)   (over the visible keys j)
 * </pre>
 * A query that sees no key at all (every key before its keyStart) gets {@code o_i = 0} and {@code lse_i = −inf}, never
 * NaN, and its backward contributes nothing. The backward takes the forward's {@code o} and {@code lse} (fp32, the
 * only saved state besides q, k, v) and recomputes the probabilities tile by tile:
 * <pre>
 *   P_ij = exp(scale·q_i·k_j − lse_i),  Δ_i = Σ_d dO_i·o_i,  dS_ij = scale·P_ij·(dO_i·v_j − Δ_i)
 *   dq_i = Σ_j dS_ij·k_j,   dk_j = Σ_i dS_ij·q_i,   dv_j = Σ_i P_ij·dO_i
 * </pre>
 * with dk and dv summed over the H/Hkv query heads of a group. The gradients are written, not accumulated; dk and dv
 * have k's shape and are 0 on the slots no query reads ({@code j < keyStart[b]}, {@code j >= Tk}).
 *
 * <p>Limits: {@code 1 <= D <= 128} ({@link #MAX_HEAD_DIM}: every model family align4j runs; the GPU kernel's tiles
 * live in 48 KB of shared memory). Outputs must not overlap the inputs. Values are not scanned: NaN or ±inf in q, k,
 * v give NaN. Numerics: fp32 accumulation, the running max and sum in fp32, exponentials in base 2 (scale·log2 e
 * folded into the staged keys or queries); outputs within a few 1e-7 relative of the double-precision definition at
 * any logit size (the online softmax subtracts the running max).
 *
 * <p>Memory: with grouped heads (H &gt; Hkv) the backward needs a scratch {@code work} of {@link #workSize} floats, the
 * dk and dv of each query head before the sum over its group ({@code 2·B·H·Tk·D}); the overload without it allocates
 * one for the call. With H = Hkv it needs none ({@code work} may be null).
 */
public final class FlashAttention {
    private FlashAttention() {}

    /** The largest head dimension D the kernels accept. */
    public static final int MAX_HEAD_DIM = 128;

    /** The forward's outputs: {@code out [B, H, Tq, D]} and the row statistic {@code lse [B, H, Tq]}. */
    public record Result(Tensor out, Tensor lse) {}

    /** Causal self-attention (Tk = S: every slot of k, v) into new tensors of {@code scope}. */
    public static Result forward(Scope scope, Tensor q, Tensor k, Tensor v, Tensor keyStart, float scale) {
        Args.open("k", k);
        return forward(scope, q, k, v, k.rank() == 4 ? k.dim(2) : -1, keyStart, scale);
    }

    /** The forward over the first {@code tk} slots of k, v into new tensors of {@code scope}. */
    public static Result forward(Scope scope, Tensor q, Tensor k, Tensor v, long tk, Tensor keyStart, float scale) {
        Shape s = check(q, k, v, tk, keyStart, scale);
        return Args.withOutputs(scope, s.device, new long[][] {q.shape(), {s.b, s.h, s.tq}}, out -> {
            launchForward(s, q, k, v, keyStart, scale, out[0], out[1]);
            return new Result(out[0], out[1]);
        });
    }

    /** The forward over the first {@code tk} slots of k, v into {@code out [B, H, Tq, D]} and {@code lse [B, H, Tq]}. */
    public static void forward(Tensor q, Tensor k, Tensor v, long tk, Tensor keyStart, float scale, Tensor out,
                               Tensor lse) {
        Shape s = check(q, k, v, tk, keyStart, scale);
        Args.sameDevice(new String[] {"q", "out", "lse"}, q, out, lse);
        Args.f32("out", out, false, q.shape());
        Args.f32("lse", lse, false, s.b, s.h, s.tq);
        launchForward(s, q, k, v, keyStart, scale, out, lse);
    }

    /**
     * The backward of {@link #forward} from {@code dout [B, H, Tq, D]}, given the forward's {@code out} and {@code lse}:
     * writes {@code dq} (q's shape) and {@code dk}, {@code dv} (k's shape). {@code work}: at least {@link #workSize}
     * floats of scratch (null when that is 0, i.e. H = Hkv).
     */
    public static void backward(Tensor q, Tensor k, Tensor v, long tk, Tensor keyStart, float scale, Tensor out,
                                Tensor lse, Tensor dout, Tensor dq, Tensor dk, Tensor dv, Tensor work) {
        Shape s = check(q, k, v, tk, keyStart, scale);
        Args.sameDevice(new String[] {"q", "out", "lse", "dout", "dq", "dk", "dv", "work"}, q, out, lse, dout, dq, dk,
                dv, work);
        Args.f32("out", out, false, q.shape());
        Args.f32("lse", lse, false, s.b, s.h, s.tq);
        Args.f32("dout", dout, false, q.shape());
        Args.f32("dq", dq, false, q.shape());
        Args.f32("dk", dk, false, k.shape());
        Args.f32("dv", dv, false, k.shape());
        long need = workSize(s.b, s.h, s.hkv, s.tk, s.d);
        if (need > 0) {
            if (work == null)
                throw new IllegalArgumentException("work must not be null with grouped heads (H = " + s.h + " > Hkv = "
                        + s.hkv + ")");
            Args.dtype("work", work, DType.F32);
            if (work.numel() < need)
                throw new IllegalArgumentException("work must have at least workSize(...) = " + need + " floats, got "
                        + work.describe());
        }
        NativeKernels.flashAttentionBwd(s.device, q, k, v, out, lse, dout, keyStart, s.b, s.h, s.hkv, s.tq, s.tk,
                s.slots, s.d, scale, dq, dk, dv, work);
    }

    /** {@link #backward(Tensor, Tensor, Tensor, long, Tensor, float, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
     * Tensor)} with a scratch allocated for the call. */
    public static void backward(Tensor q, Tensor k, Tensor v, long tk, Tensor keyStart, float scale, Tensor out,
                                Tensor lse, Tensor dout, Tensor dq, Tensor dk, Tensor dv) {
        Shape s = check(q, k, v, tk, keyStart, scale);
        long need = workSize(s.b, s.h, s.hkv, s.tk, s.d);
        if (need == 0) {
            backward(q, k, v, tk, keyStart, scale, out, lse, dout, dq, dk, dv, null);
            return;
        }
        try (Scope scratch = new Scope()) {
            backward(q, k, v, tk, keyStart, scale, out, lse, dout, dq, dk, dv, scratch.empty(s.device, DType.F32, need));
        }
    }

    /**
     * Floats of the backward's scratch: {@code 2·B·H·Tk·D} when {@code H > Hkv} (the dk and dv of each query head,
     * summed over its group at the end), else 0.
     */
    public static long workSize(long b, long h, long hkv, long tk, long d) {
        return h > hkv ? Math.multiplyExact(2, Math.multiplyExact(Math.multiplyExact(Math.multiplyExact(b, h), tk), d)) : 0;
    }

    /**
     * Convenience on Java arrays (CPU): causal self-attention of {@code q [batch, heads, seqLen, headDim]} over
     * {@code k, v [batch, kvHeads, seqLen, headDim]} (row-major) with scale 1/√headDim; returns the output.
     */
    public static float[] compute(float[] q, float[] k, float[] v, int batch, int heads, int kvHeads, int seqLen,
                                  int headDim) {
        if (q == null || k == null || v == null) throw new IllegalArgumentException("q, k and v must not be null");
        if (batch < 0 || heads < 1 || kvHeads < 1 || seqLen < 0 || headDim < 1)
            throw new IllegalArgumentException("need batch >= 0, heads >= 1, kvHeads >= 1, seqLen >= 0, headDim >= 1, got "
                    + batch + ", " + heads + ", " + kvHeads + ", " + seqLen + ", " + headDim);
        long nq = (long) batch * heads * seqLen * headDim, nk = (long) batch * kvHeads * seqLen * headDim;
        if (q.length != nq)
            throw new IllegalArgumentException("q has " + q.length + " values, not batch·heads·seqLen·headDim = " + nq);
        if (k.length != nk || v.length != nk)
            throw new IllegalArgumentException("k and v must have batch·kvHeads·seqLen·headDim = " + nk + " values, got "
                    + k.length + " and " + v.length);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            return forward(s, s.of(cpu, q, batch, heads, seqLen, headDim), s.of(cpu, k, batch, kvHeads, seqLen, headDim),
                    s.of(cpu, v, batch, kvHeads, seqLen, headDim), null, (float) (1 / Math.sqrt(headDim))).out()
                    .toFloatArray();
        }
    }

    // ------------------------------------------------------------------------------------ checks

    private record Shape(Device device, long b, long h, long hkv, long tq, long tk, long slots, long d) {}

    private static void launchForward(Shape s, Tensor q, Tensor k, Tensor v, Tensor keyStart, float scale, Tensor out,
                                      Tensor lse) {
        NativeKernels.flashAttentionFwd(s.device, q, k, v, keyStart, s.b, s.h, s.hkv, s.tq, s.tk, s.slots, s.d, scale,
                out, lse);
    }

    /** Everything the forward and backward read: shapes, heads, slots, keyStart's values, scale. */
    private static Shape check(Tensor q, Tensor k, Tensor v, long tk, Tensor keyStart, float scale) {
        Args.open("q", q);
        Args.open("k", k);
        Args.open("v", v);
        Device device = Args.sameDevice(new String[] {"q", "k", "v", "keyStart"}, q, k, v, keyStart);
        rank4("q", q);
        rank4("k", k);
        rank4("v", v);
        long b = q.dim(0), h = q.dim(1), tq = q.dim(2), d = q.dim(3);
        long hkv = k.dim(1), slots = k.dim(2);
        if (d < 1 || d > MAX_HEAD_DIM)
            throw new IllegalArgumentException("q: the head dimension D must be in [1, " + MAX_HEAD_DIM + "], got " + d);
        if (h < 1) throw new IllegalArgumentException("q must have at least one head, got " + Arrays.toString(q.shape()));
        if (k.dim(0) != b || k.dim(3) != d || hkv < 1)
            throw new IllegalArgumentException("k must be [B, Hkv, S, D] with q's B = " + b + " and D = " + d
                    + " and Hkv >= 1, got " + Arrays.toString(k.shape()));
        if (h % hkv != 0)
            throw new IllegalArgumentException("q's H = " + h + " heads must be a multiple of k's Hkv = " + hkv
                    + " (grouped-query attention)");
        if (!Arrays.equals(v.shape(), k.shape()))
            throw new IllegalArgumentException("v: expected k's shape " + Arrays.toString(k.shape()) + ", got "
                    + Arrays.toString(v.shape()));
        if (tk < tq || tk > slots)
            throw new IllegalArgumentException("tk (keys read) must be in [Tq, S] = [" + tq + ", " + slots + "], got " + tk);
        Args.positive("scale", scale);
        if (keyStart != null) {
            Args.shape("keyStart", keyStart, b);
            if (tk >= Integer.MAX_VALUE)
                throw new IllegalArgumentException("keyStart needs tk < 2^31 - 1, got " + tk);
            Args.indices("keyStart", keyStart, 0, (int) tk + 1);
        }
        return new Shape(device, b, h, hkv, tq, tk, slots, d);
    }

    private static void rank4(String name, Tensor t) {
        Args.dtype(name, t, DType.F32);
        if (t.rank() != 4)
            throw new IllegalArgumentException(name + " must be [B, heads, T, D] (rank 4), got " + Arrays.toString(t.shape()));
    }
}
