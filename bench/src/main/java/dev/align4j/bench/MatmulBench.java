package dev.align4j.bench;

import dev.align4j.kernels.Matmul;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * GEMM throughput of {@link Matmul} (OpenBLAS on the CPU, cuBLAS on CUDA) against PyTorch's matmul on the
 * same shapes, threads and machine, in the same run: a square 2048³ SGEMM and the GEMMs of a GPT-2-small
 * step (B·T = 8192 rows: the fused QKV projection forward, its two backward products, and attention's
 * batched Q·Kᵀ and P·V at T = 1024 and at the small model's T = 256). Prints a Markdown table.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.align4j.bench.MatmulBench [--device cuda] [--tf32]
 *      [--reps 5] [--warmup 2] [--no-torch] [--python /usr/bin/python3]
 * </pre>
 * Threads: OpenBLAS's (one per core, or -Dalign4j.blasThreads / OPENBLAS_NUM_THREADS); PyTorch gets the same count.
 */
public final class MatmulBench {
    /** name, batch, M, N, K, transA, transB. */
    record Shape(String name, int batch, int m, int n, int k, boolean ta, boolean tb) {
        double gflop() {
            return 2.0 * batch * m * n * k / 1e9;
        }
    }

    static final Shape[] SHAPES = {
        new Shape("square 2048³", 1, 2048, 2048, 2048, false, false),
        new Shape("GPT-2 qkv fwd x·W (8192×768 · 768×2304)", 1, 8192, 2304, 768, false, false),
        new Shape("GPT-2 qkv bwd dY·Wᵀ", 1, 8192, 768, 2304, false, true),
        new Shape("GPT-2 qkv bwd Xᵀ·dY", 1, 768, 2304, 8192, true, false),
        new Shape("attn Q·Kᵀ 96×(1024×64 · 64×1024)", 96, 1024, 1024, 64, false, true),
        new Shape("attn P·V 96×(1024×1024 · 1024×64)", 96, 1024, 64, 1024, false, false),
        new Shape("attn Q·Kᵀ 48×(256×64 · 64×256)", 48, 256, 256, 64, false, true),
    };

    public static void main(String[] args) throws Exception {
        Device device = Device.cpu();
        int reps = 5, warmup = 2;
        boolean torch = true;
        String python = "/usr/bin/python3";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device": device = Device.parse(args[++i]); break;
                case "--tf32": Matmul.setAllowTf32(true); break;
                case "--reps": reps = Integer.parseInt(args[++i]); break;
                case "--warmup": warmup = Integer.parseInt(args[++i]); break;
                case "--no-torch": torch = false; break;
                case "--python": python = args[++i]; break;
                default: throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        int threads = Matmul.cpuThreads();
        System.out.println("device " + device + (device.isCpu() ? ", OpenBLAS threads " + threads : ", TF32 " + Matmul.allowTf32())
                + ", " + Runtime.getRuntime().availableProcessors() + " cores");
        double[] ours = new double[SHAPES.length];
        for (int i = 0; i < SHAPES.length; i++) ours[i] = run(SHAPES[i], device, warmup, reps);
        double[] peer = torch ? torchPeer(python, device, threads, warmup, reps) : null;
        System.out.println();
        System.out.println("| GEMM | GFLOP | align4j ms | align4j GFLOP/s |" + (peer != null ? " PyTorch ms | PyTorch GFLOP/s | ratio |" : ""));
        System.out.println("| --- | ---: | ---: | ---: |" + (peer != null ? " ---: | ---: | ---: |" : ""));
        for (int i = 0; i < SHAPES.length; i++) {
            Shape s = SHAPES[i];
            String row = String.format("| %s | %.2f | %.2f | %.1f |", s.name(), s.gflop(), ours[i], s.gflop() / ours[i] * 1e3);
            if (peer != null && peer[i] > 0)
                row += String.format(" %.2f | %.1f | %.2f× |", peer[i], s.gflop() / peer[i] * 1e3, peer[i] / ours[i]);
            System.out.println(row);
        }
        System.out.println("(ratio = PyTorch time / align4j time: > 1 means align4j is faster)");
    }

    static double run(Shape s, Device device, int warmup, int reps) {
        Random rnd = new Random(1);
        try (Scope scope = new Scope()) {
            long[] as = s.batch() == 1 ? dims(s.ta() ? s.k() : s.m(), s.ta() ? s.m() : s.k())
                    : dims(s.batch(), s.ta() ? s.k() : s.m(), s.ta() ? s.m() : s.k());
            long[] bs = s.batch() == 1 ? dims(s.tb() ? s.n() : s.k(), s.tb() ? s.k() : s.n())
                    : dims(s.batch(), s.tb() ? s.n() : s.k(), s.tb() ? s.k() : s.n());
            long[] cs = s.batch() == 1 ? dims(s.m(), s.n()) : dims(s.batch(), s.m(), s.n());
            Tensor a = fill(scope.empty(device, dev.align4j.tensor.DType.F32, as), rnd);
            Tensor b = fill(scope.empty(device, dev.align4j.tensor.DType.F32, bs), rnd);
            Tensor c = scope.zeros(device, dev.align4j.tensor.DType.F32, cs);
            final Device d = device;
            Runnable body = s.batch() == 1
                    ? () -> Matmul.matmul(a, b, c, s.ta(), s.tb(), 1f, 0f)
                    : () -> Matmul.matmulBatched(a, b, c, s.ta(), s.tb(), 1f, 0f);
            double ms = Timing.medianMs(warmup, reps, () -> {
                body.run();
                BenchAccess.synchronize(d);
            });
            System.out.printf("  %-44s %8.2f ms  %8.1f GFLOP/s%n", s.name(), ms, s.gflop() / ms * 1e3);
            return ms;
        }
    }

    static long[] dims(long... d) {
        return d;
    }

    static Tensor fill(Tensor t, Random rnd) {
        int chunk = 1 << 20;
        float[] buf = new float[chunk];
        for (long off = 0; off < t.numel(); off += chunk) {
            int len = (int) Math.min(chunk, t.numel() - off);
            for (int i = 0; i < len; i++) buf[i] = (float) rnd.nextGaussian();
            BenchAccess.copyIn(t, off, buf, len);
        }
        return t;
    }

    /** torch.matmul on the same shapes, threads and device; returns median ms per shape (-1 when it failed). */
    static double[] torchPeer(String python, Device device, int threads, int warmup, int reps) throws Exception {
        StringBuilder shapes = new StringBuilder();
        for (Shape s : SHAPES)
            shapes.append(String.format("(%d,%d,%d,%d,%s,%s),", s.batch(), s.m(), s.n(), s.k(), s.ta() ? "True" : "False",
                    s.tb() ? "True" : "False"));
        String dev = device.isCpu() ? "cpu" : "cuda";
        String script = String.join("\n",
                "import time, torch",
                "torch.set_num_threads(" + threads + ")",
                "dev = '" + dev + "'",
                "torch.backends.cuda.matmul.allow_tf32 = " + (Matmul.allowTf32() ? "True" : "False"),
                "print('torch', torch.__version__, 'threads', torch.get_num_threads(), flush=True)",
                "for (b, m, n, k, ta, tb) in [" + shapes + "]:",
                "    try:",
                "        sa = (k, m) if ta else (m, k)",
                "        sb = (n, k) if tb else (k, n)",
                "        if b > 1: sa, sb = (b,) + sa, (b,) + sb",
                "        A = torch.randn(sa, device=dev); B = torch.randn(sb, device=dev)",
                "        A = A.transpose(-1, -2) if ta else A",
                "        B = B.transpose(-1, -2) if tb else B",
                "        C = torch.empty((b, m, n) if b > 1 else (m, n), device=dev)",
                "        ts = []",
                "        for i in range(" + warmup + " + " + reps + "):",
                "            if dev == 'cuda': torch.cuda.synchronize()",
                "            t0 = time.perf_counter(); torch.matmul(A, B, out=C)",
                "            if dev == 'cuda': torch.cuda.synchronize()",
                "            ts.append((time.perf_counter() - t0) * 1e3)",
                "        ts = sorted(ts[" + warmup + ":]); r = len(ts)",
                "        print('RESULT', ts[r // 2] if r % 2 else 0.5 * (ts[r // 2 - 1] + ts[r // 2]), flush=True)",
                "    except Exception as e:",
                "        print('RESULT -1', e, flush=True)");
        Process p = new ProcessBuilder(python, "-c", script).redirectErrorStream(true).start();
        double[] ms = new double[SHAPES.length];
        java.util.Arrays.fill(ms, -1);
        int i = 0;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("RESULT") && i < ms.length) {
                    ms[i] = Double.parseDouble(line.split("\\s+")[1]);
                    System.out.printf("  torch %-38s %8.2f ms%n", SHAPES[i].name(), ms[i]);
                    i++;
                } else {
                    System.out.println("  " + line);
                }
            }
        }
        p.waitFor();
        return ms;
    }
}
