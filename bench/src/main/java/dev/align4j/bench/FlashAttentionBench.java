package dev.align4j.bench;

import dev.align4j.kernels.AttentionSoftmax;
import dev.align4j.kernels.FlashAttention;
import dev.align4j.kernels.Matmul;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Locale;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;

/**
 * {@link FlashAttention}, causal self-attention forward and backward, at {@code --attn-shapes BxHxHkvxTxD}: by
 * default 1x12x12x1024x64 (GPT-2 small, one sequence of 1024) and 4x9x3x512x64 (SmolLM2-135M's attention: 9 query
 * heads on 3 key/value heads, four sequences of 512). Inputs q, k, v, dout ~ N(0, 1), scale 1/√D.
 *
 * <p>The floor is arithmetic, not memory: causal attention must do 4·B·H·T²·D/2 FLOPs forward (q·kᵀ and P·v over the
 * visible half of the scores) and 10·B·H·T²·D/2 backward (q·kᵀ and dO·vᵀ again, then dv, dk and dq), plus B·H·T²/2
 * exponentials each way, which the floor leaves out. Floor ms = those FLOPs at the rate OpenBLAS's SGEMM reaches on
 * this device in the same run (a 2048³ product, all threads): what the best dense GEMM would take for exactly the
 * needed products. "bytes" is what the kernel must read and write once (forward: q, k, v in, o and lse out; backward:
 * q, k, v, o, dout, lse in, dq, dk, dv out), so GB/s shows how far from memory-bound it is.
 *
 * <p>The naive column is the <b>materialised</b> path the model used before (and {@code model.Llama} still uses): a
 * batched GEMM q·kᵀ into [B, H, T, T] scores, {@link AttentionSoftmax}, a batched GEMM P·v; backward dP = dO·vᵀ,
 * dv = Pᵀ·dO, the softmax backward, dq = dS·k, dk = dSᵀ·q (grouped heads by viewing q as [B·Hkv, g·T, D], as
 * model.Llama does; full-square GEMMs, so twice the causal FLOPs). Its buffers are preallocated (as the model's
 * activations were); its memory column is the size of its two [B, H, T, T] tensors. PyTorch:
 * bench/torch_peer.py, family "attention".
 *
 * <p>{@code --clock thread-cpu}: every time is the calling thread's CPU time with one thread (this sets OpenBLAS to
 * one thread; start the JVM with {@code OMP_NUM_THREADS=1}, which the report checks), so that a machine shared with
 * other jobs gives the per-core cost rather than the time spent waiting for a core; the PyTorch peer has the same
 * option. Default: wall-clock time on all cores.
 * JMH: {@code java -jar benchmarks.jar FlashAttentionBench [-p shape=1x12x12x1024x64]}.
 */
public class FlashAttentionBench extends JmhDefaults {
    static final String FAMILY = "attention";
    static final String DEFAULT_SHAPES = "1x12x12x1024x64,4x9x3x512x64";

    static final class Case extends BenchCase {
        final int b, h, hkv, t, d, g;
        final float scale;
        final Tensor q, k, v, dout, o, lse, dq, dk, dv, work;
        /** The materialised path's [B, H, T, T] probabilities and their gradient, and its output. */
        final Tensor att, datt, y;

        Case(Device device, int b, int h, int hkv, int t, int d, long seed) {
            super(device);
            this.b = b;
            this.h = h;
            this.hkv = hkv;
            this.t = t;
            this.d = d;
            this.g = h / hkv;
            this.scale = (float) (1 / Math.sqrt(d));
            SplittableRandom rnd = new SplittableRandom(seed);
            int nq = Math.multiplyExact(b * h * t, d), nk = Math.multiplyExact(b * hkv * t, d);
            q = input(SmallKernels.normal(rnd, nq, 0, 1), b, h, t, d);
            k = input(SmallKernels.normal(rnd, nk, 0, 1), b, hkv, t, d);
            v = input(SmallKernels.normal(rnd, nk, 0, 1), b, hkv, t, d);
            dout = input(SmallKernels.normal(rnd, nq, 0, 1), b, h, t, d);
            o = output(b, h, t, d);
            lse = output(b, h, t);
            dq = output(b, h, t, d);
            dk = output(b, hkv, t, d);
            dv = output(b, hkv, t, d);
            work = output(Math.max(1, FlashAttention.workSize(b, h, hkv, t, d)));
            att = output((long) b * h, t, t);
            datt = output((long) b * h, t, t);
            y = output(b, h, t, d);
        }

