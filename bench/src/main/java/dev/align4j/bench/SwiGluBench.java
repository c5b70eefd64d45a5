package dev.align4j.bench;

import dev.align4j.kernels.SwiGlu;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/**
 * {@link SwiGlu}, the Llama MLP's activation on the fused gate|up projection h[N, 2F], at N×F = 4096×1536 by
 * default ({@code --swiglu-shapes NxF}; 1536 is SmolLM2-135M's intermediate size, N = B·T tokens). Inputs:
 * h ~ N(0, 3²), dout ~ N(0, 1). Bytes each kernel must move: forward reads h and writes out, 12·N·F; backward
 * reads h and dout and writes dh, 20·N·F (in the align4j and kernel-only rows into a separate dh; in place it
 * is the same traffic).
 *
 * <p>Variants: align4j (the public API into preallocated outputs), kernel-only (NativeKernels, no validation),
 * naive ({@link Naive#swigluForward}: chunk, sigmoid, silu and the product as separate arrays; the backward as
 * autograd builds it). JMH: {@code java -jar benchmarks.jar SwiGluBench [-p N=4096 -p F=1536 -p device=cpu]}.
 */
public class SwiGluBench extends JmhDefaults {
    static final String FAMILY = "swiglu";
    static final String DEFAULT_SHAPES = "4096x1536";

    static final class Case extends BenchCase {
        final int n, f;
        final float[] hH, hDout;
        final Tensor h, dout, out, dh;

        Case(Device device, int n, int f, long seed) {
            super(device);
            this.n = n;
            this.f = f;
            SplittableRandom rnd = new SplittableRandom(seed);
            hH = SmallKernels.normal(rnd, Math.multiplyExact(n, 2 * f), 0, 3);
            hDout = SmallKernels.normal(rnd, Math.multiplyExact(n, f), 0, 1);
            h = input(hH, n, 2L * f);
            dout = input(hDout, n, f);
            out = output(n, f);
            dh = output(n, 2L * f);
        }

        long forwardBytes() {
            return 12L * n * f;
        }

        long backwardBytes() {
            return 20L * n * f;
        }

        void forward() {
            SwiGlu.forward(h, out);
            BenchAccess.synchronize(device);
        }

        void forwardKernel() {
            NativeKernels.swigluFwd(device, h, n, f, out);
            BenchAccess.synchronize(device);
        }

        float[][] forwardNaive() {
            return new float[][] {Naive.swigluForward(hH, n, f)};
        }

        void backward() {
            SwiGlu.backward(h, dout, dh);
            BenchAccess.synchronize(device);
        }

        void backwardKernel() {
            NativeKernels.swigluBwd(device, h, dout, n, f, dh);
            BenchAccess.synchronize(device);
        }

        float[][] backwardNaive() {
            return new float[][] {Naive.swigluBackward(hH, hDout, n, f)};
        }
    }

    // ---------------------------------------------------------------- JMH

    public static class S extends Trial<Case> {
        @Param({"4096"})
        public int N;

        @Param({"1536"})
        public int F;

        @Override
        Case open(Device device) {
            return new Case(device, N, F, SEED);
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
    public float[][] forwardNaive(S s) {
        return s.c.forwardNaive();
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
    public float[][] backwardNaive(S s) {
        return s.c.backwardNaive();
    }

    // ---------------------------------------------------------------- report

    static void report(Report.Context ctx) {
        for (long[] shape : ctx.shapes("swiglu-shapes", DEFAULT_SHAPES)) {
            int n = Math.toIntExact(shape[0]), f = Math.toIntExact(shape[1]);
            String name = "N=" + n + " F=" + f;
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            try (Case c = new Case(ctx.device(), n, f, ctx.seed())) {
                long elements = (long) n * f;
                SmallKernels.measure(ctx, FAMILY, "fwd", name, elements, c.forwardBytes(), c::forward,
                        c::forwardKernel, c::forwardNaive);
                SmallKernels.measure(ctx, FAMILY, "bwd", name, elements, c.backwardBytes(), c::backward,
                        c::backwardKernel, c::backwardNaive);
            }
        }
    }
}
