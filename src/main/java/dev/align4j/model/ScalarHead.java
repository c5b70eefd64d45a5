package dev.align4j.model;

import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Matmul;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;
import java.util.Random;

/**
 * A scalar head on a {@link CausalLm}'s final hidden states — the value head of a PPO critic or the score of a reward
 * model: {@code values[b,t] = hidden[b,t,:]·w + bias} (an {@code nn.Linear(C, 1)}). Its parameters are one flat
 * buffer of C + 1 floats ({@code w}, then {@code bias}) and its gradients mirror them, so {@code AdamW.step} can
 * run on them directly. The backward ACCUMULATES into its gradients and writes {@code dhidden}, which
 * {@link CausalLm#backward(Tensor, Tensor)} takes:
 * <pre>{@code
 * gpt.forward(tokens, null, null);
 * head.forward(gpt.hidden(), values);                 // [B, T]
 * ... dvalues = ∂L/∂values ...
 * head.backward(dvalues, gpt.hidden(), dhidden);      // dw, dbias += ...; dhidden = dvalues·w
 * gpt.backward(null, dhidden);
 * }</pre>
 * Saved beside a model's checkpoint as its own safetensors file ({@link #save}: {@code score.weight [1, C]} and
 * {@code score.bias [1]}, the names of Hugging Face's sequence-classification head, plus a bias).
 */
public final class ScalarHead implements AutoCloseable {
    private final int nEmbd;
    private final Device device;
    private final Scope scope = new Scope();
    private final Tensor params, grads, w, bias, dw, dbias;

    /** A head with zero parameters (see {@link #initialize}). */
    public ScalarHead(int nEmbd, Device device) {
        if (nEmbd < 1) throw new IllegalArgumentException("nEmbd must be >= 1, got " + nEmbd);
        if (device == null) throw new IllegalArgumentException("device must not be null");
        this.nEmbd = nEmbd;
        this.device = device;
        params = scope.zeros(device, DType.F32, nEmbd + 1L);
        grads = scope.zeros(device, DType.F32, nEmbd + 1L);
        w = params.view(0, 1, nEmbd);
        bias = params.view(nEmbd, 1);
        dw = grads.view(0, 1, nEmbd);
        dbias = grads.view(nEmbd, 1);
    }

    /** w ~ N(0, 1/(C+1)) (the scale of a unit-variance output on LayerNorm'd inputs), bias 0. */
    public void initialize(long seed) {
        Random rnd = new Random(seed);
        float[] p = new float[nEmbd + 1];
        double std = 1.0 / Math.sqrt(nEmbd + 1.0);
        for (int i = 0; i < nEmbd; i++) p[i] = (float) (std * rnd.nextGaussian());
        params.copyFrom(p);
    }

    /** {@code values [B, T] = hidden [B, T, C]·w + bias}. */
    public void forward(Tensor hidden, Tensor values) {
        long[] bt = check("hidden", hidden);
        requireShape("values", values, bt[0], bt[1]);
        Tensor v = values.view(0, bt[0] * bt[1], 1);
        Matmul.matmul(hidden, w, v, false, true, 1f, 0f);
        Bias.add(v, bias);
    }

    /** {@code dw += Σ dvalues·hidden}, {@code dbias += Σ dvalues}, {@code dhidden = dvalues·w} (overwritten). */
    public void backward(Tensor dvalues, Tensor hidden, Tensor dhidden) {
        long[] bt = check("hidden", hidden);
        requireShape("dvalues", dvalues, bt[0], bt[1]);
        requireShape("dhidden", dhidden, bt[0], bt[1], nEmbd);
        long n = bt[0] * bt[1];
        Tensor dv = dvalues.view(0, n, 1);
        Bias.backward(dv, dbias);
        Matmul.matmul(dv, hidden, dw, true, false, 1f, 1f);
        Matmul.matmul(dv, w, dhidden, false, false, 1f, 0f);
    }

    /** A new head with a copy of these parameters (same device); gradients zero. */
    public ScalarHead copy() {
        ScalarHead c = new ScalarHead(nEmbd, device);
        c.params.copyFrom(params);
        return c;
    }

    /** The flat parameters {@code [C + 1]}: w then bias. */
    public Tensor params() {
        return params;
    }

    /** The flat gradients, same layout. */
    public Tensor grads() {
        return grads;
    }

    public void zeroGrad() {
        grads.zero();
    }

    public int nEmbd() {
        return nEmbd;
    }

    public Device device() {
        return device;
    }

    private long[] check(String name, Tensor hidden) {
        if (hidden == null) throw new IllegalArgumentException(name + " must not be null");
        if (hidden.rank() != 3 || hidden.dim(2) != nEmbd)
            throw new IllegalArgumentException(name + " must have shape [B, T, " + nEmbd + "], got " + hidden.describe());
        return new long[] {hidden.dim(0), hidden.dim(1)};
    }

    private static void requireShape(String name, Tensor t, long... shape) {
        if (t == null) throw new IllegalArgumentException(name + " must not be null");
        if (!Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException(name + " must have shape " + Arrays.toString(shape) + ", got " + t.describe());
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(name + " must be F32, got " + t.describe());
    }

    /** Writes {@code score.weight [1, C]} and {@code score.bias [1]} to {@code file} (atomically). */
    public void save(java.nio.file.Path file) throws java.io.IOException {
        writer().write(file);
    }

    /** The bytes {@link #save} writes (for a folder written as a whole, see {@link RewardModel#save}). */
    public byte[] toBytes() throws java.io.IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        writer().writeTo(java.nio.channels.Channels.newChannel(out));
        return out.toByteArray();
    }

    private SafeTensorsWriter writer() {
        float[] p = params.toFloatArray();
        return new SafeTensorsWriter()
                .metadata("format", "align4j-scalar-head-v1")
                .putFloats("score.weight", Arrays.copyOf(p, nEmbd), 1, nEmbd)
                .putFloats("score.bias", new float[] {p[nEmbd]}, 1);
    }

    /** Reads a head written by {@link #save}; a wrong shape or a non-finite weight names the tensor and the file. */
    public static ScalarHead load(java.nio.file.Path file, int nEmbd, Device device) throws java.io.IOException {
        float[] w, b;
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            w = f.finiteFloats("score.weight", 1, nEmbd);
            b = f.finiteFloats("score.bias", 1);
        }
        ScalarHead h = new ScalarHead(nEmbd, device);
        float[] p = Arrays.copyOf(w, nEmbd + 1);
        p[nEmbd] = b[0];
        h.params.copyFrom(p);
        return h;
    }

    @Override
    public void close() {
        scope.close();
    }
}
