package dev.align4j.bench;

import dev.align4j.kernels.Matmul;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The fp32 GEMMs of a SmolLM2-135M-shaped model (hidden 576, 9 heads and 3 key/value heads of 64, FFN 1536, vocab
 * 49152) through align4j's {@link Matmul} (OpenBLAS {@code cblas_sgemm}), at N = B·T = 2048 rows (a training or
 * scoring batch) and N = 32 and 1 (KV-cached decoding), forward {@code Y = X·Wᵀ} and, at N = 2048, the input gradient
 * {@code dX = dY·W} that a frozen weight still needs (a LoRA base). Half of the bf16 question (bench/bf16-gemm.sh runs
 * this next to bench/torch_bf16_peer.py, which times PyTorch fp32 and bf16 on the same shapes): the OpenBLAS bundled
 * by org.bytedeco:openblas 0.3.31-1.5.13 has no {@code cblas_sbgemm} (built without BUILD_BFLOAT16), so fp32 is
 * the only GEMM align4j can call today.
 *
 * <p>Self-contained (JDK and the align4j jar only) so that it also runs as a single source file against
 * {@code target/classes}, without the benchmark module's jar:
 * <pre>
 * java -cp target/classes:$(cat cp.txt) bench/src/main/java/dev/align4j/bench/Bf16GemmBench.java [--reps 5]
 * </pre>
 * Output: one line per GEMM, {@code RESULT name N ms GFLOP/s GB/s}, where GB/s counts the fp32 weight's bytes once
 * (the floor that matters at small N), then a Markdown table.
 */
public final class Bf16GemmBench {
    /** One linear layer: {@code in → out}, weight [out, in]. {@code dx}: time dX = dY·W instead of Y = X·Wᵀ. */
    record Gemm(String name, int n, int in, int out, boolean dx) {
        double gflop() {
            return 2.0 * n * in * out / 1e9;
        }

        double weightGB() {
            return 4.0 * in * out / 1e9;
        }
    }

    static final int HIDDEN = 576, FFN = 1536, VOCAB = 49152, HEAD = 64, HEADS = 9, KV_HEADS = 3;

    static List<Gemm> gemms() {
        List<Gemm> out = new ArrayList<>();
        int qkv = (HEADS + 2 * KV_HEADS) * HEAD; // 960: q, k and v projections fused
        for (int n : new int[] {2048, 32, 1}) {
            out.add(new Gemm("qkv 576→960", n, HIDDEN, qkv, false));
            out.add(new Gemm("o 576→576", n, HEADS * HEAD, HIDDEN, false));
            out.add(new Gemm("gate|up 576→3072", n, HIDDEN, 2 * FFN, false));
            out.add(new Gemm("down 1536→576", n, FFN, HIDDEN, false));
            out.add(new Gemm("lm_head 576→49152", n, HIDDEN, VOCAB, false));
        }
        out.add(new Gemm("dX gate|up (3072→576)", 2048, HIDDEN, 2 * FFN, true));
        out.add(new Gemm("dX down (576→1536)", 2048, FFN, HIDDEN, true));
        out.add(new Gemm("dX lm_head (49152→576)", 2048, HIDDEN, VOCAB, true));
        return out;
    }

    public static void main(String[] args) {
        int reps = 5;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--reps")) reps = Integer.parseInt(args[++i]);
            else throw new IllegalArgumentException("unknown argument " + args[i] + " (--reps N)");
        }
        Device cpu = Device.cpu();
        System.out.println("align4j Matmul (OpenBLAS sgemm), threads " + Matmul.cpuThreads() + ", cores "
                + Runtime.getRuntime().availableProcessors() + ", OPENBLAS_CORETYPE=" + System.getenv("OPENBLAS_CORETYPE"));
        List<Gemm> gemms = gemms();
        double[] ms = new double[gemms.size()];
        Random rnd = new Random(7);
        for (int g = 0; g < gemms.size(); g++) {
            Gemm s = gemms.get(g);
            try (Scope scope = new Scope()) {
                Tensor w = scope.of(cpu, normal(rnd, (long) s.out() * s.in(), 0.02), s.out(), s.in());
                Runnable body;
                if (!s.dx()) {
                    Tensor x = scope.of(cpu, normal(rnd, (long) s.n() * s.in(), 1), s.n(), s.in());
                    Tensor y = scope.empty(cpu, DType.F32, s.n(), s.out());
                    body = () -> Matmul.matmul(x, w, y, false, true, 1f, 0f);
                } else {
                    Tensor dy = scope.of(cpu, normal(rnd, (long) s.n() * s.out(), 1), s.n(), s.out());
                    Tensor dx = scope.empty(cpu, DType.F32, s.n(), s.in());
                    body = () -> Matmul.matmul(dy, w, dx, false, false, 1f, 0f);
                }
                ms[g] = medianMs(body, reps);
            }
            System.out.printf("RESULT %s|%d|%.4f|%.1f|%.1f%n", s.name(), s.n(), ms[g], s.gflop() / ms[g] * 1e3,
                    s.weightGB() / ms[g] * 1e3);
        }
        System.out.println();
        System.out.println("| GEMM | N | ms | GFLOP/s | fp32 weight GB/s |");
        System.out.println("| --- | ---: | ---: | ---: | ---: |");
        for (int g = 0; g < gemms.size(); g++) {
            Gemm s = gemms.get(g);
            System.out.printf("| %s | %d | %.3f | %.1f | %.1f |%n", s.name(), s.n(), ms[g], s.gflop() / ms[g] * 1e3,
                    s.weightGB() / ms[g] * 1e3);
        }
    }

    static float[] normal(Random r, long n, double scale) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    /**
     * Median over {@code reps} samples of the mean ms per call, each sample a batch of calls lasting at least 50 ms
     * (so that microsecond GEMMs at N = 1 are not timer noise), after one such batch of warm-up.
     */
    static double medianMs(Runnable body, int reps) {
        body.run();
        long t0 = System.nanoTime();
        body.run();
        double one = Math.max(1e-6, (System.nanoTime() - t0) / 1e6);
        int calls = (int) Math.max(1, Math.ceil(50.0 / one));
        double[] samples = new double[reps + 1];
        for (int r = 0; r <= reps; r++) {
            long s = System.nanoTime();
            for (int c = 0; c < calls; c++) body.run();
            samples[r] = (System.nanoTime() - s) / 1e6 / calls;
        }
        double[] kept = Arrays.copyOfRange(samples, 1, samples.length); // the first batch is warm-up
        Arrays.sort(kept);
        int k = kept.length;
        return k % 2 == 1 ? kept[k / 2] : 0.5 * (kept[k / 2 - 1] + kept[k / 2]);
    }
}
