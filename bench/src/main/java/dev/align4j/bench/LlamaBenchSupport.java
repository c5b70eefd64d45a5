package dev.align4j.bench;

import dev.align4j.kernels.Matmul;
import dev.align4j.model.LlamaConfig;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * What {@link LlamaTrainBench} and {@link LlamaGenerateBench} share: the model shape from the command line
 * (default SmolLM2-135M: llama, 30 layers, hidden 576, 9 heads, 3 KV heads, head_dim 64, FFN 1536, vocabulary
 * 49152, tied embeddings, rms_norm_eps 1e-5, rope_theta 10000), the SGEMM throughput of {@link Matmul} measured in
 * the same process (the compute floor's denominator), and the one-line JSON results that bench/llama_summary.py
 * joins with bench/torch_llama_peer.py's.
 */
final class LlamaBenchSupport {
    private LlamaBenchSupport() {}

    /** Parsed {@code --key value} options over {@code defaults} (whose keys are the known options). */
    static Map<String, String> options(String[] args, Map<String, String> defaults) {
        Map<String, String> o = new LinkedHashMap<>(defaults);
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length)
                throw new IllegalArgumentException("expected --key value, got " + args[i]);
            String k = args[i].substring(2);
            if (!o.containsKey(k)) throw new IllegalArgumentException("unknown option --" + k + "; known: " + o.keySet());
            o.put(k, args[++i]);
        }
        return o;
    }

    static final Map<String, String> MODEL_DEFAULTS = Map.of("layers", "30", "hidden", "576", "heads", "9",
            "kv-heads", "3", "ffn", "1536", "vocab", "49152", "untied", "false");

    /** SmolLM2-135M's shape unless the options change it; context 2048 (enough for every bench). */
    static LlamaConfig config(Map<String, String> o) {
        int hidden = Integer.parseInt(o.get("hidden")), heads = Integer.parseInt(o.get("heads"));
        return new LlamaConfig("llama", Integer.parseInt(o.get("vocab")), hidden, Integer.parseInt(o.get("ffn")),
                Integer.parseInt(o.get("layers")), heads, Integer.parseInt(o.get("kv-heads")), hidden / heads, 1e-5,
                10000.0, null, !Boolean.parseBoolean(o.get("untied")), false, false, 2048);
    }

    static Map<String, String> withModelDefaults(Map<String, String> own) {
        Map<String, String> m = new LinkedHashMap<>(MODEL_DEFAULTS);
        m.putAll(own);
        return m;
    }

    /**
     * GFLOP/s of C = A·Bᵀ (M×K times (N×K)ᵀ, a linear layer's forward) through {@link Matmul}: {@code [wall, cpu]},
     * each the best of {@code reps}; cpu divides by the process's CPU time (all threads), which a machine shared
     * with other work does not inflate (with one thread it is the GEMM's own throughput).
     */
    static double[] sgemmGflops(Device dev, int m, int n, int k, int reps) {
        Random rnd = new Random(3);
        try (Scope s = new Scope()) {
            Tensor a = s.of(dev, randoms(rnd, m * k), m, k), b = s.of(dev, randoms(rnd, n * k), n, k);
            Tensor c = s.empty(dev, DType.F32, m, n);
            Matmul.matmul(a, b, c, false, true, 1f, 0f);
            // one OpenBLAS thread: the product runs on this thread, whose own clock leaves out the JVM's JIT and GC threads
            java.util.function.LongSupplier cpu = dev.isCpu() && Matmul.cpuThreads() == 1 ? LlamaBenchSupport::threadCpuNanos
                    : LlamaBenchSupport::cpuNanos;
            double best = Double.MAX_VALUE, bestCpu = Double.MAX_VALUE;
            for (int r = 0; r < reps; r++) {
                long c0 = cpu.getAsLong(), t0 = System.nanoTime();
                Matmul.matmul(a, b, c, false, true, 1f, 0f);
                BenchAccess.synchronize(dev);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                bestCpu = Math.min(bestCpu, (cpu.getAsLong() - c0) / 1e9);
            }
            double f = 2.0 * m * n * k / 1e9;
            return new double[] {f / best, f / bestCpu};
        }
    }

    /** Measures and prints the SGEMM throughput (2048³ and the model's gate|up product over {@code rows}); a RESULT line. */
    static void sgemmReport(Device dev, int threads, int rows, LlamaConfig config) {
        double[] sq = sgemmGflops(dev, 2048, 2048, 2048, 5);
        double[] mlp = sgemmGflops(dev, rows, 2 * config.intermediateSize(), config.hiddenSize(), 5);
        System.out.printf("align4j on %s, %d threads: Matmul 2048³ %.0f GFLOP/s (%.0f per CPU-second), %d×%d×%d (gate|up)"
                        + " %.0f GFLOP/s (%.0f per CPU-second)%n", dev, threads, sq[0], sq[1], rows,
                2 * config.intermediateSize(), config.hiddenSize(), mlp[0], mlp[1]);
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("bench", "sgemm");
        g.put("impl", "align4j");
        g.put("threads", threads);
        g.put("square_gflops", sq[0]);
        g.put("square_gflops_cpu", sq[1]);
        g.put("mlp_gflops", mlp[0]);
        g.put("mlp_gflops_cpu", mlp[1]);
        emit(g);
    }

    /**
     * CPU time of the whole process in ns: every thread's, OpenBLAS's and OpenMP's native threads too. Summed from
     * {@code /proc/self/task/}*{@code /schedstat} (nanosecond resolution; the JVM's process CPU time counts 10 ms
     * ticks here), else the JVM's figure; -1 if neither is available. Threads that have exited are not counted:
     * OpenBLAS and OpenMP keep theirs for the life of the process.
     */
    static long cpuNanos() {
        try (java.nio.file.DirectoryStream<java.nio.file.Path> tasks =
                     java.nio.file.Files.newDirectoryStream(java.nio.file.Path.of("/proc/self/task"))) {
            long sum = 0;
            for (java.nio.file.Path task : tasks) {
                try {
                    String line = java.nio.file.Files.readString(task.resolve("schedstat"));
                    sum += Long.parseLong(line.substring(0, line.indexOf(' ')));
                } catch (java.io.IOException | RuntimeException e) {
                    // the thread exited between the listing and the read
                }
            }
            if (sum > 0) return sum;
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux, or no schedstat: below
        }
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : -1;
    }

    /** CPU time of the calling thread in ns (nanosecond resolution). */
    static long threadCpuNanos() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    static float[] randoms(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** One result line: {@code RESULT {"k": v, ...}} (numbers, strings, double arrays). */
    static void emit(Map<String, Object> fields) {
        StringBuilder sb = new StringBuilder("RESULT {");
        boolean first = true;
        for (Map.Entry<String, Object> e : fields.entrySet()) {
            if (!first) sb.append(", ");
            first = false;
            sb.append('"').append(e.getKey()).append("\": ").append(json(e.getValue()));
        }
        System.out.println(sb.append('}'));
    }

    private static String json(Object v) {
        if (v instanceof String s) return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        if (v instanceof double[] d) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < d.length; i++) sb.append(i > 0 ? ", " : "").append(json(d[i]));
            return sb.append(']').toString();
        }
        if (v instanceof Double d) return Double.isFinite(d) ? String.format(Locale.ROOT, "%.6g", d) : "null";
        return String.valueOf(v);
    }
}
