package dev.align4j.kernels;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.GpuTest;
import java.util.Arrays;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;

/**
 * The codes that the kernel enums pass across JNI, taken by name from native/constants.def, round-trip through
 * the kernels: every enum constant has its native constant and is accepted, and the codes just outside a group
 * are refused by the kernel's own range check, which is written with the same named constants. (That each code
 * selects the right formula is what each kernel's test against its reference checks.) Launches use B = 0: nothing
 * is read, the losses write their stats.
 */
class KernelCodesTest {
    private static final Device CPU = Device.cpu();

    @Test
    void aggregations() {
        aggregations(CPU);
    }

    @Test
    void klEstimators() {
        klEstimators(CPU);
    }

    @Test
    void preferenceTypes() {
        preferenceTypes(CPU);
    }

    @Test
    void checkRules() {
        checkRules(CPU);
    }

    @GpuTest
    void everyGroupOnCuda() {
        Device gpu = Device.cuda(0);
        aggregations(gpu);
        klEstimators(gpu);
        preferenceTypes(gpu);
        checkRules(gpu);
    }

    private static void aggregations(Device device) {
        PolicyLoss.Aggregation[] all = PolicyLoss.Aggregation.values();
        // The policy loss also takes the two of TRL's loss types that are not an Aggregation (AGG_DR_GRPO, AGG_DAPO).
        int[] policy = java.util.stream.IntStream.concat(Arrays.stream(codes("AGG", all, a -> a.code)),
                Arrays.stream(PolicyLoss.LossType.values()).mapToInt(t -> t.code)).distinct().toArray();
        assertEquals(NativeConstants.AGG_DR_GRPO, PolicyLoss.LossType.DR_GRPO.code);
        assertEquals(NativeConstants.AGG_DAPO, PolicyLoss.LossType.DAPO.code);
        roundTrip(device, "policy_loss agg", policy, (f, code) -> NativeKernels.policyLoss(
                device, f[0], f[1], f[2], f[3], f[4], 0, 0, 1, 0, 0.2f, 0.2f, 0f, 0.1f, code, 1.0, f[5], f[6], f[7]));
        roundTrip(device, "value_loss agg", codes("AGG", all, a -> a.code), (f, code) -> NativeKernels.valueLoss(
                device, f[0], f[1], f[2], f[3], 0, 0, 0.2f, code, f[4], f[5], f[6]));
        roundTrip(device, "policy_loss level", codes("RATIO", PolicyLoss.Level.values(), l -> l.code),
                (f, code) -> NativeKernels.policyLoss(device, f[0], f[1], null, f[3], f[4], 0, 0, 0, code, 0.2f, 0.2f, 0f,
                        0f, 0, 0.0, f[5], f[6], f[7]));
        try (Scope s = new Scope()) {
            Tensor work = s.empty(device, DType.F64, 2).zero();  // the batch's row, written even for no group
            roundTrip(device, "group_advantage scale", codes("ADV_SCALE", GroupAdvantage.Scale.values(), c -> c.code),
                    (f, code) -> NativeKernels.groupAdvantage(device, f[0], 0, 4, code, 1e-4f, f[1], f[2], f[3], f[4], work, f[5]));
        }
    }

    private static void klEstimators(Device device) {
        int[] kl = codes("KL", KlShaping.Estimator.values(), e -> e.code);
        roundTrip(device, "kl_shaping kl_type", kl, (f, code) -> NativeKernels.klShaping(
                device, f[0], f[1], f[2], null, null, 0, 1, 0.05f, code, -1, 0f, f[3], f[4]));
    }

    private static void preferenceTypes(Device device) {
        int[] pref = codes("PREF", PreferenceLoss.Type.values(), t -> t.code);
        roundTrip(device, "preference_loss type", pref, (f, code) -> NativeKernels.preferenceLoss(
                device, f[0], f[1], f[2], f[3], null, null, 0, code, 0.1f, 0f, 0f, f[4], f[5], f[6], f[7], f[8], f[9]));
    }

    /** Each check_f32 rule means what Args relies on. */
    private static void checkRules(Device device) {
        int[] rules = {NativeConstants.CHECK_FINITE, NativeConstants.CHECK_MASK, NativeConstants.CHECK_POSITIVE};
        long[] expected = {3, 1, 2};
        try (Scope s = new Scope()) {
            Tensor x = s.of(device, new float[] {1f, 0.5f, -1f, Float.NaN}, 4);
            Tensor firstBad = s.empty(device, DType.I64, 1);
            for (int i = 0; i < rules.length; i++) {
                NativeKernels.checkF32(device, x, 4, rules[i], firstBad);
                assertEquals(expected[i], firstBad.toLongArray()[0], "first index breaking rule " + rules[i]);
            }
            roundTrip(device, "check_f32 rule", rules, (f, rule) -> NativeKernels.checkF32(device, x, 4, rule, firstBad));
        }
    }

    /** The enum's codes, after checking that each is the native constant GROUP_NAME of constants.def. */
    private static <E extends Enum<E>> int[] codes(String group, E[] constants, ToIntFunction<E> code) {
        int[] codes = new int[constants.length];
        for (int i = 0; i < constants.length; i++) {
            String name = group + "_" + constants[i].name();
            assertTrue(NativeConstants.all().containsKey(name), name + " is missing from native/constants.def");
            codes[i] = code.applyAsInt(constants[i]);
            assertEquals(NativeConstants.all().get(name), codes[i], name);
        }
        return codes;
    }

    /** A launch of one kernel with a code; f: ten F32 tensors of 8 zeros. */
    private interface Launch {
        void run(Tensor[] f, int code);
    }

    /** Every code is accepted; the codes just below and above them are refused, naming the kernel. */
    private static void roundTrip(Device device, String what, int[] codes, Launch launch) {
        int lo = Arrays.stream(codes).min().orElseThrow(), hi = Arrays.stream(codes).max().orElseThrow();
        String kernel = what.substring(0, what.indexOf(' '));
        try (Scope s = new Scope()) {
            Tensor[] f = new Tensor[10];
            for (int i = 0; i < f.length; i++) f[i] = s.empty(device, DType.F32, 8).zero();
            for (int code : codes) assertDoesNotThrow(() -> launch.run(f, code), what + " " + code);
            for (int outside : new int[] {lo - 1, hi + 1}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> launch.run(f, outside), what + " " + outside + " must be refused");
                assertTrue(e.getMessage().contains(kernel + ": an argument outside"), e.getMessage());
            }
        }
    }
}
