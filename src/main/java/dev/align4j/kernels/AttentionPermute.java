package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;

/**
 * The layout changes around multi-head attention (llm.c's permute / unpermute), so that {@code Q·Kᵀ} and
 * {@code P·V} are {@link Matmul#matmulBatched} products over {@code B·NH} contiguous {@code [T, HS]} matrices.
 * With C = NH·HS:
 * <ul>
 *   <li>{@link #split}: {@code qkv [B, T, 3C]} (read as {@code [B, T, 3, NH, HS]}, the c_attn output) →
 *       {@code q, k, v [B, NH, T, HS]}; {@link #splitBackward} is its exact inverse ({@code dqkv} overwritten).</li>
 *   <li>{@link #merge}: {@code y [B, NH, T, HS]} → {@code out [B, T, C]} (heads side by side);
 *       {@link #mergeBackward} is its exact inverse ({@code dy} overwritten).</li>
 * </ul>
 * Pure copies (exact on both backends). Outputs must not overlap inputs or each other (ranks differ, so only
 * views of one buffer could; that is the caller's responsibility).
 */
public final class AttentionPermute {
    private AttentionPermute() {}

    /** {@code q[b,h,t,:] = qkv[b,t,0·C + h·HS ..]}, likewise k (second C block) and v (third). */
    public static void split(Tensor qkv, int nHead, Tensor q, Tensor k, Tensor v) {
        long[] d = splitDims(new String[] {"qkv", "q", "k", "v"}, nHead, qkv, q, k, v);
        NativeKernels.attentionPermuteFwd(qkv.device(), qkv, d[0], d[1], nHead, d[2], q, k, v);
    }

    /** {@code dqkv} = the inverse of {@link #split} applied to {@code dq, dk, dv} (overwritten). */
    public static void splitBackward(Tensor dq, Tensor dk, Tensor dv, int nHead, Tensor dqkv) {
        long[] d = splitDims(new String[] {"dqkv", "dq", "dk", "dv"}, nHead, dqkv, dq, dk, dv);
        NativeKernels.attentionPermuteBwd(dqkv.device(), dq, dk, dv, d[0], d[1], nHead, d[2], dqkv);
    }

    /** {@code out[b,t,h·HS + d] = y[b,h,t,d]}. */
    public static void merge(Tensor y, Tensor out) {
        Device device = Args.sameDevice(new String[] {"y", "out"}, y, out);
        long[] d = headDims("y", y);
        Args.f32("out", out, false, d[0], d[2], d[1] * d[3]);
        NativeKernels.attentionUnpermuteFwd(device, y, d[0], d[2], d[1], d[3], out);
    }

    /** {@code dy} = the inverse of {@link #merge} applied to {@code dout} (overwritten). */
    public static void mergeBackward(Tensor dout, Tensor dy) {
        Device device = Args.sameDevice(new String[] {"dout", "dy"}, dout, dy);
        long[] d = headDims("dy", dy);
        Args.f32("dout", dout, false, d[0], d[2], d[1] * d[3]);
        NativeKernels.attentionUnpermuteBwd(device, dout, d[0], d[2], d[1], d[3], dy);
    }

    /**
     * Checks the packed {@code [B, T, 3C]} tensor and its three {@code [B, NH, T, HS]} heads of one split (names in
     * that order), all F32 on one device; returns {B, T, HS}.
     */
    private static long[] splitDims(String[] names, int nHead, Tensor packed, Tensor q, Tensor k, Tensor v) {
        Args.sameDevice(names, packed, q, k, v);
        long[] bth = qkvDims(names[0], packed, nHead);
        Tensor[] heads = {q, k, v};
        for (int i = 0; i < heads.length; i++) Args.f32(names[i + 1], heads[i], false, bth[0], nHead, bth[1], bth[2]);
        return bth;
    }

    /** {B, T, HS} of an F32 {@code [B, T, 3C]} tensor with C divisible by nHead. */
    private static long[] qkvDims(String name, Tensor x, int nHead) {
        Args.open(name, x);
        Args.dtype(name, x, DType.F32);
        if (nHead < 1) throw new IllegalArgumentException("nHead must be >= 1, got " + nHead);
        if (x.rank() != 3) throw new IllegalArgumentException(name + " must have shape [B, T, 3C], got " + x.describe());
        long c3 = x.dim(2);
        if (c3 % (3L * nHead) != 0)
            throw new IllegalArgumentException(name + ": last dim " + c3 + " is not 3·C with C divisible by nHead = " + nHead);
        return new long[] {x.dim(0), x.dim(1), c3 / (3L * nHead)};
    }

    /** {B, NH, T, HS} of an F32 rank-4 tensor. */
    private static long[] headDims(String name, Tensor x) {
        Args.open(name, x);
        Args.dtype(name, x, DType.F32);
        if (x.rank() != 4) throw new IllegalArgumentException(name + " must have shape [B, NH, T, HS], got " + x.describe());
        return x.shape();
    }
}
