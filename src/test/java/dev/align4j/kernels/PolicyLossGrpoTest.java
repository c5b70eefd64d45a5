package dev.align4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.kernels.PolicyLoss.Aggregation;
import dev.align4j.kernels.PolicyLoss.Config;
import dev.align4j.kernels.PolicyLoss.Level;
import dev.align4j.kernels.PolicyLoss.LossType;
import dev.align4j.reference.PolicyLossReference;
import dev.align4j.rl.PpoConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.Rand;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The policy loss's GRPO side (PolicyLossTest covers PPO's and is unchanged): sequence-level ratios (GSPO),
 * per-sequence advantages, TRL's four loss types, the k3 KL to a reference and the clip-ratio metrics, each against
 * {@link PolicyLossReference#general} in double, with finite differences of every gradient for every (level × loss
 * type × β) combination.
 */
public class PolicyLossGrpoTest {
    /** One random batch; ratios keep away from the clip and cap boundaries so that branches are unambiguous. */
    record Case(int b, int t, float[] logpNew, float[] logpOld, float[] logpRef, float[] adv, float[] mask,
                Config config, double dapoNormalizer) {

        /**
         * @param advScale  the advantages' scale (1e3 for large |A|)
         * @param perToken  advantages [B, T] (else [B])
         */
        static Case draw(Random rnd, int b, int t, Config config, boolean perToken, double maskP, boolean emptyRows,
                         double advScale) {
            int n = b * t;
            float[] lnew = new float[n], lold = new float[n], lref = new float[n], mask = new float[n];
            for (int i = 0; i < n; i++) mask[i] = rnd.nextDouble() < maskP ? 1f : 0f;
            if (emptyRows)
                for (int r = 0; r < b; r += 3) Arrays.fill(mask, r * t, (r + 1) * t, 0f);
            boolean seq = config.level() == Level.SEQUENCE;
            // GSPO clips a length-normalised ratio with eps ~1e-4: its rows' mean log-ratio spreads about ±3 eps.
            double rowSpread = 3 * Math.max(config.epsLow(), config.epsHigh()) + 1e-4;
            for (int r = 0; r < b; r++) {
                do {
                    for (int j = 0; j < t; j++) {
                        int i = r * t + j;
                        lold[i] = (float) (-0.05 - 3 * Math.abs(rnd.nextGaussian()));
                        lnew[i] = (float) (lold[i] + (seq ? rowSpread * rnd.nextGaussian() : 0.3 * rnd.nextGaussian()));
                    }
                } while (nearBoundary(lnew, lold, mask, r, t, config));
            }
            for (int i = 0; i < n; i++) {
                // u = ℓ_ref − ℓ_new: 0 exactly, inside the series range, and beyond it
                double kind = rnd.nextDouble();
                lref[i] = kind < 0.1 ? lnew[i] : (float) (lnew[i] + (kind < 0.6 ? 0.2 : 1.0) * rnd.nextGaussian());
            }
            float[] adv = new float[perToken ? n : b];
            for (int i = 0; i < adv.length; i++) adv[i] = (float) (advScale * rnd.nextGaussian());
            double tokens = 0;
            for (float m : mask) tokens += m;
            // DAPO: the tokens of a generation batch of which this is one minibatch
            double dapo = Math.max(1, Math.round(tokens * (1 + 3 * rnd.nextDouble())));
            return new Case(b, t, lnew, lold, config.beta() > 0 || rnd.nextBoolean() ? lref : null, adv, mask, config, dapo);
        }

        /** Whether a ratio of row r is within a margin of a clip or cap boundary (token level: each token's). */
        static boolean nearBoundary(float[] lnew, float[] lold, float[] mask, int r, int t, Config c) {
            double[] rhos;
            double tol;
            if (c.level() == Level.SEQUENCE) {
                double sum = 0, count = 0;
                for (int j = 0; j < t; j++) {
                    sum += mask[r * t + j] * ((double) lnew[r * t + j] - lold[r * t + j]);
                    count += mask[r * t + j];
                }
                rhos = new double[] {Math.exp(sum / Math.max(count, 1))};
                tol = 0.05 * Math.min(c.epsLow(), c.epsHigh()) + 1e-6;
            } else {
                rhos = new double[t];
                for (int j = 0; j < t; j++) rhos[j] = Math.exp((double) lnew[r * t + j] - lold[r * t + j]);
                tol = 1e-3;
            }
            for (double rho : rhos)
                if (Math.abs(rho - (1 - (double) c.epsLow())) < tol || Math.abs(rho - (1 + (double) c.epsHigh())) < tol
                        || (c.dualClipEnabled() && Math.abs(rho - c.dualClip()) < tol))
                    return true;
            return false;
        }

        PolicyLossReference.Options options() {
            int agg = switch (config.effectiveLossType()) {
                case BNPO -> 0;
                case GRPO -> 1;
                case DR_GRPO -> 2;
                case DAPO -> 3;
            };
            double norm = agg == 2 ? (double) Math.max(b, 1) * config.maxCompletionLength() : agg == 3 ? dapoNormalizer : 0;
            return new PolicyLossReference.Options(config.level().ordinal(), config.epsLow(), config.epsHigh(),
                    config.dualClipEnabled() ? config.dualClip() : 0, config.beta(), agg, norm);
        }

        PolicyLossReference.Full reference() {
            return PolicyLossReference.general(d(logpNew), d(logpOld), logpRef == null ? null : d(logpRef), d(adv),
                    d(mask), b, t, options());
        }

        String describe(long seed) {
            return "seed " + seed + ", B=" + b + ", T=" + t + ", adv " + (adv.length == b * t && t > 1 ? "[B,T]" : "[B]")
                    + ", " + config + (config.effectiveLossType() == LossType.DAPO ? ", dapo norm " + dapoNormalizer : "");
        }
    }

