package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Causal masked softmax of attention scores {@code [..., Tq, Tk]} (leading dims, e.g. batch × heads, are
 * flattened; rows are queries, columns keys; {@code Tk >= Tq}). Query i sits at absolute position
 * {@code i + Tk − Tq} and sees keys {@code j <= i + Tk − Tq}: with Tq = Tk the ordinary causal mask, with
 * Tq &lt; Tk new queries against a KV cache. Forward: {@code P = softmax(scale·S)} over the visible keys,
 * exactly 0 on the masked ones (which are not read). Backward:
 * {@code dS = scale·P ⊙ (dP − Σ_j P·dP)} on the visible keys, 0 on the masked ones. The Q·Kᵀ and P·V products
 * are GEMMs, not part of this op.
 *
 * <p>{@code probs} may be {@code scores} (in place); {@code dscores} may be {@code dprobs} or {@code probs}.
 * Values are not scanned: a visible row of only −inf, or NaN, gives NaN.
 */
public final class AttentionSoftmax {
    private AttentionSoftmax() {}

    /** Forward into a new tensor of {@code scope}. */
    public static Tensor forward(Scope scope, Tensor scores, float scale) {
        Device device = Args.open("scores", scores);
        Args.dtype("scores", scores, DType.F32);
        return Args.withOutput(scope, device, scores.shape(), probs -> forward(scores, scale, probs));
    }

    /** {@code probs = causal_softmax(scale·scores)}; {@code probs} may be {@code scores}. */
    public static void forward(Tensor scores, float scale, Tensor probs) {
        Device device = Args.sameDevice(new String[] {"scores", "probs"}, scores, probs);
        Args.open("scores", scores);
        Args.open("probs", probs);
        long[] d = dims("scores", scores);
        Args.f32("probs", probs, false, scores.shape());
        Args.positive("scale", scale);
        NativeKernels.attentionSoftmaxFwd(device, scores, d[0], d[1], d[2], scale, probs);
    }

    /** {@code dscores = scale·P ⊙ (dP − rowsum(P ⊙ dP))}, 0 on masked keys; may alias {@code dprobs} or {@code probs}. */
    public static void backward(Tensor probs, Tensor dprobs, float scale, Tensor dscores) {
        Device device = Args.sameDevice(new String[] {"probs", "dprobs", "dscores"}, probs, dprobs, dscores);
        Args.open("probs", probs);
        Args.open("dprobs", dprobs);
        Args.open("dscores", dscores);
        long[] d = dims("probs", probs);
        Args.f32("dprobs", dprobs, false, probs.shape());
        Args.f32("dscores", dscores, false, probs.shape());
        Args.positive("scale", scale);
        NativeKernels.attentionSoftmaxBwd(device, probs, dprobs, d[0], d[1], d[2], scale, dscores);
    }

    /** {BH, Tq, Tk} of a {@code [..., Tq, Tk]} F32 tensor with Tk >= Tq. */
    private static long[] dims(String name, Tensor t) {
        Args.dtype(name, t, DType.F32);
        if (t.rank() < 2)
            throw new IllegalArgumentException(name + " must have rank >= 2 ([..., Tq, Tk]), got rank " + t.rank());
        long tq = t.dim(-2), tk = t.dim(-1);
        if (tk < tq)
            throw new IllegalArgumentException(name + ": keys Tk = " + tk + " must be >= queries Tq = " + tq);
        long bh = tq == 0 ? 0 : t.numel() / (tq * Math.max(tk, 1));
        return new long[] {bh, tq, tk};
    }
}
