package dev.align4j.model;

import dev.align4j.kernels.AdamW;
import dev.align4j.kernels.GradNorm;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.List;

/**
 * AdamW for a {@link CausalLm}: one step over the flat parameter buffer (PyTorch's {@code torch.optim.AdamW}
 * arithmetic, see {@link AdamW}), weight decay only on the 2-D tensors ({@link ParamLayout#decayRanges()}),
 * and optional global-norm clipping ({@code clip_grad_norm_}) whose factor stays on the device. The moments
 * are two more flat buffers owned by this object. With LoRA adapters attached (before this is made) it steps the
 * adapters only (all decayed), as {@link dev.align4j.train.Optimizer#group}.
 */
public final class LmAdamW implements AutoCloseable {
    private final Tensor params, grads;
    private final Scope scope = new Scope();
    private final Tensor m, v, normOut, normWork;
    private final List<AdamW.Range> decay;
    private long step;

    public LmAdamW(CausalLm model) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        LoraAdapters lora = model.lora();
        if (lora != null) lora.config().requireNoDropout();
        params = lora != null ? lora.params() : model.params();
        grads = lora != null ? lora.grads() : model.grads();
        long n = params.numel();
        try {
            m = scope.zeros(model.device(), DType.F32, n);
            v = scope.zeros(model.device(), DType.F32, n);
            normOut = scope.zeros(model.device(), DType.F32, 2);
            normWork = scope.empty(model.device(), DType.F64, GradNorm.workSize(n));
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
        decay = (lora != null ? lora.layout() : model.layout()).decayRanges();
    }

    /**
     * One step with the model's current gradients. {@code maxGradNorm}: clip the global norm to it
     * ({@code +inf} or {@code <= 0}: no clipping, and no norm computed). Returns the gradient norm before
     * clipping, or NaN when not computed (which saves a device round trip).
     */
    public float step(AdamW.Config config, float maxGradNorm) {
        boolean clip = maxGradNorm > 0 && !Float.isInfinite(maxGradNorm);
        float norm = Float.NaN;
        if (clip) {
            GradNorm.compute(grads, maxGradNorm, normWork, normOut);
            norm = normOut.getFloat(0);
        }
        step++;
        AdamW.step(params, grads, m, v, config, step, 1f, clip ? normOut : null, decay);
        return norm;
    }

    /** Steps taken so far. */
    public long steps() {
        return step;
    }

    /** The first moments (flat, same offsets as the parameters). */
    public Tensor firstMoments() {
        return m;
    }

    /** The second moments. */
    public Tensor secondMoments() {
        return v;
    }

    @Override
    public void close() {
        scope.close();
    }
}
