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

    public static void layernormFwd(Device device, Tensor x, Tensor weight, Tensor bias, long N, long C, float eps, Tensor out, Tensor mean, Tensor rstd) {
        Backend.check(NativeLib.a4j_layernorm_fwd(device.nativeId(),
                addr(device, DType.F32, "x", x),
                addr(device, DType.F32, "weight", weight),
                addr(device, DType.F32, "bias", bias),
                N,
                C,
                eps,
                addr(device, DType.F32, "out", out),
                addr(device, DType.F32, "mean", mean),
                addr(device, DType.F32, "rstd", rstd)), "layernorm_fwd");
    }

    public static void layernormBwd(Device device, Tensor dout, Tensor x, Tensor weight, Tensor mean, Tensor rstd, long N, long C, int accumulateDx, Tensor dx, Tensor dweight, Tensor dbias) {
        Backend.check(NativeLib.a4j_layernorm_bwd(device.nativeId(),
                addr(device, DType.F32, "dout", dout),
                addr(device, DType.F32, "x", x),
                addr(device, DType.F32, "weight", weight),
                addr(device, DType.F32, "mean", mean),
                addr(device, DType.F32, "rstd", rstd),
                N,
                C,
                accumulateDx,
                addr(device, DType.F32, "dx", dx),
                addr(device, DType.F32, "dweight", dweight),
                addr(device, DType.F32, "dbias", dbias)), "layernorm_bwd");
    }

    public static void geluFwd(Device device, Tensor x, long n, Tensor out) {
        Backend.check(NativeLib.a4j_gelu_fwd(device.nativeId(),
                addr(device, DType.F32, "x", x),
                n,
                addr(device, DType.F32, "out", out)), "gelu_fwd");
    }

    public static void geluBwd(Device device, Tensor x, Tensor dout, long n, Tensor dx) {
        Backend.check(NativeLib.a4j_gelu_bwd(device.nativeId(),
                addr(device, DType.F32, "x", x),
                addr(device, DType.F32, "dout", dout),
                n,
                addr(device, DType.F32, "dx", dx)), "gelu_bwd");
    }

    public static void attentionSoftmaxFwd(Device device, Tensor scores, long BH, long Tq, long Tk, float scale, Tensor probs) {
        Backend.check(NativeLib.a4j_attention_softmax_fwd(device.nativeId(),
                addr(device, DType.F32, "scores", scores),
                BH,
                Tq,
                Tk,
                scale,
                addr(device, DType.F32, "probs", probs)), "attention_softmax_fwd");
    }

    public static void attentionSoftmaxBwd(Device device, Tensor probs, Tensor dprobs, long BH, long Tq, long Tk, float scale, Tensor dscores) {
        Backend.check(NativeLib.a4j_attention_softmax_bwd(device.nativeId(),
                addr(device, DType.F32, "probs", probs),
                addr(device, DType.F32, "dprobs", dprobs),
                BH,
                Tq,
                Tk,
                scale,
                addr(device, DType.F32, "dscores", dscores)), "attention_softmax_bwd");
    }

    public static void embeddingFwd(Device device, Tensor tokens, Tensor wte, Tensor wpe, long B, long T, long C, Tensor out) {
        Backend.check(NativeLib.a4j_embedding_fwd(device.nativeId(),
                addr(device, DType.I32, "tokens", tokens),
                addr(device, DType.F32, "wte", wte),
                addr(device, DType.F32, "wpe", wpe),
                B,
                T,
                C,
                addr(device, DType.F32, "out", out)), "embedding_fwd");
    }

    public static void embeddingBwd(Device device, Tensor dout, Tensor tokens, long B, long T, long C, Tensor dwte, Tensor dwpe) {
        Backend.check(NativeLib.a4j_embedding_bwd(device.nativeId(),
                addr(device, DType.F32, "dout", dout),
                addr(device, DType.I32, "tokens", tokens),
                B,
                T,
                C,
                addr(device, DType.F32, "dwte", dwte),
                addr(device, DType.F32, "dwpe", dwpe)), "embedding_bwd");
    }

    public static void biasAdd(Device device, Tensor out, Tensor bias, long N, long OC) {
        Backend.check(NativeLib.a4j_bias_add(device.nativeId(),
                addr(device, DType.F32, "out", out),
                addr(device, DType.F32, "bias", bias),
                N,
                OC), "bias_add");
    }

    public static void biasBwd(Device device, Tensor dout, long N, long OC, Tensor work, Tensor dbias) {
        Backend.check(NativeLib.a4j_bias_bwd(device.nativeId(),
                addr(device, DType.F32, "dout", dout),
                N,
                OC,
                addr(device, DType.F32, "work", work),
                addr(device, DType.F32, "dbias", dbias)), "bias_bwd");
    }

    public static void residualAdd(Device device, Tensor a, Tensor b, long n, Tensor out) {
        Backend.check(NativeLib.a4j_residual_add(device.nativeId(),
                addr(device, DType.F32, "a", a),
                addr(device, DType.F32, "b", b),
                n,
                addr(device, DType.F32, "out", out)), "residual_add");
    }

    public static void adamw(Device device, Tensor params, Tensor grads, Tensor m, Tensor v, long offset, long n, float lr, float beta1, float beta2, float eps, float weightDecay, long step, float gradScale, Tensor clip) {
        Backend.check(NativeLib.a4j_adamw(device.nativeId(),
                addr(device, DType.F32, "params", params),
                addr(device, DType.F32, "grads", grads),
                addr(device, DType.F32, "m", m),
                addr(device, DType.F32, "v", v),
                offset,
                n,
                lr,
                beta1,
                beta2,
                eps,
                weightDecay,
                step,
                gradScale,
                addr(device, DType.F32, "clip", clip)), "adamw");
    }

    public static void gradNorm(Device device, Tensor grads, long n, float maxNorm, Tensor work, Tensor out) {
        Backend.check(NativeLib.a4j_grad_norm(device.nativeId(),
                addr(device, DType.F32, "grads", grads),
                n,
                maxNorm,
                addr(device, DType.F64, "work", work),
                addr(device, DType.F32, "out", out)), "grad_norm");
    }

    public static void attentionPermuteFwd(Device device, Tensor qkv, long B, long T, long NH, long HS, Tensor q, Tensor k, Tensor v) {
        Backend.check(NativeLib.a4j_attention_permute_fwd(device.nativeId(),
                addr(device, DType.F32, "qkv", qkv),
                B,
                T,
                NH,
                HS,
                addr(device, DType.F32, "q", q),
                addr(device, DType.F32, "k", k),
                addr(device, DType.F32, "v", v)), "attention_permute_fwd");
    }

    public static void attentionPermuteBwd(Device device, Tensor dq, Tensor dk, Tensor dv, long B, long T, long NH, long HS, Tensor dqkv) {
        Backend.check(NativeLib.a4j_attention_permute_bwd(device.nativeId(),
                addr(device, DType.F32, "dq", dq),
                addr(device, DType.F32, "dk", dk),
                addr(device, DType.F32, "dv", dv),
                B,
                T,
                NH,
                HS,
                addr(device, DType.F32, "dqkv", dqkv)), "attention_permute_bwd");
    }

    public static void attentionUnpermuteFwd(Device device, Tensor y, long B, long T, long NH, long HS, Tensor out) {
        Backend.check(NativeLib.a4j_attention_unpermute_fwd(device.nativeId(),
                addr(device, DType.F32, "y", y),
                B,
                T,
                NH,
                HS,
                addr(device, DType.F32, "out", out)), "attention_unpermute_fwd");
    }

    public static void attentionUnpermuteBwd(Device device, Tensor dout, long B, long T, long NH, long HS, Tensor dy) {
        Backend.check(NativeLib.a4j_attention_unpermute_bwd(device.nativeId(),
                addr(device, DType.F32, "dout", dout),
                B,
                T,
                NH,
                HS,
                addr(device, DType.F32, "dy", dy)), "attention_unpermute_bwd");
    }
}
