package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static dev.align4j.kernels.SeqReduceTest.gaussian;
import static dev.align4j.kernels.SeqReduceTest.mask;
import static dev.align4j.testing.Close.poisoned;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.reference.KlShapingReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import java.util.Random;
import org.junit.jupiter.api.Test;

class KlShapingTest {
    static final int EOS = 7;

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        SeqReduceTest.sweep(seed, (b, t, kind, tag) -> runCase(rnd, device, b, t, kind, tag));
        // Every estimator, with and without scores, tokens and the EOS check, on one awkward shape.
        for (KlShaping.Estimator est : KlShaping.Estimator.values())
            for (int opt = 0; opt < 4; opt++) {
                KlShaping.Config c = new KlShaping.Config(0.1f, est, (opt & 1) != 0 ? EOS : -1, (opt & 1) != 0 ? 1.5f : 0f);
                runCase(rnd, device, 6, 45, 4, c, (opt & 2) != 0, (opt & 1) != 0 || rnd.nextBoolean(),
                        "seed " + seed + " " + c + " scores " + ((opt & 2) != 0));
            }
    }

    public static void fuzzCase(Random rnd, Device device) {
        int b = rnd.nextInt(7);
        int t = 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 300);
        runCase(rnd, device, b, t, rnd.nextInt(SeqReduceTest.MASK_KINDS), "fuzz B=" + b + " T=" + t);
    }

    static void runCase(Random rnd, Device device, int b, int t, int kind, String tag) {
        KlShaping.Estimator est = KlShaping.Estimator.values()[rnd.nextInt(3)];
        boolean eos = rnd.nextBoolean();
        float beta = rnd.nextInt(5) == 0 ? 0.0f : 0.2f * rnd.nextFloat();
        KlShaping.Config c = new KlShaping.Config(beta, est, eos ? EOS : -1, eos ? 2 * rnd.nextFloat() : 0f);
        runCase(rnd, device, b, t, kind, c, rnd.nextInt(4) != 0, eos || rnd.nextBoolean(), tag + " " + c);
    }

    static void runCase(Random rnd, Device device, int b, int t, int kind, KlShaping.Config c, boolean withScores,
                        boolean withTokens, String tag) {
        float[] ref = new float[b * t];
        float[] old = new float[b * t];
        float[] d = gaussian(rnd, b * t, 0.4, 0.0);
        for (int i = 0; i < old.length; i++) {
            old[i] = -0.01f - 2.0f * (float) Math.abs(rnd.nextGaussian());
            ref[i] = old[i] - d[i];
        }
        float[] m = mask(rnd, b, t, kind);
        float[] scores = withScores ? gaussian(rnd, b, 2.0, 0.0) : null;
        int[] tokens = null;
        if (withTokens) {
            tokens = new int[b * t];
            for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(3) == 0 ? EOS : rnd.nextInt(50);
        }
        KlShapingReference.Out want = KlShapingReference.compute(old, ref, m, scores, tokens, b, t, c.beta(),
                c.estimator().ordinal() + 1, c.eosId(), c.missingEosPenalty());
        try (Scope s = new Scope()) {
            Tensor rewards = poisoned(s, device, b, t);
            Tensor kl = poisoned(s, device, b, t);
            int empty = KlShaping.compute(s.of(device, old, b, t), s.of(device, ref, b, t), s.of(device, m, b, t),
                    scores == null ? null : s.of(device, scores, b), tokens == null ? null : s.of(device, tokens, b, t), c,
                    rewards, kl);
            assertEquals(want.rowsWithoutResponse(), empty, tag + " rowsWithoutResponse");
            Close.assertClose(tag + " kl", want.kl(), kl.toFloatArray(), 1e-6, 1e-5);
            Close.assertClose(tag + " rewards", want.rewards(), rewards.toFloatArray(), 1e-6, 1e-5);
        }
    }

    @Test
    void scoreGoesToTheLastMaskedTokenAndEmptyRowsAreCounted() {
        // Row 0: response at t = 1..2 then padding; row 1: no response; row 2: non-contiguous, last at t = 3.
        float[] m = {0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1};
        float[] old = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
        int[] tokens = {5, 5, 7, 0, 5, 5, 5, 5, 5, 5, 5, 5};
        KlShaping.Shaped r = KlShaping.compute(old, old, m, new float[] {1, 2, 3}, tokens, 3,
                KlShaping.Config.defaults().withMissingEos(7, 0.5f));
        Close.assertClose("rewards", new double[] {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2.5}, r.rewards(), 0, 0);
        assertEquals(1, r.rowsWithoutResponse());
        KlShaping.Config d = KlShaping.Config.defaults();
        assertEquals(0.05f, d.beta());
        assertEquals(KlShaping.Estimator.K1, d.estimator());
        assertEquals(-1, d.eosId());
        assertEquals(0f, d.missingEosPenalty());
        try (Scope s = new Scope()) {  // the Scope overload
            Device cpu = Device.cpu();
            KlShaping.Result res = KlShaping.compute(s, s.of(cpu, new float[] {-1, -2}, 1, 2),
                    s.of(cpu, new float[] {-1.5f, -1}, 1, 2), s.of(cpu, new float[] {1, 1}, 1, 2), null, null,
                    d.withBeta(1).withEstimator(KlShaping.Estimator.K2));
            Close.assertClose("k2", new double[] {0.125, 0.5}, res.kl().toFloatArray(), 1e-7, 0);
            Close.assertClose("k2 rewards", new double[] {-0.125, -0.5}, res.rewards().toFloatArray(), 1e-7, 0);
        }
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        KlShaping.Config c = KlShaping.Config.defaults();
        assertThrowsNaming("beta", () -> c.withBeta(-0.1f));
        assertThrowsNaming("beta", () -> c.withBeta(Float.NaN));
        assertThrowsNaming("beta", () -> c.withBeta(Float.POSITIVE_INFINITY));
        assertThrowsNaming("estimator", () -> c.withEstimator(null));
        assertThrowsNaming("eosId", () -> c.withMissingEos(-2, 1));
        assertThrowsNaming("missingEosPenalty", () -> c.withMissingEos(3, -1));
        assertThrowsNaming("missingEosPenalty", () -> c.withMissingEos(3, Float.NaN));
        try (Scope s = new Scope()) {
            Random rnd = new Random(5);
            Tensor old = s.of(cpu, gaussian(rnd, 6, 1, -2), 2, 3);
            Tensor ref = s.of(cpu, gaussian(rnd, 6, 1, -2), 2, 3);
            Tensor m = s.of(cpu, new float[] {1, 1, 0, 0, 1, 1}, 2, 3);
            Tensor sc = s.of(cpu, new float[] {1, 2});
            Tensor tok = s.of(cpu, new int[] {1, 2, 3, 4, 5, 6}, 2, 3);
            assertThrowsNaming("logpOld", () -> KlShaping.compute(s, null, ref, m, sc, tok, c));
            assertThrowsNaming("logpOld", () -> KlShaping.compute(s, s.of(cpu, new float[6]), ref, m, sc, tok, c));
            assertThrowsNaming("logpRef", () -> KlShaping.compute(s, old, s.of(cpu, new float[4], 2, 2), m, sc, tok, c));
            assertThrowsNaming("logpRef", () -> KlShaping.compute(s, old, null, m, sc, tok, c));
            assertThrowsNaming("mask", () -> KlShaping.compute(s, old, ref, null, sc, tok, c));
            assertThrowsNaming("mask[3]", () -> KlShaping.compute(s, old, ref, s.of(cpu, new float[] {1, 1, 0, -1, 1, 1}, 2, 3), sc, tok, c));
            assertThrowsNaming("scores", () -> KlShaping.compute(s, old, ref, m, s.of(cpu, new float[3]), tok, c));
            assertThrowsNaming("scores[1]", () -> KlShaping.compute(s, old, ref, m, s.of(cpu, new float[] {1, Float.NaN}), tok, c));
            assertThrowsNaming("tokens", () -> KlShaping.compute(s, old, ref, m, sc, s.of(cpu, new float[6], 2, 3), c));
            assertThrowsNaming("tokens", () -> KlShaping.compute(s, old, ref, m, sc, s.of(cpu, new int[3], 1, 3), c));
            assertThrowsNaming("tokens[2]", () -> KlShaping.compute(s, old, ref, m, sc, s.of(cpu, new int[] {1, 2, -3, 4, 5, 6}, 2, 3), c));
            assertThrowsNaming("tokens", () -> KlShaping.compute(s, old, ref, m, sc, null, c.withMissingEos(2, 1)));
            assertThrowsNaming("config", () -> KlShaping.compute(s, old, ref, m, sc, tok, null));
            assertThrowsNaming("logpOld[5]", () -> KlShaping.compute(s, s.of(cpu, new float[] {1, 1, 1, 1, 1, Float.NEGATIVE_INFINITY}, 2, 3), ref, m, sc, tok, c));
            assertThrowsNaming("logpRef[0]", () -> KlShaping.compute(s, old, s.of(cpu, new float[] {Float.NaN, 1, 1, 1, 1, 1}, 2, 3), m, sc, tok, c));
            Tensor out = s.empty(cpu, DType.F32, 2, 3);
            assertThrowsNaming("rewards", () -> KlShaping.compute(old, ref, m, sc, tok, c, s.empty(cpu, DType.F32, 3, 2), out));
            assertThrowsNaming("kl", () -> KlShaping.compute(old, ref, m, sc, tok, c, out, null));
            assertThrowsNaming("kl", () -> KlShaping.compute(old, ref, m, sc, tok, c, out, out));
            assertThrowsNaming("logpRef", () -> KlShaping.compute(new float[6], new float[5], new float[6], null, null, 2, c));
            assertThrowsNaming("scores", () -> KlShaping.compute(new float[6], new float[6], new float[6], new float[3], null, 2, c));
            assertThrowsNaming("tokens", () -> KlShaping.compute(new float[6], new float[6], new float[6], null, new int[5], 2, c));
        }
    }
}