        /** Causal FLOPs of the products: 4·B·H·T²·D/2 forward (counting the diagonal: T(T+1)/2 pairs per head). */
        double forwardFlops() {
            return 4.0 * b * h * ((double) t * (t + 1) / 2) * d;
        }

        double backwardFlops() {
            return 2.5 * forwardFlops();
        }

        long forwardBytes() {
            return 4L * (2L * b * h * t * d + 2L * b * hkv * t * d + (long) b * h * t);
        }

        long backwardBytes() {
            return 4L * (4L * b * h * t * d + 4L * b * hkv * t * d + (long) b * h * t);
        }

        /** Bytes of the materialised path's two [B, H, T, T] buffers. */
        long materialisedBytes() {
            return 2L * 4 * b * h * t * (long) t;
        }

        void forward() {
            FlashAttention.forward(q, k, v, t, null, scale, o, lse);
            BenchAccess.synchronize(device);
        }

        void backward() {
            FlashAttention.backward(q, k, v, t, null, scale, o, lse, dout, dq, dk, dv, work);
            BenchAccess.synchronize(device);
        }

        // [B·Hkv, g·T, ·] views: the g query heads of a group are consecutive, so a group's rows are one matrix
        private Tensor grouped(Tensor x, long cols) {
            return x.view(0, (long) b * hkv, (long) g * t, cols);
        }

        private Tensor kvView(Tensor x) {
            return x.view(0, (long) b * hkv, t, d);
        }

        void forwardMaterialised() {
            Matmul.matmulBatched(grouped(q, d), kvView(k), grouped(att, t), false, true);  // S = q·kᵀ
            AttentionSoftmax.forward(att, scale, att);
            Matmul.matmulBatched(grouped(att, t), kvView(v), grouped(y, d), false, false);  // y = P·v
            BenchAccess.synchronize(device);
        }

        void backwardMaterialised() {
            Matmul.matmulBatched(grouped(dout, d), kvView(v), grouped(datt, t), false, true);  // dP = dO·vᵀ
            Matmul.matmulBatched(grouped(att, t), grouped(dout, d), kvView(dv), true, false);  // dv = Pᵀ·dO
            AttentionSoftmax.backward(att, datt, scale, datt);                                   // dS
            Matmul.matmulBatched(grouped(datt, t), kvView(k), grouped(dq, d), false, false);  // dq = dS·k
            Matmul.matmulBatched(grouped(datt, t), grouped(q, d), kvView(dk), true, false);   // dk = dSᵀ·q
            BenchAccess.synchronize(device);
        }
    }

    /** "BxHxHkvxTxD" -> {B, H, Hkv, T, D}. */
    static int[] parse(String s) {
        String[] p = s.trim().toLowerCase(Locale.ROOT).split("x");
        if (p.length != 5) throw new IllegalArgumentException("--attn-shapes: expected BxHxHkvxTxD, got '" + s + "'");
        int[] r = new int[5];
        for (int i = 0; i < 5; i++) r[i] = Integer.parseInt(p[i].trim());
        return r;
    }

    static String name(int[] s) {
        return "B=" + s[0] + " H=" + s[1] + " Hkv=" + s[2] + " T=" + s[3] + " D=" + s[4];
    }

    // ---------------------------------------------------------------- JMH

    public static class S extends Trial<Case> {
        @Param({"1x12x12x1024x64"})
        public String shape;

        @Override
        Case open(Device device) {
            int[] s = parse(shape);
            return new Case(device, s[0], s[1], s[2], s[3], s[4], SEED);
        }
    }

    @Benchmark
    public void forward(S s) {
        s.c.forward();
    }

    @Benchmark
    public void backward(S s) {
        s.c.backward();
    }

    @Benchmark
    public void forwardMaterialised(S s) {
        s.c.forwardMaterialised();
    }

