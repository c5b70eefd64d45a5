package dev.align4j.train;

import dev.align4j.model.CausalLm;
import dev.align4j.tensor.Collectives;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The gradient exchange of a data-parallel step, overlapped with the backward as PyTorch DDP does it: armed before a
 * step's last backward ({@link #arm}), it all-reduces each layer's gradients (one contiguous range of the trainable
 * buffer, {@link CausalLm#layerGradRange}) on the communication thread as soon as the backward has completed that
 * layer, while the earlier layers' backward runs; {@link #finish} then reduces what no layer covers (embeddings,
 * final norm, head; any other optimizer group), waits, and says how long the step waited. A rank that runs no backward
 * in the step issues the same reductions in the same order (the ranks must meet in the same collectives). Only CPU
 * tensors overlap (a GPU's go through the host and are reduced after the backward), and only with
 * {@code -D}{@value #OVERLAP_PROPERTY}{@code =true}: measured on 2 cores with one rank per core, the overlap hid most of
 * the exchange (the step waited 5–7 ms instead of 40) but slowed it 2.5–3× (its copies compete with the backward for
 * the cores) and the step by 2%; it pays where the ranks leave a core free, or on a GPU once NCCL carries it.
 */
final class GradientSync {
    static final String OVERLAP_PROPERTY = "align4j.dp.overlap";

    private final Collectives comm;
    private CausalLm armed;
    private Tensor flat;
    private int layersDone;
    private long waitNanos, commNanosAtStart;

    GradientSync(Collectives comm) {
        this.comm = comm;
    }

    /** Before the step's last backward on {@code model}: its layers' gradients are reduced as they complete. */
    void arm(CausalLm model) {
        if (!comm.distributed() || !model.device().isCpu() || !Boolean.parseBoolean(System.getProperty(OVERLAP_PROPERTY, "false")))
            return;
        armed = model;
        flat = trainable(model);
        layersDone = 0;
        commNanosAtStart = comm.asyncNanos();
        model.onLayerGradients(l -> {
            comm.allReduceSumAsync(range(flat, model.layerGradRange(l)));
            layersDone++;
        });
    }

    /**
     * After the step's backward(s): every group's gradients summed over the ranks. {@code model}: the model whose
     * trainable buffer is among the groups (its layers reduced by layer, in the order an armed backward does).
     */
    void finish(CausalLm model, List<Optimizer.Group> groups) {
        if (!comm.distributed()) return;
        if (!model.device().isCpu()) { // a GPU's gradients: NCCL (or the host), after the backward
            long t0 = System.nanoTime();
            commNanosAtStart = comm.asyncNanos();
            for (Optimizer.Group g : groups) comm.allReduceSum(g.grads());
            waitNanos = System.nanoTime() - t0;
            return;
        }
        long t0 = System.nanoTime();
        Tensor buf = trainable(model);
        int layers = layerCount(model);
        if (armed != null) {
            model.onLayerGradients(null);
            if (layersDone != layers) throw new IllegalStateException("the backward completed " + layersDone + " of " + layers + " layers");
        } else {
            commNanosAtStart = comm.asyncNanos();
            for (int l = layers - 1; l >= 0; l--) comm.allReduceSumAsync(range(buf, model.layerGradRange(l)));
        }
        // what lies outside the layers: before the first layer and after the last
        long first = model.layerGradRange(0)[0], last = model.layerGradRange(layers - 1)[1];
        if (first > 0) comm.allReduceSumAsync(buf.view(0, first));
        if (last < buf.numel()) comm.allReduceSumAsync(buf.view(last, buf.numel() - last));
        for (Optimizer.Group g : groups) if (g.grads() != buf) comm.allReduceSumAsync(g.grads());
        comm.drain();
        waitNanos = System.nanoTime() - t0;
        armed = null;
        flat = null;
    }

    /** Seconds the step waited in {@link #finish} (the exposed part of the exchange). */
    double waitSeconds() {
        return waitNanos * 1e-9;
    }

    /** Seconds of all-reduce on the communication thread since {@link #arm}, hidden or not. */
    double commSeconds() {
        return (comm.asyncNanos() - commNanosAtStart) * 1e-9;
    }

    private static Tensor trainable(CausalLm model) {
        return model.lora() != null ? model.lora().grads() : model.grads();
    }

    private static Tensor range(Tensor flat, long[] r) {
        return flat.view(r[0], r[1] - r[0]);
    }

    private static int layerCount(CausalLm model) {
        return model.config().nLayer();
    }
}
