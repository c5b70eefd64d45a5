package dev.align4j.tensor;

/**
 * Internal: the typed bridge from {@code dev.align4j.kernels} to the native kernels, one method per entry of
 * native/kernels.def. It checks what is generic to every call (each tensor open, on {@code device}, of the
 * dtype the C signature expects; a null tensor becomes a null pointer) and turns error codes into
 * exceptions. Shapes and values are validated by the public kernel classes before they get here. Not an
 * API: use the classes of {@code dev.align4j.kernels}.
 */
public final class NativeKernels {
    private NativeKernels() {}

    private static long addr(Device device, DType dtype, String name, Tensor t) {
        if (t == null) return 0L;
        if (!t.device().equals(device))
            throw new IllegalArgumentException(name + " is on " + t.device() + ", expected " + device);
        if (t.dtype() != dtype) throw new IllegalArgumentException(name + " is " + t.dtype() + ", expected " + dtype);
        return t.address();
    }

    /** Waits for the device to finish its queued work (a no-op on the CPU). */
    public static void synchronize(Device device) {
        Backend.check(NativeLib.a4j_synchronize(device.nativeId()), "synchronize " + device);
    }

    public static void logprobsFwd(Device device, Tensor logits, Tensor labels, Tensor mask, long N, long V, float invTemp, Tensor logp, Tensor entropy, Tensor lse) {
        Backend.check(NativeLib.a4j_logprobs_fwd(device.nativeId(),
                addr(device, DType.F32, "logits", logits),
                addr(device, DType.I32, "labels", labels),
                addr(device, DType.F32, "mask", mask),
                N,
                V,
                invTemp,
                addr(device, DType.F32, "logp", logp),
                addr(device, DType.F32, "entropy", entropy),
                addr(device, DType.F32, "lse", lse)), "logprobs_fwd");
    }

    public static void logprobsBwd(Device device, Tensor logits, Tensor labels, Tensor mask, long N, long V, float invTemp, Tensor lse, Tensor entropy, Tensor dlogp, Tensor dentropy, Tensor dlogits) {
        Backend.check(NativeLib.a4j_logprobs_bwd(device.nativeId(),
                addr(device, DType.F32, "logits", logits),
                addr(device, DType.I32, "labels", labels),
                addr(device, DType.F32, "mask", mask),
                N,
                V,
                invTemp,
                addr(device, DType.F32, "lse", lse),
                addr(device, DType.F32, "entropy", entropy),
                addr(device, DType.F32, "dlogp", dlogp),
                addr(device, DType.F32, "dentropy", dentropy),
                addr(device, DType.F32, "dlogits", dlogits)), "logprobs_bwd");
    }

    public static void seqReduceFwd(Device device, Tensor values, Tensor mask, long B, long T, Tensor sums, Tensor counts) {
        Backend.check(NativeLib.a4j_seq_reduce_fwd(device.nativeId(),
                addr(device, DType.F32, "values", values),
                addr(device, DType.F32, "mask", mask),
                B,
                T,
                addr(device, DType.F32, "sums", sums),
                addr(device, DType.F32, "counts", counts)), "seq_reduce_fwd");
    }

    public static void seqReduceBwd(Device device, Tensor dsums, Tensor mask, long B, long T, Tensor dvalues) {
        Backend.check(NativeLib.a4j_seq_reduce_bwd(device.nativeId(),
                addr(device, DType.F32, "dsums", dsums),
                addr(device, DType.F32, "mask", mask),
                B,
                T,
                addr(device, DType.F32, "dvalues", dvalues)), "seq_reduce_bwd");
    }

    public static void policyLoss(Device device, Tensor logpNew, Tensor logpOld, Tensor adv, Tensor mask, long B, long T, float epsLow, float epsHigh, float dualClip, int agg, Tensor dlogpNew, Tensor work, Tensor stats) {
        Backend.check(NativeLib.a4j_policy_loss(device.nativeId(),
                addr(device, DType.F32, "logp_new", logpNew),
                addr(device, DType.F32, "logp_old", logpOld),
                addr(device, DType.F32, "adv", adv),
                addr(device, DType.F32, "mask", mask),
                B,
                T,
                epsLow,
                epsHigh,
                dualClip,
                agg,
                addr(device, DType.F32, "dlogp_new", dlogpNew),
                addr(device, DType.F32, "work", work),
                addr(device, DType.F32, "stats", stats)), "policy_loss");
    }

    public static void valueLoss(Device device, Tensor values, Tensor valuesOld, Tensor returns, Tensor mask, long B, long T, float epsV, int agg, Tensor dvalues, Tensor work, Tensor stats) {
        Backend.check(NativeLib.a4j_value_loss(device.nativeId(),
                addr(device, DType.F32, "values", values),
                addr(device, DType.F32, "values_old", valuesOld),
                addr(device, DType.F32, "returns", returns),
                addr(device, DType.F32, "mask", mask),
                B,
                T,
                epsV,
                agg,
                addr(device, DType.F32, "dvalues", dvalues),
                addr(device, DType.F32, "work", work),
                addr(device, DType.F32, "stats", stats)), "value_loss");
    }

