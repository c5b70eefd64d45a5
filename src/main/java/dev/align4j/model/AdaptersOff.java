package dev.align4j.model;

import dev.align4j.tensor.Device;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@link CausalLm#adaptersOff()}: a model's base as a frozen model of its own, for the reference log-probs of DPO,
 * PPO and GRPO (TRL's {@code disable_adapter()}). Each forward switches the adapters off around the model's own
 * forward, so it runs the same kernels on the same weights as the base alone; the outputs are read from the
 * model's buffers until its next forward. Its entropy switch is its own. No backward, no decoder, no setters.
 */
final class AdaptersOff implements CausalLm {
    private final CausalLm model;
    private boolean entropy;

    AdaptersOff(CausalLm model) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        if (model instanceof AdaptersOff) throw new IllegalArgumentException("already a view with the adapters off");
        this.model = model;
    }

    private float offForward(java.util.function.DoubleSupplier f) {
        LoraAdapters l = model.lora();
        boolean was = l != null && l.enabled();
        boolean entropyWas = ((CausalLmBase<?>) model).computesEntropy();
        if (l != null) l.setEnabled(false);
        model.setComputeEntropy(entropy);
        try {
            return (float) f.getAsDouble();
        } finally {
            if (l != null) l.setEnabled(was);
            model.setComputeEntropy(entropyWas);
        }
    }

    @Override
    public float forward(Tensor tokens, Tensor targets, Tensor lossMask) {
        return offForward(() -> model.forward(tokens, targets, lossMask));
    }

    @Override
    public float forward(int[] tokens, int[] targets, float[] lossMask, int b, int t) {
        return offForward(() -> model.forward(tokens, targets, lossMask, b, t));
    }

    @Override
    public boolean sharesPrefixes() {
        return ((CausalLmBase<?>) model).sharesPrefixesWithAdaptersOff();
    }

    @Override
    public float forward(dev.align4j.data.SharedPrefixBatch batch) {
        return offForward(() -> ((CausalLmBase<?>) model).forwardShared(batch, true));
    }

    @Override
    public void setComputeEntropy(boolean on) {
        entropy = on;
    }

    @Override public LmConfig config() { return model.config(); }
    @Override public Device device() { return model.device(); }
    @Override public ParamLayout layout() { return model.layout(); }
    @Override public Tensor params() { return model.params(); }
    @Override public Tensor param(String name) { return model.param(name); }
    @Override public Tensor logits() { return model.logits(); }
    @Override public Tensor logProbs() { return model.logProbs(); }
    @Override public Tensor entropy() { return model.entropy(); }
    @Override public Tensor hidden() { return model.hidden(); }
    @Override public long activationBytes() { return model.activationBytes(); }
    @Override public void setLogitsChunkRows(int rows) { model.setLogitsChunkRows(rows); }
    @Override public int logitsChunkRows() { return model.logitsChunkRows(); }
    @Override public Map<String, byte[]> carriedFiles() { return model.carriedFiles(); }
    @Override public Path source() { return model.source(); }
    @Override public LoraAdapters lora() { return null; }

    /** A separate copy of the base (the adapters dropped). */
    @Override
    public CausalLm copy() {
        return ((CausalLmBase<?>) model).copyBase();
    }

    @Override
    public void save(Path dir, SaveOptions options) throws IOException {
        model.saveBase(dir, options);
    }

    @Override
    public void saveBase(Path dir, SaveOptions options) throws IOException {
        model.saveBase(dir, options);
    }

    /** Nothing: the model is its owner's. */
    @Override
    public void close() {}

    private static UnsupportedOperationException frozen(String what) {
        return new UnsupportedOperationException(what + ": the model with its adapters off is a frozen reference");
    }

    @Override public Tensor grads() { throw frozen("grads"); }
    @Override public Tensor grad(String name) { throw frozen("grad"); }
    @Override public void setParam(String name, float[] values) { throw frozen("setParam"); }
    @Override public void zeroGrad() {}
    @Override public void initialize(long seed) { throw frozen("initialize"); }
    @Override public LoraAdapters attachLora(LoraConfig config, long seed) { throw frozen("attachLora"); }
    @Override public void backward() { throw frozen("backward"); }
    @Override public void backward(double normalizer) { throw frozen("backward"); }
    @Override public void backward(Tensor dlogp) { throw frozen("backward"); }
    @Override public void backward(Tensor dlogp, Tensor dhidden) { throw frozen("backward"); }
    @Override public void backward(Tensor dlogp, Tensor dentropy, Tensor dhidden) { throw frozen("backward"); }
    @Override public Decoder decoder(int batch, int maxT) { throw frozen("decoder (generate with the model itself)"); }
    @Override public void onLayerGradients(java.util.function.IntConsumer listener) { throw frozen("onLayerGradients"); }
    @Override public long[] layerGradRange(int layer) { throw frozen("layerGradRange"); }
}
