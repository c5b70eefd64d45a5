package dev.align4j.train;

import dev.align4j.kernels.AdamW;
import dev.align4j.kernels.GradNorm;
import dev.align4j.model.CausalLm;
import dev.align4j.model.LoraAdapters;
import dev.align4j.model.SafeTensorsFile;
import dev.align4j.model.SafeTensorsWriter;
import dev.align4j.model.ScalarHead;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW over one or more parameter groups (a GPT, a scalar head, ...) that share one global gradient norm, as
 * {@code torch.nn.utils.clip_grad_norm_} over all of a model's parameters. A step is two calls so a caller can
 * refuse a non-finite norm before anything changes: {@link #clipNorm} (computes the norm over every group and
 * the clip factor) and then {@link #apply}. The moments can be saved to and restored from a safetensors file
 * ({@code <prefix>.<group>.m/v}) for exact resume.
 */
public final class Optimizer implements AutoCloseable {
    /** A flat parameter buffer with its gradients and the ranges that get weight decay (null: none). */
    public record Group(String name, Tensor params, Tensor grads, List<AdamW.Range> decay) {}

    private final List<Group> groups;
    private final Scope scope = new Scope();
    private final List<Tensor> m = new ArrayList<>(), v = new ArrayList<>(), work = new ArrayList<>();
    private final Tensor scale;
    private long steps;
    private boolean clipped;
    /** Multiplies the gradients in the next {@link #apply} (set by {@link #clipNorm(double, double)}). */
    private float gradScale = 1f;

    public Optimizer(List<Group> groups) {
        if (groups == null || groups.isEmpty()) throw new IllegalArgumentException("groups must not be empty");
        this.groups = List.copyOf(groups);
        Device device = groups.get(0).params().device();
        try {
            for (Group g : groups) {
                if (!g.params().device().equals(device))
                    throw new IllegalArgumentException("group " + g.name() + " is on " + g.params().device() + ", not " + device);
                long n = g.params().numel();
                m.add(scope.zeros(device, DType.F32, n));
                v.add(scope.zeros(device, DType.F32, n));
                work.add(scope.empty(device, DType.F64, GradNorm.workSize(n)));
            }
            scale = scope.zeros(device, DType.F32, 2);
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
    }

    /**
     * The model's trainable parameters: all of them, weight decay on the 2-D weights; or, with LoRA adapters attached,
     * the adapters' A and B ("lora", all decayed, as transformers' Trainer decays every weight that is not a bias or
     * a norm).
     */
    public static Group group(CausalLm model) {
        LoraAdapters lora = model.lora();
        if (lora != null) {
            lora.config().requireNoDropout();
            return new Group("lora", lora.params(), lora.grads(), lora.layout().decayRanges());
        }
        return new Group("model", model.params(), model.grads(), model.layout().decayRanges());
    }

    /** A scalar head's parameters (no weight decay: a C + 1 vector, as TRL's value/score heads in practice). */
    public static Group group(String name, ScalarHead head) {
        return new Group(name, head.params(), head.grads(), List.of());
    }

    /** The parameter groups, in order. */
    public List<Group> groups() {
        return groups;
    }

    public void zeroGrad() {
        for (Group g : groups) g.grads().zero();
    }

    /**
     * The global gradient norm over all groups (read back to the host) and, when {@code maxNorm > 0} and finite,
     * the factor {@code min(1, maxNorm / (norm + 1e-6))} that {@link #apply} will use.
     */
    public float clipNorm(double maxNorm) {
        return clipNorm(maxNorm, 1.0);
    }

    /**
     * As {@link #clipNorm(double)} for the gradients times {@code gradScale} (&gt; 0), which {@link #apply} then also
     * uses: the mean over accumulated micro-batches without a pass over the gradients. Returns the scaled norm.
     */
    public float clipNorm(double maxNorm, double gradScale) {
        if (!(gradScale > 0) || Double.isInfinite(gradScale))
            throw new IllegalArgumentException("gradScale must be > 0 and finite, got " + gradScale);
        this.gradScale = (float) gradScale;
        double sq = 0;
        for (int i = 0; i < groups.size(); i++) {
            GradNorm.compute(groups.get(i).grads(), Float.POSITIVE_INFINITY, work.get(i), scale);
            double n = scale.getFloat(0);
            sq += n * n;
        }
        double norm = Math.sqrt(sq) * this.gradScale;
        clipped = maxNorm > 0 && !Double.isInfinite(maxNorm);
        if (clipped) scale.copyFrom(new float[] {(float) norm, (float) Math.min(1.0, maxNorm / (norm + 1e-6))});
        return (float) norm;
    }

    /**
     * As {@link #clipNorm} for a single group, with the clip factor computed by the GradNorm kernel itself rather than
     * on the host. Pre-training's figures were measured on this path, and the two factors can differ in the last bit.
     */
    public float clipNormInKernel(double maxNorm) {
        if (groups.size() != 1) throw new IllegalStateException("clipNormInKernel needs one group, got " + groups.size());
        GradNorm.compute(groups.get(0).grads(), maxNorm > 0 ? (float) maxNorm : Float.POSITIVE_INFINITY, work.get(0), scale);
        clipped = true;
        return scale.getFloat(0);
    }

    /** One AdamW step on every group at {@code config}'s rate (after {@link #clipNorm} when clipping). */
    public void apply(AdamW.Config config) {
        steps++;
        for (int i = 0; i < groups.size(); i++) {
            Group g = groups.get(i);
            AdamW.step(g.params(), g.grads(), m.get(i), v.get(i), config, steps, gradScale, clipped ? scale : null, g.decay());
        }
        clipped = false;
        gradScale = 1f;
    }

    /** Steps applied so far. */
    public long steps() {
        return steps;
    }

    /** Adds the moments to {@code w} as {@code prefix.group.m} / {@code .v}, and the step count to its metadata. */
    public void save(SafeTensorsWriter w, String prefix) {
        for (int i = 0; i < groups.size(); i++) {
            String n = prefix + "." + groups.get(i).name();
            w.putFloats(n + ".m", m.get(i).toFloatArray(), m.get(i).numel());
            w.putFloats(n + ".v", v.get(i).toFloatArray(), v.get(i).numel());
        }
        w.metadata(prefix + ".steps", Long.toString(steps));
    }

    /** Restores what {@link #save} wrote; every size is checked against this optimizer's groups. */
    public void load(SafeTensorsFile f, String prefix) throws IOException {
        for (int i = 0; i < groups.size(); i++) {
            String n = prefix + "." + groups.get(i).name();
            long size = m.get(i).numel();
            m.get(i).copyFrom(f.floats(n + ".m", size));
            v.get(i).copyFrom(f.floats(n + ".v", size));
        }
        String s = f.metadata().get(prefix + ".steps");
        if (s == null) throw new IOException(f.path() + ": metadata has no '" + prefix + ".steps'");
        steps = Long.parseLong(s);
    }

    @Override
    public void close() {
        scope.close();
    }
}
