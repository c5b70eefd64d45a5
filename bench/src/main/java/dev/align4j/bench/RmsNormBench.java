package dev.align4j.bench;

import dev.align4j.kernels.RmsNorm;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/**
 * {@link RmsNorm} (Hugging Face's LlamaRMSNorm, eps 1e-6) at N rows × C, by default 8192×2048 (8192 tokens of a
 * Llama-3.2-1B-wide hidden state) and 65536×128 (Qwen3's per-head q_norm: 8192 tokens × 8 heads of head_dim 128).
 * Inputs: x ~ N(0, 1), weight ~ N(1, 0.1²), dout ~ N(0, 1). The backward writes dx (overwritten) and dweight
 * (accumulated: it grows over the run, which costs nothing). Bytes each kernel must move: forward reads x and
 * writes out (8·N·C) plus weight and rstd; backward reads dout and x and writes dx (12·N·C) plus weight, rstd and
 * dweight. The backward's design re-reads dout and x for dweight (20·N·C: cuda/rmsnorm.cuh), so its fraction of
 * the floor is at most 60%.
 *
 * <p>Variants: align4j (the public API: shape checks only, no value scans), kernel-only (NativeKernels), naive
 * (LlamaRMSNorm's ops and autograd's backward in plain Java, {@link Naive#rmsNorm}).
 * JMH: {@code java -jar benchmarks.jar RmsNormBench [-p N=8192 -p C=2048 -p device=cpu]}.
 */
public class RmsNormBench extends JmhDefaults {
    static final String FAMILY = "rmsnorm";
    static final String DEFAULT_SHAPES = "8192x2048,65536x128";
    static final float EPS = RmsNorm.DEFAULT_EPS;

    static final class Case extends BenchCase {
        final int n, c;
        final float[] hX, hW, hDout;
        final Tensor x, w, out, rstd, dout, dx, dw;
        float[][] naiveSaved; // {out, rstd, h} of the naive forward, for the naive backward

        Case(Device device, int n, int c, long seed) {
            super(device);
            this.n = n;
            this.c = c;
            SplittableRandom rnd = new SplittableRandom(seed);
            int nc = Math.multiplyExact(n, c);
            hX = SmallKernels.normal(rnd, nc, 0, 1);
            hW = SmallKernels.normal(rnd, c, 1, 0.1);
            hDout = SmallKernels.normal(rnd, nc, 0, 1);
            x = input(hX, n, c);
            w = input(hW, c);
            dout = input(hDout, n, c);
            out = output(n, c);
            rstd = output(n);
            dx = output(n, c);
            dw = output(c);
            dw.zero();
            dx.zero(); // touched once, so that the first call's RSS rise is not its page faults
            forward(); // the backward needs rstd
        }

        long forwardBytes() {
            return 8L * n * c + 4L * c + 4L * n;
        }

        long backwardBytes() {
            return 12L * n * c + 12L * c + 4L * n;
        }

        void forward() {
            RmsNorm.forward(x, w, EPS, out, rstd);
            BenchAccess.synchronize(device);
        }

        void forwardKernel() {
            NativeKernels.rmsnormFwd(device, x, w, n, c, EPS, out, rstd);
            BenchAccess.synchronize(device);
        }

        void backward() {
            RmsNorm.backward(dout, x, w, rstd, dx, false, dw);
            BenchAccess.synchronize(device);
        }

        void backwardKernel() {
            NativeKernels.rmsnormBwd(device, dout, x, w, rstd, n, c, 0, dx, dw);
            BenchAccess.synchronize(device);
        }

        float[][] naiveForward() {
            return naiveSaved = Naive.rmsNorm(hX, hW, n, c, EPS);
        }

        float[][] naiveBackward() {
            if (naiveSaved == null) naiveForward();
            return Naive.rmsNormBackward(hDout, hX, hW, naiveSaved[1], naiveSaved[2], n, c);
        }
    }

    // ---------------------------------------------------------------- JMH

    public static class S extends Trial<Case> {
        @Param({"8192"})
        public int N;

        @Param({"2048"})
        public int C;

        @Override
        Case open(Device device) {
            return new Case(device, N, C, SEED);
        }
    }

    @Benchmark
    public void forward(S s) {
        s.c.forward();
    }

    @Benchmark
    public void forwardKernelOnly(S s) {
        s.c.forwardKernel();
    }

    @Benchmark
    public void backward(S s) {
        s.c.backward();
    }

    @Benchmark
    public void backwardKernelOnly(S s) {
        s.c.backwardKernel();
    }

    @Benchmark
    public float[][] forwardNaive(S s) {
        return s.c.naiveForward();
    }

    @Benchmark
    public float[][] backwardNaive(S s) {
        return s.c.naiveBackward();
    }

    // ---------------------------------------------------------------- report

    /** Each {@code --nc-shapes NxC} (default {@link #DEFAULT_SHAPES}): forward and backward. */
    static void report(Report.Context ctx) {
        for (long[] shape : ctx.shapes("nc-shapes", DEFAULT_SHAPES)) {
            int n = Math.toIntExact(shape[0]), c = Math.toIntExact(shape[1]);
            String name = "N=" + n + " C=" + c;
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            try (Case k = new Case(ctx.device(), n, c, ctx.seed())) {
                long elements = (long) n * c;
                SmallKernels.measure(ctx, FAMILY, "fwd", name, elements, k.forwardBytes(), k::forward, k::forwardKernel,
                        k::naiveForward);
                SmallKernels.measure(ctx, FAMILY, "bwd", name, elements, k.backwardBytes(), k::backward, k::backwardKernel,
                        k::naiveBackward);
            }
        }
    }
}
