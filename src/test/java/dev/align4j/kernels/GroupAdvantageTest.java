package dev.align4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.kernels.GroupAdvantage.Scale;
import dev.align4j.reference.GroupAdvantageReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.Rand;
import java.util.Random;
import org.junit.jupiter.api.Test;

public class GroupAdvantageTest {
    /** Kinds of reward: Gaussian, verifiable 0/1 (many all-equal groups), a large offset, all equal, huge spread. */
    enum Kind { NORMAL, BINARY, OFFSET, EQUAL, WIDE }

    static float[] rewards(Random rnd, int n, int g, Kind kind) {
        float[] r = new float[n];
        for (int i = 0; i < n; i++)
            r[i] = switch (kind) {
                case NORMAL -> (float) rnd.nextGaussian();
                case BINARY -> rnd.nextDouble() < 0.3 ? 1f : 0f;
                case OFFSET -> (float) (1e4 + rnd.nextGaussian());
                case EQUAL -> 0.1f * (i / g);  // a different value per group, equal inside it
                case WIDE -> (float) (1e3 * rnd.nextGaussian());
            };
        return r;
    }

    /** Runs the kernel on {@code device} into poisoned outputs and checks every output against the reference. */
    static void run(Device device, float[] rewards, int g, Scale scale, float eps, String what) {
        GroupAdvantageReference.Out ref = GroupAdvantageReference.compute(rewards, g, scale.ordinal(), eps);
        int n = rewards.length, groups = n / g;
        float[] adv, mean, std, zero;
        GroupAdvantage.Stats st;
        try (Scope s = new Scope()) {
            Tensor a = Close.poisoned(s, device, n), gm = Close.poisoned(s, device, groups),
                    gs = Close.poisoned(s, device, groups), gz = Close.poisoned(s, device, groups);
            st = GroupAdvantage.compute(s.of(device, rewards, n), g, scale, eps, a, gm, gs, gz);
            adv = a.toFloatArray();
            mean = gm.toFloatArray();
            std = gs.toFloatArray();
            zero = gz.toFloatArray();
        }
        double ascale = 0;
        for (double x : ref.advantages()) ascale = Math.max(ascale, Math.abs(x));
        // One rounding to float of a double result (plus the float mean's, ~2^-24·|mean|/std, for the offset kind).
        Close.assertClose(what + " advantages", ref.advantages(), adv, 1e-6 * ascale + 1e-30, 1e-6);
        Close.assertClose(what + " groupMean", ref.groupMean(), mean, 0, 1e-7);
        Close.assertClose(what + " groupStd", ref.groupStd(), std, 1e-12, 1e-6);
        for (int k = 0; k < groups; k++) {
            assertEquals(ref.groupZeroStd()[k] ? 1f : 0f, zero[k], what + " groupZeroStd[" + k + "]");
            if (ref.groupZeroStd()[k]) {
                assertEquals(0f, std[k], what + " groupStd[" + k + "] of equal rewards is exactly 0");
                for (int j = 0; j < g; j++)
                    assertEquals(0f, adv[k * g + j], what + " advantages[" + (k * g + j) + "] of an equal-reward group");
            }
        }
        Close.assertClose(what + " reward", ref.reward(), st.reward(), 1e-12, 1e-7);
        Close.assertClose(what + " reward_std", ref.rewardStd(), st.rewardStd(), 1e-12, 1e-6);
        Close.assertClose(what + " frac_reward_zero_std", ref.fracRewardZeroStd(), st.fracRewardZeroStd(), 1e-7, 0);
        Close.assertClose(what + " batch std", ref.batchStd(), st.batchStd(), 1e-12, 1e-6);
    }

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int[][] shapes = {{0, 4}, {1, 1}, {5, 1}, {1, 2}, {3, 2}, {5, 8}, {64, 16}, {1, 1000}, {700, 3}, {300, 16}};
        for (int[] gg : shapes)
            for (Scale scale : Scale.values())
                for (Kind kind : Kind.values()) {
                    float eps = rnd.nextInt(4) == 0 ? 0.5f : GroupAdvantage.DEFAULT_EPS;
                    float[] r = rewards(rnd, gg[0] * gg[1], gg[1], kind);
                    run(device, r, gg[1], scale, eps, "seed " + seed + ", groups " + gg[0] + ", G " + gg[1] + ", " + scale
                            + ", " + kind + ", eps " + eps);
                }
    }

    @Test
    void handComputed() {
        // Group 0: {1, 0, 0, 1}: mean 0.5, std √(1/3); group 1: {1, 1, 1, 1}: std 0. Batch: mean 0.75, std √(1.5/7).
        float[] r = {1, 0, 0, 1, 1, 1, 1, 1};
        double s0 = Math.sqrt(1.0 / 3), sb = Math.sqrt(1.5 / 7), e = 1e-4;
        GroupAdvantage.HostResult group = GroupAdvantage.compute(r, 4, Scale.GROUP, GroupAdvantage.DEFAULT_EPS);
        double a = 0.5 / (s0 + e);
        Close.assertClose("GROUP", new double[] {a, -a, -a, a, 0, 0, 0, 0}, group.advantages(), 0, 1e-6);
        Close.assertClose("groupMean", new double[] {0.5, 1}, group.groupMean(), 0, 0);
        Close.assertClose("groupStd", new double[] {s0, 0}, group.groupStd(), 0, 1e-7);
        assertArrayEquals(new boolean[] {false, true}, group.groupZeroStd());
        Close.assertClose("reward", 0.75, group.stats().reward(), 0, 0);
        Close.assertClose("reward_std", s0 / 2, group.stats().rewardStd(), 0, 1e-7);
        Close.assertClose("frac_reward_zero_std", 0.5, group.stats().fracRewardZeroStd(), 0, 0);
        GroupAdvantage.HostResult batch = GroupAdvantage.compute(r, 4, Scale.BATCH, GroupAdvantage.DEFAULT_EPS);
        double b = 0.5 / (sb + e);
        Close.assertClose("BATCH", new double[] {b, -b, -b, b, 0, 0, 0, 0}, batch.advantages(), 0, 1e-6);
        Close.assertClose("BATCH reward_std (TRL: the batch std)", sb, batch.stats().rewardStd(), 0, 1e-7);
        Close.assertClose("BATCH frac_reward_zero_std (TRL: of the batch std)", 0, batch.stats().fracRewardZeroStd(), 0, 0);
        assertArrayEquals(new boolean[] {false, true}, batch.groupZeroStd(), "the groups' own flags at any scale");
        GroupAdvantage.HostResult none = GroupAdvantage.compute(r, 4, Scale.NONE, GroupAdvantage.DEFAULT_EPS);
        Close.assertClose("NONE (Dr. GRPO)", new double[] {0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0}, none.advantages(), 0, 0);
        Close.assertClose("NONE reward_std (TRL: the group std, logged)", s0 / 2, none.stats().rewardStd(), 0, 1e-7);
    }

    @Test
    void oneSamplePerGroup() {
        // G = 1: TRL's guard gives std 0 (torch.std of one value is NaN), so advantages are 0 and every group is flat.
        GroupAdvantage.HostResult r = GroupAdvantage.compute(new float[] {3f, -1f, 7f}, 1, Scale.GROUP, 1e-4f);
        assertArrayEquals(new float[] {0, 0, 0}, r.advantages());
        assertArrayEquals(new float[] {0, 0, 0}, r.groupStd());
        assertArrayEquals(new boolean[] {true, true, true}, r.groupZeroStd());
        assertEquals(1f, r.stats().fracRewardZeroStd());
        Close.assertClose("batch std", 4, r.stats().batchStd(), 0, 1e-7);
        // One reward in all: the batch std is 0 too.
        GroupAdvantage.HostResult one = GroupAdvantage.compute(new float[] {2f}, 1, Scale.BATCH, 1e-4f);
        assertArrayEquals(new float[] {0}, one.advantages());
        assertEquals(0f, one.stats().batchStd());
        assertEquals(1f, one.stats().fracRewardZeroStd());
    }

    @Test
    void inPlace() {
        Random rnd = new Random(System.nanoTime());
        float[] r = rewards(rnd, 48, 8, Kind.NORMAL);
        GroupAdvantage.HostResult expected = GroupAdvantage.compute(r, 8, Scale.GROUP, 1e-4f);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(cpu, r, 48);
            GroupAdvantage.compute(x, 8, Scale.GROUP, 1e-4f, x, s.empty(cpu, DType.F32, 6), s.empty(cpu, DType.F32, 6),
                    s.empty(cpu, DType.F32, 6));
            assertArrayEquals(expected.advantages(), x.toFloatArray());
        }
    }

    @Test
    void resultIsOwnedByTheCallersScope() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor x = s.of(cpu, new float[] {1, 2, 3, 4}, 4);
            int before = s.liveCount();
            try (GroupAdvantage.Result r = GroupAdvantage.compute(s, x, 2, Scale.GROUP, 1e-4f)) {
                assertEquals(before + 4, s.liveCount(), "advantages and the three per-group outputs");
                assertEquals(2, r.groupMean().dim(0));
            }
            assertEquals(before, s.liveCount());
        }
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor r = s.of(cpu, Rand.filled(8, 1f), 8);
            Tensor a = s.empty(cpu, DType.F32, 8), g2 = s.empty(cpu, DType.F32, 2), g2b = s.empty(cpu, DType.F32, 2),
                    g2c = s.empty(cpu, DType.F32, 2);
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "rewards[5]", () -> GroupAdvantage.compute(
                    s.of(cpu, new float[] {0, 1, 0, 1, 0, Float.NaN, 1, 1}, 8), 4, Scale.GROUP, 1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "rewards[0]", () -> GroupAdvantage.compute(
                    s.of(cpu, new float[] {Float.NEGATIVE_INFINITY, 1, 0, 1, 0, 0, 1, 1}, 8), 4, Scale.NONE, 1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "multiple of g",
                    () -> GroupAdvantage.compute(r, 3, Scale.GROUP, 1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "num_generations",
                    () -> GroupAdvantage.compute(r, 0, Scale.GROUP, 1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "rewards",
                    () -> GroupAdvantage.compute(s.of(cpu, Rand.filled(8, 1f), 2, 4), 4, Scale.GROUP, 1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "rewards",
                    () -> GroupAdvantage.compute(s.empty(cpu, DType.I32, 8).zero(), 4, Scale.GROUP, 1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "scale",
                    () -> GroupAdvantage.compute(r, 4, null, 1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "eps",
                    () -> GroupAdvantage.compute(r, 4, Scale.GROUP, -1e-4f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "eps",
                    () -> GroupAdvantage.compute(r, 4, Scale.GROUP, Float.NaN, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "eps",
                    () -> GroupAdvantage.compute(r, 4, Scale.NONE, 0f, a, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "advantages",
                    () -> GroupAdvantage.compute(r, 4, Scale.GROUP, 1e-4f, g2, g2, g2b, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "groupStd",
                    () -> GroupAdvantage.compute(r, 4, Scale.GROUP, 1e-4f, a, g2, a, g2c));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "groupZeroStd must not be groupMean",
                    () -> GroupAdvantage.compute(r, 4, Scale.GROUP, 1e-4f, a, g2, g2b, g2));
            PolicyLossTest.throwsNaming(IllegalArgumentException.class, "groupMean",
                    () -> GroupAdvantage.compute(r, 4, Scale.GROUP, 1e-4f, a, null, g2b, g2c));
            Tensor closed = s.of(cpu, Rand.filled(8, 1f), 8);
            closed.close();
            PolicyLossTest.throwsNaming(IllegalStateException.class, "rewards",
                    () -> GroupAdvantage.compute(s, closed, 4, Scale.GROUP, 1e-4f));
        }
        PolicyLossTest.throwsNaming(IllegalArgumentException.class, "rewards",
                () -> GroupAdvantage.compute((float[]) null, 4, Scale.GROUP, 1e-4f));
    }

    /** One random case for the central FuzzTest. */
    public static void fuzzCase(Random rnd, Device device) {
        long seed = rnd.nextLong();
        Random r = new Random(seed);
        int g = 1 + r.nextInt(17), groups = r.nextInt(40);
        Kind kind = Kind.values()[r.nextInt(Kind.values().length)];
        Scale scale = Scale.values()[r.nextInt(3)];
        run(device, rewards(r, groups * g, g, kind), g, scale, r.nextBoolean() ? 1e-4f : 0.5f,
                "fuzz seed " + seed + ", groups " + groups + ", G " + g + ", " + scale + ", " + kind);
    }
}
