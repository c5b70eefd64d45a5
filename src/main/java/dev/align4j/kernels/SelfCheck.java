package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * The kernel self-check behind {@code align4j selfcheck}: checks each kernel family on a case with a
 * hand-computed answer, then times the kernels at realistic shapes on the chosen device, printing a table.
 * {@link #run} returns the number of failed checks.
 */
public final class SelfCheck {
    private final Device device;
    private final boolean quick;
    private final PrintStream out;
    private int failures;

    private SelfCheck(Device device, boolean quick, PrintStream out) {
        this.device = device;
        this.quick = quick;
        this.out = out;
    }

    /**
     * Runs the checks and the timings on {@code device} ({@code quick}: smaller timing shapes, fewer repetitions),
     * printing to {@code out}; returns the number of checks that failed.
     */
    public static int run(Device device, boolean quick, PrintStream out) {
        SelfCheck c = new SelfCheck(device, quick, out);
        c.checks();
        c.timings();
        return c.failures;
    }

    private void expect(String what, double expected, double got, double tol) {
        boolean ok = Math.abs(expected - got) <= tol * (1 + Math.abs(expected));
        if (!ok) failures++;
        out.printf(Locale.ROOT, "  %-44s %s  expected %.6f got %.6f%n", what, ok ? "ok  " : "FAIL", expected, got);
    }

    private void checks() {
        out.println("checks against hand-computed values:");
        try (Scope s = new Scope()) {
            Tensor logits = s.of(device, new float[] {1, 2, 3, 0, 0, 0}, 2, 3);
            LogProbs.Result r = LogProbs.forward(s, logits, s.of(device, new int[] {2, 0}), null, 1f, true);
            double lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
            expect("logprobs: log softmax([1,2,3])[2]", 3 - lse, r.logp().getFloat(0), 1e-6);
            expect("logprobs: entropy of uniform(3)", Math.log(3), r.entropy().getFloat(1), 1e-6);

            // one sequence of 3 tokens, the last one padding
            Tensor mask = s.of(device, new float[] {1, 1, 0}, 1, 3);
            SeqReduce.Result sr = SeqReduce.forward(s, s.of(device, new float[] {-1, -2, -50}, 1, 3), mask);
            expect("seq_reduce: Σ masked log-probs", -3, sr.sums().getFloat(0), 1e-6);

            // ratio e^0.5 > 1 + 0.2 with A = 1: the clipped branch wins, loss = −1.2 per token, gradient 0
            PolicyLoss.Result pg = PolicyLoss.compute(s, s.of(device, new float[] {0.5f, 0f, 0f}, 1, 3),
                    s.of(device, new float[] {0f, 0f, 0f}, 1, 3), s.of(device, new float[] {1f, 1f, 1f}, 1, 3), mask,
                    PolicyLoss.Config.DEFAULT);
            expect("policy loss: (−1.2 − 1) / 2", -1.1, pg.stats().loss(), 1e-6);
            expect("policy loss: clipfrac", 0.5, pg.stats().clipFrac(), 1e-6);
            expect("policy loss: dL/dℓ_new of the unclipped token", -0.5, pg.dlogpNew().getFloat(1), 1e-6);

            ValueLoss.Result vl = ValueLoss.compute(s, s.of(device, new float[] {1f, 0f, 0f}, 1, 3),
                    s.of(device, new float[] {0f, 0f, 0f}, 1, 3), s.of(device, new float[] {2f, 0f, 0f}, 1, 3), mask,
                    ValueLoss.Config.DEFAULT);
            // token 0: V=1 clipped to 0.2, ½·max(1, 3.24) = 1.62; token 1: 0; mean 0.81
            expect("value loss: ½·mean max((V−G)², (V_clip−G)²)", 0.81, vl.stats().loss(), 1e-6);

            // rewards 1 at the last token, γ = λ = 1, V = 0: advantages are the reward-to-go
            Gae.Result gae = Gae.compute(s, s.of(device, new float[] {0f, 1f, 7f}, 1, 3),
                    s.of(device, new float[] {0f, 0f, 9f}, 1, 3), mask, 1f, 1f);
            expect("gae: advantage of token 0 = reward-to-go", 1, gae.advantages().getFloat(0), 1e-6);

            KlShaping.Result kl = KlShaping.compute(s, s.of(device, new float[] {-1f, -1f, 0f}, 1, 3),
                    s.of(device, new float[] {-2f, -1f, 0f}, 1, 3), mask, s.of(device, new float[] {3f}), null,
                    KlShaping.Config.defaults().withBeta(0.5f));
            expect("kl shaping: −β·k1 at token 0", -0.5, kl.rewards().getFloat(0), 1e-6);
            expect("kl shaping: score at the last response token", 3, kl.rewards().getFloat(1), 1e-6);

            Whiten.Result w = Whiten.apply(s, s.of(device, new float[] {1f, 3f, 100f}, 1, 3), mask, false);
            expect("whiten: std of {1, 3} (unbiased)", Math.sqrt(2), w.std(), 1e-6);

            PreferenceLoss.Result dpo = PreferenceLoss.compute(s, s.of(device, new float[] {-1f}),
                    s.of(device, new float[] {-2f}), s.of(device, new float[] {-1f}), s.of(device, new float[] {-2f}),
                    null, null, PreferenceLoss.Config.dpo());
            expect("dpo: policy = reference gives log 2", Math.log(2), dpo.stats().loss(), 1e-6);

            RewardLoss.Result rm = RewardLoss.compute(s, s.of(device, new float[] {2f}), s.of(device, new float[] {0f}),
                    null, 0f);
            expect("reward loss: −log σ(2)", Math.log1p(Math.exp(-2)), rm.stats().loss(), 1e-6);
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
            device.synchronize();
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return t[reps / 2];
    }

    private void timings() {
        int n = quick ? 512 : 4096, v = 32000, reps = quick ? 3 : 7;
        out.printf(Locale.ROOT, "timings (median of %d):%n", reps);
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
        lossTimings(reps);
    }

    private void lossTimings(int reps) {
        int b = quick ? 32 : 256, t = 1024, pairs = 64;
        Random rnd = new Random(2);
        float[] x = new float[b * t], y = new float[b * t], adv = new float[b * t], ones = new float[b * t];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (-1 - rnd.nextDouble());
            y[i] = x[i] + (float) (0.1 * rnd.nextGaussian());
            adv[i] = (float) rnd.nextGaussian();
            ones[i] = 1f;
        }
        String shape = b + "x" + t;
        double gb = 4.0 * b * t * 4 / 1e9; // four [B,T] float streams (inputs + gradient)
        try (Scope s = new Scope()) {
            Tensor tNew = s.of(device, x, b, t), tOld = s.of(device, y, b, t), tAdv = s.of(device, adv, b, t),
                    mask = s.of(device, ones, b, t), grad = s.empty(device, DType.F32, b, t),
                    out2 = s.empty(device, DType.F32, b, t);
            row("ppo policy loss", shape, medianMs(() -> PolicyLoss.compute(tNew, tOld, tAdv, mask,
                    PolicyLoss.Config.DEFAULT, grad), reps), gb);
            row("ppo value loss", shape, medianMs(() -> ValueLoss.compute(tNew, tOld, tAdv, mask,
                    ValueLoss.Config.DEFAULT, grad), reps), gb);
            row("gae", shape, medianMs(() -> Gae.compute(tAdv, tOld, mask, 1f, 0.95f, grad, out2), reps), 5.0 * b * t * 4 / 1e9);
            row("whiten", shape, medianMs(() -> Whiten.apply(tAdv, mask, true, grad), reps), 3.0 * b * t * 4 / 1e9);
            float[] c = new float[pairs], r = new float[pairs];
            for (int i = 0; i < pairs; i++) {
                c[i] = (float) (-100 * rnd.nextDouble());
                r[i] = (float) (-100 * rnd.nextDouble());
            }
            Tensor tc = s.of(device, c), tr = s.of(device, r), dc = s.empty(device, DType.F32, pairs),
                    dr = s.empty(device, DType.F32, pairs), l = s.empty(device, DType.F32, pairs),
                    rc = s.empty(device, DType.F32, pairs), rr = s.empty(device, DType.F32, pairs);
            row("dpo sigmoid loss", String.valueOf(pairs), medianMs(() -> PreferenceLoss.compute(tc, tr, tr, tc, null, null,
                    PreferenceLoss.Config.dpo(), dc, dr, l, rc, rr), reps), 6.0 * pairs * 4 / 1e9);
        }
    }

    private void row(String kernel, String shape, double ms, double gb) {
        out.printf(Locale.ROOT, "  %-40s %-12s %9.3f ms  %7.1f GB/s%n", kernel, shape, ms, gb / (ms / 1e3));
    }
}