    public static void klShaping(Device device, Tensor logpOld, Tensor logpRef, Tensor mask, Tensor scores, Tensor tokens, long B, long T, float beta, int klType, int eosId, float missingEosPenalty, Tensor rewards, Tensor kl) {
        Backend.check(NativeLib.a4j_kl_shaping(device.nativeId(),
                addr(device, DType.F32, "logp_old", logpOld),
                addr(device, DType.F32, "logp_ref", logpRef),
                addr(device, DType.F32, "mask", mask),
                addr(device, DType.F32, "scores", scores),
                addr(device, DType.I32, "tokens", tokens),
                B,
                T,
                beta,
                klType,
                eosId,
                missingEosPenalty,
                addr(device, DType.F32, "rewards", rewards),
                addr(device, DType.F32, "kl", kl)), "kl_shaping");
    }

    public static void gae(Device device, Tensor rewards, Tensor values, Tensor mask, long B, long T, float gamma, float lambda, Tensor advantages, Tensor returns) {
        Backend.check(NativeLib.a4j_gae(device.nativeId(),
                addr(device, DType.F32, "rewards", rewards),
                addr(device, DType.F32, "values", values),
                addr(device, DType.F32, "mask", mask),
                B,
                T,
                gamma,
                lambda,
                addr(device, DType.F32, "advantages", advantages),
                addr(device, DType.F32, "returns", returns)), "gae");
    }

    public static void whiten(Device device, Tensor x, Tensor mask, long B, long T, int shiftMean, Tensor out, Tensor work, Tensor stats) {
        Backend.check(NativeLib.a4j_whiten(device.nativeId(),
                addr(device, DType.F32, "x", x),
                addr(device, DType.F32, "mask", mask),
                B,
                T,
                shiftMean,
                addr(device, DType.F32, "out", out),
                addr(device, DType.F64, "work", work),
                addr(device, DType.F32, "stats", stats)), "whiten");
    }

    public static void preferenceLoss(Device device, Tensor chosen, Tensor rejected, Tensor refChosen, Tensor refRejected, Tensor chosenLen, Tensor rejectedLen, long B, int type, float beta, float labelSmoothing, float gamma, Tensor dchosen, Tensor drejected, Tensor losses, Tensor rewardsChosen, Tensor rewardsRejected, Tensor stats) {
        Backend.check(NativeLib.a4j_preference_loss(device.nativeId(),
                addr(device, DType.F32, "chosen", chosen),
                addr(device, DType.F32, "rejected", rejected),
                addr(device, DType.F32, "ref_chosen", refChosen),
                addr(device, DType.F32, "ref_rejected", refRejected),
                addr(device, DType.F32, "chosen_len", chosenLen),
                addr(device, DType.F32, "rejected_len", rejectedLen),
                B,
                type,
                beta,
                labelSmoothing,
                gamma,
                addr(device, DType.F32, "dchosen", dchosen),
                addr(device, DType.F32, "drejected", drejected),
                addr(device, DType.F32, "losses", losses),
                addr(device, DType.F32, "rewards_chosen", rewardsChosen),
                addr(device, DType.F32, "rewards_rejected", rewardsRejected),
                addr(device, DType.F32, "stats", stats)), "preference_loss");
    }

    public static void rewardLoss(Device device, Tensor rChosen, Tensor rRejected, Tensor margin, long B, float centerCoef, Tensor dchosen, Tensor drejected, Tensor stats) {
        Backend.check(NativeLib.a4j_reward_loss(device.nativeId(),
                addr(device, DType.F32, "r_chosen", rChosen),
                addr(device, DType.F32, "r_rejected", rRejected),
                addr(device, DType.F32, "margin", margin),
                B,
                centerCoef,
                addr(device, DType.F32, "dchosen", dchosen),
                addr(device, DType.F32, "drejected", drejected),
                addr(device, DType.F32, "stats", stats)), "reward_loss");
    }

    public static void checkF32(Device device, Tensor x, long n, int rule, Tensor firstBad) {
        Backend.check(NativeLib.a4j_check_f32(device.nativeId(),
                addr(device, DType.F32, "x", x),
                n,
                rule,
                addr(device, DType.I64, "first_bad", firstBad)), "check_f32");
    }

    public static void checkI32(Device device, Tensor x, long n, int lo, int hi, Tensor firstBad) {
        Backend.check(NativeLib.a4j_check_i32(device.nativeId(),
                addr(device, DType.I32, "x", x),
                n,
                lo,
                hi,
                addr(device, DType.I64, "first_bad", firstBad)), "check_i32");
    }
}
