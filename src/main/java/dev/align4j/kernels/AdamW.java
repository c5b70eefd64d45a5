package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Tensor;
import java.util.List;

/**
 * One AdamW step on flat buffers (one contiguous allocation each for parameters, gradients and the two
 * moments), with PyTorch's {@code torch.optim.AdamW} semantics — decoupled weight decay applied to the old
 * parameter, then the bias-corrected Adam step:
 * <pre>
 *   g = grad·scale
 *   p ← p·(1 − lr·wd)
 *   m ← m + (1 − β1)(g − m)            v ← β2·v + (1 − β2)·g²
 *   p ← p − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps)
 * </pre>
 * {@code scale} is a host factor times, optionally, the clip factor that {@link GradNorm} left on the device
 * (its {@code out[1]}), so global-norm clipping needs no host round trip.
 * <p>Weight decay applies only on {@code decay} ranges (llm.c and nanoGPT decay the 2-D weights, not biases
 * or LayerNorm parameters); elsewhere wd = 0. {@code decay == null} decays everything (one PyTorch param
 * group). The step runs as one launch per maximal run of equal decay. Values are not scanned: a NaN gradient
 * propagates into its parameter (check the norm from {@link GradNorm} to skip a step).
 */
public final class AdamW {
    private AdamW() {}

    /**
     * Hyper-parameters. No defaults are assumed by the kernel; {@link #gpt2(float)} gives GPT-2 / llm.c's
     * β1 = 0.9, β2 = 0.95, eps = 1e-8, weight decay 0.1 (PyTorch's own defaults are β2 = 0.999, wd = 0.01).
     */
    public record Config(float lr, float beta1, float beta2, float eps, float weightDecay) {
        public Config {
            Args.nonNegative("lr", lr);
            if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
            if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
            Args.positive("eps", eps);
            Args.nonNegative("weightDecay", weightDecay);
        }

        /** GPT-2 / llm.c: β1 0.9, β2 0.95, eps 1e-8, weight decay 0.1. */
        public static Config gpt2(float lr) {
            return new Config(lr, 0.9f, 0.95f, 1e-8f, 0.1f);
        }

        /** The same settings with another learning rate (for LR schedules). */
        public Config withLr(float newLr) {
            return new Config(newLr, beta1, beta2, eps, weightDecay);
        }
    }

    /** A half-open range {@code [offset, offset + length)} of the flat buffers. */
    public record Range(long offset, long length) {
        public Range {
            if (offset < 0 || length < 0)
                throw new IllegalArgumentException("range offset and length must be >= 0, got " + offset + ", " + length);
        }

        long end() {
            return offset + length;
        }
    }

    /** Step {@code step} (>= 1) with every element decayed and no gradient scaling. */
    public static void step(Tensor params, Tensor grads, Tensor m, Tensor v, Config config, long step) {
        step(params, grads, m, v, config, step, 1.0f, null, null);
    }

    /**
     * Step {@code step} (>= 1, the count of steps including this one). Gradients are scaled by {@code gradScale}
     * times {@code clip[1]} when {@code clip} (GradNorm's {@code [2]} output) is not null. {@code decay}: sorted,
     * disjoint ranges that get weight decay (null = all).
     */
    public static void step(Tensor params, Tensor grads, Tensor m, Tensor v, Config config, long step, float gradScale,
                            Tensor clip, List<Range> decay) {
        Device device = Args.sameDevice(new String[] {"params", "grads", "m", "v", "clip"}, params, grads, m, v, clip);
        if (config == null) throw new IllegalArgumentException("config must not be null");
        Args.open("params", params);
        Args.dtype("params", params, DType.F32);
        long n = params.numel();
        flat("grads", grads, n);
        flat("m", m, n);
        flat("v", v, n);
        if (clip != null) flat("clip", clip, 2);
        if (step < 1) throw new IllegalArgumentException("step must be >= 1 (bias correction), got " + step);
        Args.nonNegative("gradScale", gradScale);
        if (decay == null) {
            launch(device, params, grads, m, v, 0, n, config, config.weightDecay(), step, gradScale, clip);
            return;
        }
        long pos = 0;
        for (int i = 0; i < decay.size(); i++) {
            Range r = decay.get(i);
            if (r == null) throw new IllegalArgumentException("decay[" + i + "] must not be null");
            if (r.offset() < pos)
                throw new IllegalArgumentException("decay[" + i + "] = " + r + " overlaps or is out of order (previous end " + pos + ")");
            if (r.end() > n)
                throw new IllegalArgumentException("decay[" + i + "] = " + r + " ends past the " + n + " parameters");
            pos = r.end();
        }
        pos = 0;
        for (Range r : decay) {
            launch(device, params, grads, m, v, pos, r.offset() - pos, config, 0.0f, step, gradScale, clip);
            launch(device, params, grads, m, v, r.offset(), r.length(), config, config.weightDecay(), step, gradScale, clip);
            pos = r.end();
        }
        launch(device, params, grads, m, v, pos, n - pos, config, 0.0f, step, gradScale, clip);
    }

    private static void launch(Device device, Tensor p, Tensor g, Tensor m, Tensor v, long offset, long n, Config c,
                               float wd, long step, float gradScale, Tensor clip) {
        if (n <= 0) return;
        NativeKernels.adamw(device, p, g, m, v, offset, n, c.lr(), c.beta1(), c.beta2(), c.eps(), wd, step, gradScale, clip);
    }

    /** F32 with exactly {@code n} elements (any shape: the buffers are flat). */
    private static void flat(String name, Tensor t, long n) {
        Args.open(name, t);
        Args.dtype(name, t, DType.F32);
        if (t.numel() != n)
            throw new IllegalArgumentException(name + " has " + t.numel() + " elements, expected " + n + ": " + t.describe());
    }
}
