package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * GPT-2's input layer: {@code out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]} for tokens {@code [B,T]} (int32,
 * each in {@code [0,V)}), token embeddings {@code wte [V,C]} and position embeddings {@code wpe [maxT,C]},
 * {@code T <= maxT}. The backward ACCUMULATES: {@code dwte[v,:] += Σ_{tokens[b,t]=v} dout[b,t,:]} and
 * {@code dwpe[t,:] += Σ_b dout[b,t,:]} (the tied output layer adds its own part to dwte). Both sums are
 * deterministic: no atomics, one owner per gradient element, a fixed order (see cuda/embedding.cuh).
 *
 * <pre>{@code
 * Tensor x = Embedding.forward(scope, tokens, wte, wpe);     // [B, T, C]
 * Embedding.backward(dx, tokens, dwte, dwpe);                // dwte, dwpe += ...
 * }</pre>
 */
public final class Embedding {
    private Embedding() {}

    /** Forward into a new {@code [B, T, C]} tensor of {@code scope}. */
    public static Tensor forward(Scope scope, Tensor tokens, Tensor wte, Tensor wpe) {
        Device device = Args.open("tokens", tokens);
        rank2("tokens", tokens);
        rank2("wte", wte);
        long[] shape = {tokens.dim(0), tokens.dim(1), wte.dim(1)};
        return Args.withOutput(scope, device, shape, out -> forward(tokens, wte, wpe, out));
    }

    /** Forward into a caller-provided {@code out [B, T, C]}. */
    public static void forward(Tensor tokens, Tensor wte, Tensor wpe, Tensor out) {
        Device device = Args.sameDevice(new String[] {"tokens", "wte", "wpe", "out"}, tokens, wte, wpe, out);
        long[] btvc = check(tokens, wte, wpe);
        long b = btvc[0], t = btvc[1], c = btvc[3];
        Args.f32("out", out, false, b, t, c);
        Args.indices("tokens", tokens, 0, (int) btvc[2]);
        NativeKernels.embeddingFwd(device, tokens, wte, wpe, b, t, c, out);
    }

    /**
     * Backward: {@code dwte += scatter(dout)}, {@code dwpe[0..T) += Σ_b dout}. Either gradient may be null (a
     * frozen table); {@code dout [B, T, C]}.
     */
    public static void backward(Tensor dout, Tensor tokens, Tensor dwte, Tensor dwpe) {
        Device device = Args.sameDevice(new String[] {"dout", "tokens", "dwte", "dwpe"}, dout, tokens, dwte, dwpe);
        Args.open("dout", dout);
        rank2("tokens", tokens);
        Args.dtype("tokens", tokens, DType.I32);
        long b = tokens.dim(0), t = tokens.dim(1);
        if (dout.rank() != 3)
            throw new IllegalArgumentException("dout must have shape [B, T, C], got " + dout.describe());
        long c = dout.dim(2);
        Args.f32("dout", dout, false, b, t, c);
        if (dwte != null) {
            rank2("dwte", dwte);
            Args.f32("dwte", dwte, false, dwte.dim(0), c);
            Args.indices("tokens", tokens, 0, vocab(dwte));
        }
        if (dwpe != null) {
            rank2("dwpe", dwpe);
            Args.f32("dwpe", dwpe, false, dwpe.dim(0), c);
            maxT(t, dwpe, "dwpe");
        }
        NativeKernels.embeddingBwd(device, dout, tokens, b, t, c, dwte, dwpe);
    }

    /** Checks tokens [B,T] I32, wte [V,C], wpe [maxT,C] with T <= maxT; returns {B, T, V, C}. */
    private static long[] check(Tensor tokens, Tensor wte, Tensor wpe) {
        rank2("tokens", tokens);
        Args.dtype("tokens", tokens, DType.I32);
        rank2("wte", wte);
        rank2("wpe", wpe);
        long c = wte.dim(1);
        Args.f32("wte", wte, false, wte.dim(0), c);
        Args.f32("wpe", wpe, false, wpe.dim(0), c);
        long t = tokens.dim(1);
        maxT(t, wpe, "wpe");
        return new long[] {tokens.dim(0), t, vocab(wte), c};
    }

    private static int vocab(Tensor table) {
        long v = table.dim(0);
        if (v > Integer.MAX_VALUE) throw new IllegalArgumentException("vocabulary of " + v + " rows exceeds int32 ids");
        return (int) v;
    }

    private static void maxT(long t, Tensor wpe, String name) {
        if (t > wpe.dim(0))
            throw new IllegalArgumentException(
                    "tokens has T = " + t + " positions but " + name + " has only " + wpe.dim(0) + " rows (maxT)");
    }

    private static void rank2(String name, Tensor x) {
        Args.open(name, x);
        if (x.rank() != 2) throw new IllegalArgumentException(name + " must have rank 2, got " + x.describe());
    }
}
