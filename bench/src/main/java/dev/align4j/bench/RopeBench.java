package dev.align4j.bench;

import dev.align4j.kernels.Rope;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/**
 * {@link Rope}: the forward rotation of q [B, H, T, D] with Llama 3.1's frequencies (theta 500000, llama3 scaling) at
 * positions pos0 = 1000 onwards, by default at a prefill shape 4×32×1024×128 (Llama 3 8B's 32 query heads of 128)
 * and a decode step 1×32×1×128 (one token: mostly call overhead). Inputs x ~ N(0, 1). Bytes: reads and writes
 * x once, 8·B·H·T·D (plus inv_freq). The backward is the same kernel with −sin, so it is not timed separately.
 * The naive baseline is transformers' eager code in single-threaded Java: cos and sin tables [T, D] (the angle and
 * both halves in float32, as {@code LlamaRotaryEmbedding}), then {@code q·cos + rotate_half(q)·sin} with each op
 * a fresh array. JMH: {@code java -jar benchmarks.jar RopeBench [-p B=4 -p H=32 -p T=1024 -p D=128]}.
 */
public class RopeBench extends JmhDefaults {
    static final String FAMILY = "rope";
    static final String DEFAULT_SHAPES = "4x32x1024x128,1x32x1x128";
    static final long POS0 = 1000;

    static final class Case extends BenchCase {
        final int b, h, t, d;
        final float[] hx, hInv;
        final Tensor x, inv, out;

        Case(Device device, int b, int h, int t, int d, long seed) {
            super(device);
            this.b = b;
            this.h = h;
            this.t = t;
            this.d = d;
            SplittableRandom rnd = new SplittableRandom(seed);
            hx = SmallKernels.normal(rnd, Math.multiplyExact(Math.multiplyExact(b, h), Math.multiplyExact(t, d)), 0, 1);
            hInv = Rope.invFreq(d, 500_000, Rope.Llama3Scaling.LLAMA_3_1);
            x = input(hx, b, h, t, d);
            inv = input(hInv, hInv.length);
            out = output(b, h, t, d);
        }

        long bytes() {
            return 8L * b * h * t * d + 4L * hInv.length;
        }

        void api() {
            Rope.forward(x, inv, POS0, out);
            BenchAccess.synchronize(device);
        }

        void kernel() {
            NativeKernels.ropeFwd(device, x, inv, b, h, t, d, hInv.length, POS0, out);
            BenchAccess.synchronize(device);
        }

        float[][] naive() {
            return new float[][] {naiveRope(hx, b, h, t, d, hInv, POS0)};
        }
    }

    /** transformers' eager RoPE, op by op (a new array each), single-threaded, float32 as LlamaRotaryEmbedding. */
    static float[] naiveRope(float[] q, int b, int h, int t, int d, float[] inv, long pos0) {
        int r = d / 2;
        // freqs = inv_freq ⊗ positions (float32); emb = cat(freqs, freqs); cos = emb.cos(); sin = emb.sin()
        float[] cos = new float[t * d], sin = new float[t * d];
        for (int ti = 0; ti < t; ti++)
            for (int i = 0; i < d; i++) {
                float a = inv[i % r] * (float) (pos0 + ti);
                cos[ti * d + i] = (float) Math.cos(a);
                sin[ti * d + i] = (float) Math.sin(a);
            }
        // rotate_half(q) = cat(−q2, q1)
        float[] rot = new float[q.length];
        for (int row = 0; row < q.length; row += d)
            for (int i = 0; i < r; i++) {
                rot[row + i] = -q[row + i + r];
                rot[row + i + r] = q[row + i];
            }
        // q·cos, rotate_half(q)·sin (cos and sin broadcast over B and H), then the sum
        float[] qc = new float[q.length], rs = new float[q.length];
        for (int row = 0, n = 0; row < q.length; row += d, n++) {
            int tb = (n % t) * d;
            for (int i = 0; i < d; i++) {
                qc[row + i] = q[row + i] * cos[tb + i];
                rs[row + i] = rot[row + i] * sin[tb + i];
            }
        }
        return Naive.add(qc, rs);
    }

    // ---------------------------------------------------------------- JMH

    public static class S extends Trial<Case> {
        @Param({"4"})
        public int B;

        @Param({"32"})
        public int H;

        @Param({"1024"})
        public int T;

        @Param({"128"})
        public int D;

        @Override
        Case open(Device device) {
            return new Case(device, B, H, T, D, SEED);
        }
    }

    @Benchmark
    public void rope(S s) {
        s.c.api();
    }

    @Benchmark
    public void ropeKernelOnly(S s) {
        s.c.kernel();
    }

    @Benchmark
    public float[][] ropeNaive(S s) {
        return s.c.naive();
    }

    // ---------------------------------------------------------------- report

    /** {@code --rope-shapes BxHxTxD,...} (default {@link #DEFAULT_SHAPES}). */
    static List<int[]> shapes(Report.Context ctx) {
        List<int[]> out = new ArrayList<>();
        for (String s : ctx.option("rope-shapes", DEFAULT_SHAPES).split(",")) {
            String[] p = s.trim().toLowerCase(Locale.ROOT).split("x");
            if (p.length != 4) throw new IllegalArgumentException("--rope-shapes: expected BxHxTxD, got '" + s + "'");
            int[] v = new int[4];
            for (int i = 0; i < 4; i++) v[i] = Integer.parseInt(p[i].trim());
            out.add(v);
        }
        return out;
    }

    static void report(Report.Context ctx) {
        for (int[] s : shapes(ctx)) {
            String name = "B=" + s[0] + " H=" + s[1] + " T=" + s[2] + " D=" + s[3];
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            try (Case c = new Case(ctx.device(), s[0], s[1], s[2], s[3], ctx.seed())) {
                SmallKernels.measure(ctx, FAMILY, "fwd", name, (long) s[0] * s[1] * s[2] * s[3], c.bytes(), c::api,
                        c::kernel, c::naive);
            }
        }
    }
}
