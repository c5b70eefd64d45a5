package dev.align4j;

import dev.align4j.kernels.LogProbs;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * {@code align4j selfcheck [--device cpu|cuda] [--quick]}: the main job until the trainers exist. Checks each
 * kernel family on a case with a hand-computed answer, then times the kernels at realistic shapes on the
 * chosen device and prints a table. Exit code 0 when every check holds, 1 otherwise, 2 for bad arguments.
 */
public final class SelfCheck {
    private final Device device;
    private final boolean quick;
    private int failures;

    private SelfCheck(Device device, boolean quick) {
        this.device = device;
        this.quick = quick;
    }

    public static void main(String[] args) {
        Device device = Device.cpu();
        boolean quick = false;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--device":
                        if (i + 1 >= args.length) throw new IllegalArgumentException("--device needs a value");
                        device = Device.parse(args[++i]);
                        break;
                    case "--quick":
                        quick = true;
                        break;
                    default:
                        throw new IllegalArgumentException("unknown argument '" + args[i] + "' (use --device cpu|cuda, --quick)");
                }
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("align4j selfcheck: " + e.getMessage());
            System.exit(2);
        }
        SelfCheck c = new SelfCheck(device, quick);
        System.out.println("align4j selfcheck on " + device + " (CUDA: "
                + (Device.cudaAvailable() ? "available" : Device.cudaUnavailableReason()) + ")");
        c.checks();
        c.timings();
        System.out.println(c.failures == 0 ? "selfcheck passed" : "selfcheck FAILED: " + c.failures + " check(s)");
        System.exit(c.failures == 0 ? 0 : 1);
    }

    private void expect(String what, double expected, double got, double tol) {
        boolean ok = Math.abs(expected - got) <= tol * (1 + Math.abs(expected));
        if (!ok) failures++;
        System.out.printf(Locale.ROOT, "  %-44s %s  expected %.6f got %.6f%n", what, ok ? "ok  " : "FAIL", expected, got);
    }

    private void checks() {
        System.out.println("checks against hand-computed values:");
        try (Scope s = new Scope()) {
            Tensor logits = s.of(device, new float[] {1, 2, 3, 0, 0, 0}, 2, 3);
            LogProbs.Result r = LogProbs.forward(s, logits, s.of(device, new int[] {2, 0}), null, 1f, true);
            double lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
            expect("logprobs: log softmax([1,2,3])[2]", 3 - lse, r.logp().getFloat(0), 1e-6);
            expect("logprobs: entropy of uniform(3)", Math.log(3), r.entropy().getFloat(1), 1e-6);
        }
    }

    private interface Body {
        void run();
    }

    private double medianMs(Body body, int reps) {
        body.run(); // warm-up
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            body.run();
            NativeKernels.synchronize(device);
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return t[reps / 2];
    }

    private void timings() {
        int n = quick ? 512 : 4096, v = 32000, reps = quick ? 3 : 7;
        System.out.printf(Locale.ROOT, "timings (median of %d):%n", reps);
        Random rnd = new Random(1);
        float[] z = new float[n * v];
        for (int i = 0; i < z.length; i++) z[i] = (float) (rnd.nextGaussian() * 3);
        int[] y = new int[n];
        for (int i = 0; i < n; i++) y[i] = rnd.nextInt(v);
        try (Scope s = new Scope()) {
            Tensor logits = s.of(device, z, n, v);
            Tensor labels = s.of(device, y);
            Tensor logp = s.empty(device, DType.F32, n), ent = s.empty(device, DType.F32, n),
                    lse = s.empty(device, DType.F32, n), dz = s.empty(device, DType.F32, n, v);
            Tensor g = s.of(device, new float[n]);
            double gb = (double) n * v * 4 / 1e9;
            double f = medianMs(() -> LogProbs.forward(logits, labels, null, 1f, logp, null, lse), reps);
            row("logprobs forward", n + "x" + v, f, gb);
            double fe = medianMs(() -> LogProbs.forward(logits, labels, null, 1f, logp, ent, lse), reps);
            row("logprobs forward + entropy", n + "x" + v, fe, gb);
            double b = medianMs(() -> LogProbs.backward(logits, labels, null, 1f, lse, ent, g, g, dz), reps);
            row("logprobs backward (dlogp + dentropy)", n + "x" + v, b, 2 * gb);
        }
    }

    private static void row(String kernel, String shape, double ms, double gb) {
        System.out.printf(Locale.ROOT, "  %-40s %-12s %9.3f ms  %7.1f GB/s%n", kernel, shape, ms, gb / (ms / 1e3));
    }
}