    @Benchmark
    public void backwardMaterialised(S s) {
        s.c.backwardMaterialised();
    }

    // ---------------------------------------------------------------- report

    /** Wall-clock or, with {@code --clock thread-cpu}, the calling thread's CPU time (see the class comment). */
    static double medianMs(Report.Context ctx, Runnable body) {
        return cpuClock(ctx) ? Timing.medianCpuMs(ctx.warmup(), ctx.reps(), body)
                : Timing.medianMs(ctx.warmup(), ctx.reps(), body);
    }

    static boolean cpuClock(Report.Context ctx) {
        String clock = ctx.option("clock", "wall");
        if (!clock.equals("wall") && !clock.equals("thread-cpu"))
            throw new IllegalArgumentException("--clock: wall or thread-cpu, got '" + clock + "'");
        return clock.equals("thread-cpu");
    }

    /** GFLOP/s of a 2048³ SGEMM on the device (median of a few), the rate the floor is counted at. */
    static double gemmGflops(Report.Context ctx) {
        int n = 2048;
        try (Scope s = new Scope()) {
            SplittableRandom rnd = new SplittableRandom(ctx.seed());
            Tensor a = s.of(ctx.device(), SmallKernels.normal(rnd, n * n, 0, 1), n, n);
            Tensor bm = s.of(ctx.device(), SmallKernels.normal(rnd, n * n, 0, 1), n, n);
            Tensor c = s.empty(ctx.device(), dev.align4j.tensor.DType.F32, n, n);
            Runnable gemm = () -> {
                Matmul.matmul(a, bm, c, false, false, 1f, 0f);
                BenchAccess.synchronize(ctx.device());
            };
            double ms = cpuClock(ctx) ? Timing.medianCpuMs(2, Math.max(5, ctx.reps()), gemm)
                    : Timing.medianMs(2, Math.max(5, ctx.reps()), gemm);
            return 2.0 * n * n * n / (ms * 1e6);
        }
    }

    static void report(Report.Context ctx) {
        if (cpuClock(ctx)) {
            if (!ctx.device().isCpu()) throw new IllegalArgumentException("--clock thread-cpu: CPU only");
            if (!"1".equals(System.getenv("OMP_NUM_THREADS")))
                throw new IllegalArgumentException("--clock thread-cpu needs OMP_NUM_THREADS=1 in the environment");
            Matmul.setCpuThreads(1);
            ctx.progress("attention: times are the calling thread's CPU time, one thread");
        }
        for (String spec : ctx.option("attn-shapes", DEFAULT_SHAPES).split(",")) {
            int[] s = parse(spec);
            String name = name(s);
            ctx.progress(FAMILY + " " + name + " on " + ctx.device());
            try (Case c = new Case(ctx.device(), s[0], s[1], s[2], s[3], s[4], ctx.seed())) {
                double gflops = gemmGflops(ctx);  // measured right before: the rate drifts on a shared machine
                System.err.printf(Locale.ROOT, "  sgemm 2048^3: %.1f GFLOP/s (the floor's rate%s)%n", gflops,
                        cpuClock(ctx) ? ", one thread, CPU time" : "");
                long extraF = Memory.extraPeakBytes(c::forward);
                double fwd = medianMs(ctx, c::forward);
                long extraB = Memory.extraPeakBytes(c::backward);
                double bwd = medianMs(ctx, c::backward);
                double fwdM = Double.NaN, bwdM = Double.NaN;
                if (ctx.option("no-naive", null) == null) {
                    fwdM = medianMs(ctx, c::forwardMaterialised);
                    bwdM = medianMs(ctx, c::backwardMaterialised);
                }
                ctx.add(new Report.Row(FAMILY, "fwd", name, ctx.device().toString(), fwd, fwdM,
                        c.forwardFlops() / (gflops * 1e6), c.forwardBytes(), extraF, c.materialisedBytes() / 2));
                ctx.add(new Report.Row(FAMILY, "bwd", name, ctx.device().toString(), bwd, bwdM,
                        c.backwardFlops() / (gflops * 1e6), c.backwardBytes(), extraB, c.materialisedBytes()));
            }
        }
    }
}