    static double[] d(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i];
        return y;
    }

    /** The kernel on {@code device} (into a poisoned gradient): stats and gradient. */
    record Got(PolicyLoss.Stats stats, float[] grad) {}

    static Got kernel(Device device, Case c) {
        try (Scope s = new Scope()) {
            Tensor dlogp = s.of(device, Rand.filled(c.b * c.t, Close.POISON), c.b, c.t);
            Tensor adv = c.adv.length == c.b * c.t ? s.of(device, c.adv, c.b, c.t) : s.of(device, c.adv, c.b);
            PolicyLoss.Stats st = PolicyLoss.compute(s.of(device, c.logpNew, c.b, c.t), s.of(device, c.logpOld, c.b, c.t),
                    c.logpRef == null ? null : s.of(device, c.logpRef, c.b, c.t), adv, s.of(device, c.mask, c.b, c.t),
                    c.config, c.dapoNormalizer, dlogp);
            return new Got(st, dlogp.toFloatArray());
        }
    }

    /** Runs the kernel and checks it against the reference, with central differences at sampled tokens. */
    static void run(Device device, Case c, String what, int fdSamples, Random rnd) {
        PolicyLossReference.Full ref = c.reference();
        Got got = kernel(device, c);
        PolicyLoss.Stats st = got.stats();
        double gscale = 0;
        for (double g : ref.dlogpNew()) gscale = Math.max(gscale, Math.abs(g));
        double lscale = Math.abs(ref.loss()) + 1e-300, amax = 0;
        for (float a : c.adv) amax = Math.max(amax, Math.abs(a));
        // the loss is a mean of terms of size ~|A|·ρ that may cancel: float rounding of ρ (~1e-7 relative, at a
        // ratio of GSPO's 1 ± 4e-4) is absolute in |A|, not in the small mean (seen: 4.5e-6 at |A| ~ 1e3, loss 1.1e-3)
        Close.assertClose(what + " loss", ref.loss(), st.loss(), 1e-6 + 1e-6 * lscale + 2e-8 * amax, 1e-5);
        Close.assertClose(what + " clipfrac", ref.clipFrac(), st.clipFrac(), 1e-6, 1e-6);
        Close.assertClose(what + " approxkl k1", ref.approxKlK1(), st.approxKlK1(), 1e-6, 1e-5);
        Close.assertClose(what + " approxkl k3", ref.approxKlK3(), st.approxKlK3(), 1e-6, 1e-4);
        Close.assertClose(what + " dualclipfrac", ref.dualClipFrac(), st.dualClipFrac(), 1e-6, 1e-6);
        Close.assertClose(what + " kl", ref.kl(), st.kl(), 1e-7, 1e-5);
        Close.assertClose(what + " clip_ratio/low_mean", ref.clipLow(), st.clipRatioLowMean(), 1e-6, 1e-6);
        Close.assertClose(what + " clip_ratio/high_mean", ref.clipHigh(), st.clipRatioHighMean(), 1e-6, 1e-6);
        Close.assertClose(what + " clip_ratio/region_mean", ref.clipLow() + ref.clipHigh(), st.clipRatioRegionMean(), 1e-6, 1e-6);
        assertEquals(ref.tokens(), st.tokens(), what + " tokens");
        Close.assertClose(what + " dlogpNew", ref.dlogpNew(), got.grad(), 1e-6 * gscale + 1e-12, 1e-5);
        for (int i = 0; i < got.grad().length; i++)
            if (c.mask[i] == 0) assertEquals(0f, got.grad()[i], what + " dlogpNew[" + i + "] off the mask");
        checkFiniteDifferences(c, got.grad(), gscale, what, fdSamples, rnd);
    }

    /** Central differences of the reference loss at sampled tokens (masked-out ones included), against the kernel. */
    static void checkFiniteDifferences(Case c, float[] grad, double gscale, String what, int samples, Random rnd) {
        int n = c.b * c.t;
        if (n == 0) return;
        double[] lnew = d(c.logpNew), lold = d(c.logpOld), lref = c.logpRef == null ? null : d(c.logpRef), adv = d(c.adv),
                mask = d(c.mask);
        PolicyLossReference.Options o = c.options();
        double h = 1e-5;
        for (int k = 0; k < Math.min(samples, n); k++) {
            int i = samples >= n ? k : rnd.nextInt(n);
            double x = lnew[i];
            lnew[i] = x + h;
            double up = PolicyLossReference.generalLoss(lnew, lold, lref, adv, mask, c.b, c.t, o);
            lnew[i] = x - h;
            double down = PolicyLossReference.generalLoss(lnew, lold, lref, adv, mask, c.b, c.t, o);
            lnew[i] = x;
            Close.assertClose(what + " finite difference dlogpNew[" + i + "]", (up - down) / (2 * h), grad[i],
                    1e-6 * gscale + 1e-9, 1e-4);
        }
    }

    /** A GRPO config: GSPO's small eps at sequence level, clip-higher sometimes, dual clip sometimes. */
    static Config config(Random rnd, Level level, LossType type, float beta, int t) {
        Config c = level == Level.SEQUENCE ? Config.DEFAULT.withEps(3e-4f, 4e-4f)
                : Config.DEFAULT.withEps(0.2f, rnd.nextBoolean() ? 0.2f : 0.28f);
        if (rnd.nextInt(3) == 0) c = c.withDualClip(1.5f + 2 * rnd.nextFloat());
        return c.withLevel(level).withLossType(type).withBeta(beta).withMaxCompletionLength(t + rnd.nextInt(4));
    }

    @DeviceTest
    void everyVariantAgainstTheReference(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int[][] shapes = {{0, 5}, {1, 1}, {1, 7}, {3, 1}, {5, 37}, {8, 64}, {2, 300}};
        for (Level level : Level.values())
            for (LossType type : LossType.values())
                for (float beta : new float[] {0f, 0.04f}) {
                    for (int[] bt : shapes) {
                        boolean perToken = rnd.nextBoolean();
                        Config config = config(rnd, level, type, beta, bt[1]);
                        Case c = Case.draw(rnd, bt[0], bt[1], config, perToken, 0.8, rnd.nextBoolean(), 1);
                        run(device, c, c.describe(seed), 24, rnd);
                    }
                    // Large |A| (rewards of a wide range, Dr. GRPO's unscaled advantages)
                    Case big = Case.draw(rnd, 6, 40, config(rnd, level, type, beta, 40), rnd.nextBoolean(), 0.9, true, 1e3);
                    run(device, big, big.describe(seed) + ", |A| ~ 1e3", 12, rnd);
                }
        // Nothing masked anywhere: loss, metrics and gradient are all 0.
        for (Level level : Level.values())
            for (LossType type : LossType.values()) {
                Case none = Case.draw(rnd, 3, 9, config(rnd, level, type, 0.1f, 9), true, 0.0, false, 1);
                run(device, none, none.describe(seed) + ", no tokens", 5, rnd);
            }
        // A GRPO-sized batch: 64 prompts × 8 completions of 512 tokens, per-sequence advantages.
        Case large = Case.draw(rnd, 512, 512, config(rnd, Level.values()[rnd.nextInt(2)],
                LossType.values()[rnd.nextInt(4)], 0.04f, 512), false, 0.7, true, 1);
        run(device, large, large.describe(seed) + ", large", 16, rnd);
    }

    /**
     * The trainer's on-policy property: with logpNew == logpOld bit for bit the ratio is exactly 1.0f at both levels,
     * so even a zero clip range clips nothing, and the gradient is exactly −A times the float normaliser.
     */
    @DeviceTest
    void ratioIsExactlyOneOnPolicy(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int b = 16, t = 33;
        float[] logp = new float[b * t];
        for (int i = 0; i < logp.length; i++) logp[i] = (float) (-20 * rnd.nextDouble());
        float[] mask = Rand.mask(rnd, b * t, 0.8);
        mask[0] = 1;
        float[] adv = new float[b];
        for (int r = 0; r < b; r++) adv[r] = (float) rnd.nextGaussian();
        double norm = 1000 + rnd.nextInt(1000);
        for (Level level : Level.values()) {
            Config config = Config.DEFAULT.withEps(0f, 0f).withLevel(level).withLossType(LossType.DAPO);
            Case c = new Case(b, t, logp, logp.clone(), null, adv, mask, config, norm);
            Got got = kernel(device, c);
            String what = "seed " + seed + ", " + level;
            assertEquals(0f, got.stats().clipRatioRegionMean(), what + ": clip_ratio/region_mean with ratio 1");
            assertEquals(0f, got.stats().clipFrac(), what + ": clipfrac with ratio 1");
            assertEquals(0f, got.stats().approxKlK1(), what + ": approxkl k1");
            assertEquals(0f, got.stats().approxKlK3(), what + ": approxkl k3");
            float scale = (float) (1.0 / norm);
            for (int i = 0; i < b * t; i++)
                assertEquals(mask[i] == 0 ? 0f : -adv[i / t] * scale, got.grad()[i], what + ": dlogpNew[" + i + "] = −A·ρ/norm, ρ = 1");
        }
    }

    @DeviceTest
    void perSequenceAdvantagesEqualBroadcastOnes(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int b = 6, t = 21;
        for (Level level : Level.values()) {
            Config config = config(rnd, level, LossType.values()[rnd.nextInt(4)], 0.04f, t);
            Case c = Case.draw(rnd, b, t, config, false, 0.8, true, 1);
            float[] broadcast = new float[b * t];
            for (int i = 0; i < broadcast.length; i++) broadcast[i] = c.adv[i / t];
            Got seq = kernel(device, c);
            Got tok = kernel(device, new Case(b, t, c.logpNew, c.logpOld, c.logpRef, broadcast, c.mask, config, c.dapoNormalizer));
            assertArrayEquals(tok.grad(), seq.grad(), "seed " + seed + ", " + level + ": dlogpNew");
            assertEquals(tok.stats(), seq.stats(), "seed " + seed + ", " + level + ": stats");
        }
    }

    /** β = 0 reads no reference: a null logpRef and one full of NaN give the same result. */
    @Test
    void noReferenceIsReadWithoutBeta() {
        Random rnd = new Random(System.nanoTime());
        Case c = Case.draw(rnd, 3, 8, config(rnd, Level.TOKEN, LossType.GRPO, 0f, 8), true, 0.9, false, 1);
        float[] nan = Rand.filled(24, Float.NaN);
        PolicyLoss.HostResult a = PolicyLoss.compute(c.logpNew, c.logpOld, null, c.adv, c.mask, 3, 8, c.config, 0);
        PolicyLoss.HostResult b = PolicyLoss.compute(c.logpNew, c.logpOld, nan, c.adv, c.mask, 3, 8, c.config, 0);
        assertArrayEquals(a.dlogpNew(), b.dlogpNew());
        assertEquals(a.stats(), b.stats());
        assertEquals(0f, a.stats().kl());
    }

    /** PPO's calls are the general loss at token level, β = 0, with the mean aggregations; the old reference agrees. */
    @Test
    void generalReferenceMatchesPpoAtTokenLevel() {
        Random rnd = new Random(System.nanoTime());
        for (Aggregation agg : Aggregation.values()) {
            Config config = Config.DEFAULT.withEps(0.2f, 0.28f).withDualClip(2.5f).withAggregation(agg);
            Case c = Case.draw(rnd, 5, 17, config, true, 0.8, true, 1);
            PolicyLossReference.Full full = c.reference();
            PolicyLossReference.Out ppo = PolicyLossReference.compute(d(c.logpNew), d(c.logpOld), d(c.adv), d(c.mask), 5, 17,
                    0.2f, 0.28f, 2.5f, agg.ordinal());
            Close.assertClose(agg + " loss", ppo.loss(), full.loss(), 1e-12, 1e-12);
            for (int i = 0; i < 5 * 17; i++)
                Close.assertClose(agg + " dlogpNew[" + i + "]", ppo.dlogpNew()[i], full.dlogpNew()[i], 1e-12, 1e-12);
            // and the kernel's PPO entry point gives the general one's result bit for bit
            PolicyLoss.HostResult old = PolicyLoss.compute(c.logpNew, c.logpOld, c.adv, c.mask, 5, 17, config);
            PolicyLoss.HostResult general = PolicyLoss.compute(c.logpNew, c.logpOld, null, c.adv, c.mask, 5, 17, config, 0);
            assertArrayEquals(old.dlogpNew(), general.dlogpNew());
        }
    }

    @Test
    void handComputedGspoAndKl() {
        // One row of two tokens, ℓ_new − ℓ_old = 0.1 and 0.3: s = e^{0.2}; A = 1 (per sequence), eps 0.3 both sides
        // (no clip); β = 0.5 with ℓ_ref = ℓ_new at token 0 (k3 = 0) and ℓ_ref = ℓ_new + 1 at token 1 (k3 = e − 2).
        float[] lold = {-1f, -2f};
        float[] lnew = {-0.9f, -1.7f};
        float[] lref = {-0.9f, -0.7f};
        Config config = Config.DEFAULT.withEps(0.3f).withLevel(Level.SEQUENCE).withBeta(0.5f).withLossType(LossType.GRPO);
        PolicyLoss.HostResult r = PolicyLoss.compute(lnew, lold, lref, new float[] {1f}, new float[] {1f, 1f}, 1, 2, config, 0);
        double s = Math.exp(((double) lnew[0] - lold[0] + (double) lnew[1] - lold[1]) / 2);
        double k3 = Math.exp((double) lref[1] - lnew[1]) - ((double) lref[1] - lnew[1]) - 1;
        Close.assertClose("loss", (-s + -s + 0.5 * k3) / 2, r.stats().loss(), 1e-6, 1e-6);
        Close.assertClose("kl", k3 / 2, r.stats().kl(), 1e-7, 1e-6);
        // ∂/∂ℓ_t of the mean of −s over the row: −s/2 (each token's −s·(1/2) summed over the two tokens, halved);
        // the KL adds β·(1 − e^u)/2 at token 1.
        Close.assertClose("dlogpNew[0]", -s / 2, r.dlogpNew()[0], 1e-6, 1e-6);
        Close.assertClose("dlogpNew[1]", -s / 2 + 0.5 * (1 - Math.exp((double) lref[1] - lnew[1])) / 2, r.dlogpNew()[1],
                1e-6, 1e-6);
        // Dr. GRPO with max length 4 divides the same token sum by 1·4 instead of 2.
        PolicyLoss.HostResult dr = PolicyLoss.compute(lnew, lold, lref, new float[] {1f}, new float[] {1f, 1f}, 1, 2,
                config.withLossType(LossType.DR_GRPO).withMaxCompletionLength(4), 0);
        Close.assertClose("dr_grpo loss", (-s + -s + 0.5 * k3) / 4, dr.stats().loss(), 1e-6, 1e-6);
    }

    @Test
    void ratiosThatOverflowExp() {
        // ℓ_new − ℓ_old = 100 > ln(FLT_MAX): ρ = +inf. With A > 0 the clip takes it: loss −A·(1 + ε_high), gradient 0,
        // clip_ratio/high 1; with A < 0 and the dual clip the cap −c·A. At sequence level the same through s.
        float[] lold = {-101f, -101f};
        float[] lnew = {-1f, -1f};
        float[] mask = {1f, 1f};
        for (Level level : Level.values()) {
            Config config = Config.DEFAULT.withEps(0.2f, 0.28f).withDualClip(3f).withLevel(level).withLossType(LossType.BNPO);
            PolicyLoss.HostResult r = PolicyLoss.compute(lnew, lold, null, new float[] {2f, -1f}, mask, 2, 1, config, 0);
            Close.assertClose(level + " loss", (-2 * 1.28 + 3) / 2, r.stats().loss(), 1e-6, 1e-6);
            assertArrayEquals(new float[] {0f, 0f}, r.dlogpNew(), level + " dlogpNew");
            Close.assertClose(level + " clip_ratio/high_mean", 0.5, r.stats().clipRatioHighMean(), 0, 0);
            Close.assertClose(level + " clip_ratio/low_mean", 0, r.stats().clipRatioLowMean(), 0, 0);
            Close.assertClose(level + " dualclipfrac", 0.5, r.stats().dualClipFrac(), 0, 0);
            assertEquals(Float.POSITIVE_INFINITY, r.stats().approxKlK3(), level + " approxkl k3 = mean(e^{−d} − 1 + d) overflows");
        }
        // And ρ → 0 (ℓ_new − ℓ_old = −100): A < 0 is clipped below (gradient 0), A > 0 keeps −A·ρ ≈ 0.
        PolicyLoss.HostResult under = PolicyLoss.compute(lold, lnew, null, new float[] {-1f, 1f}, mask, 2, 1,
                Config.DEFAULT.withLossType(LossType.BNPO), 0);
        Close.assertClose("ρ → 0 loss", (0.8 + 0) / 2, under.stats().loss(), 1e-7, 1e-6);
        Close.assertClose("ρ → 0 clip_ratio/low_mean", 0.5, under.stats().clipRatioLowMean(), 0, 0);
    }

    @Test
    void lossTypesAndTheirTrlNames() {
        for (LossType t : LossType.values()) assertEquals(t, LossType.ofTrlName(t.trlName()));
        assertEquals(LossType.DR_GRPO, LossType.ofTrlName("dr-grpo"));
        assertEquals(Aggregation.SEQUENCE_MEAN, Config.DEFAULT.withLossType(LossType.GRPO).aggregation());
        assertEquals(Aggregation.TOKEN_MEAN, Config.DEFAULT.withLossType(LossType.GRPO).withLossType(LossType.BNPO).aggregation());
        assertEquals(LossType.GRPO, Config.DEFAULT.withAggregation(Aggregation.SEQUENCE_MEAN).effectiveLossType());
        assertEquals(null, Config.DEFAULT.withLossType(LossType.DAPO).withAggregation(Aggregation.TOKEN_MEAN).lossType());
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(cpu, Rand.filled(6, -1f), 2, 3);
            Tensor adv = s.of(cpu, Rand.filled(2, 0.5f), 2);
            Tensor m = s.of(cpu, Rand.filled(6, 1f), 2, 3);
            Tensor out = s.of(cpu, Rand.filled(6, 0f), 2, 3);
            Config kl = Config.DEFAULT.withBeta(0.1f);
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "logpRef",
                    () -> PolicyLoss.compute(x, x, null, adv, m, kl, 0, out));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "logpRef",
                    () -> PolicyLoss.compute(x, x, s.of(cpu, Rand.filled(8, -1f), 2, 4), adv, m, kl, 0, out));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "logpRef[3]",
                    () -> PolicyLoss.compute(x, x, s.of(cpu, new float[] {0, 0, 0, Float.NaN, 0, 0}, 2, 3), adv, m, kl, 0, out));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "advantages",
                    () -> PolicyLoss.compute(x, x, null, s.of(cpu, Rand.filled(3, 1f), 3), m, Config.DEFAULT, 0, out));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "advantages[1]",
                    () -> PolicyLoss.compute(x, x, null, s.of(cpu, new float[] {1, Float.POSITIVE_INFINITY}, 2), m,
                            Config.DEFAULT, 0, out));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "maxCompletionLength",
                    () -> PolicyLoss.compute(x, x, null, adv, m, Config.DEFAULT.withLossType(LossType.DR_GRPO), 0, out));
            for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY})
                PolicyLossTest.throwsNaming(IllegalArgumentException.class, "dapoNormalizer",
                        () -> PolicyLoss.compute(x, x, null, adv, m, Config.DEFAULT.withLossType(LossType.DAPO), bad, out));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "logpRef",
                    () -> PolicyLoss.compute(s, x, x, null, adv, m, kl, 0));
        }
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "beta", () -> Config.DEFAULT.withBeta(-0.1f));
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "beta", () -> Config.DEFAULT.withBeta(Float.NaN));
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "level", () -> Config.DEFAULT.withLevel(null));
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "maxCompletionLength",
                () -> Config.DEFAULT.withMaxCompletionLength(-1));
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "lossType",
                () -> new Config(0.2f, 0.2f, 0f, Aggregation.TOKEN_MEAN, Level.TOKEN, 0f, LossType.GRPO, 0));
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "loss_type", () -> LossType.ofTrlName("ppo"));
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "advantages",
                () -> PolicyLoss.compute(new float[4], new float[4], null, new float[3], new float[4], 2, 2, Config.DEFAULT, 0));
        // PPO refuses what needs GRPO's inputs.
        PpoConfig.Objective o = PpoConfig.defaults().objective();
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "lossType", () -> new PpoConfig.Objective(
                o.policyLoss().withLossType(LossType.DAPO), o.valueLoss(), o.vfCoef(), o.entCoef(), o.klLossCoef()));
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "beta", () -> new PpoConfig.Objective(
                o.policyLoss().withBeta(0.1f), o.valueLoss(), o.vfCoef(), o.entCoef(), o.klLossCoef()));
        assertTrue(Config.DEFAULT.level() == Level.TOKEN && Config.DEFAULT.beta() == 0 && Config.DEFAULT.lossType() == null);
    }

    /** One random case for the central FuzzTest: random shape, level, loss type, β and advantage shape. */
    public static void fuzzCase(Random rnd, Device device) {
        long seed = rnd.nextLong();
        Random r = new Random(seed);
        int t = 1 + r.nextInt(70);
        Config config = config(r, Level.values()[r.nextInt(2)], LossType.values()[r.nextInt(4)], r.nextBoolean() ? 0f : 0.1f, t);
        Case c = Case.draw(r, r.nextInt(7), t, config, r.nextBoolean(), 0.2 + 0.8 * r.nextDouble(), r.nextBoolean(),
                r.nextInt(5) == 0 ? 1e3 : 1);
        run(device, c, "fuzz " + c.describe(seed), 4, r);
    }
}
