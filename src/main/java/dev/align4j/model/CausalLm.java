package dev.align4j.model;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.SharedPrefixBatch;

import dev.align4j.tensor.Device;
import dev.align4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A decoder-only causal LM as the trainers, the generator, the evaluators, the reward model and the CLI see it,
 * whatever its family: {@link Gpt} (model_type gpt2) or {@link Llama} (llama, mistral, qwen2, qwen3), chosen by
 * {@code config.json}'s {@code model_type} ({@link #load}, {@link #create}).
 *
 * <p>Parameters live in one flat F32 buffer ({@link #params()}) with named views ({@link #param}, Hugging Face
 * names, linear weights {@code [out, in]}; {@link #layout()}); the gradients mirror them. A forward on
 * {@code tokens [B, T]} keeps the final hidden states ({@link #hidden()}), and with targets the per-token
 * log-probs ({@link #logProbs()}, optionally {@link #entropy()}) and the masked mean loss. Backwards take the
 * upstream gradient of the log-probs (and entropies) and/or of the hidden states (a {@link ScalarHead}), and
 * ACCUMULATE into {@link #grads()}. See {@link Gpt} for the exact contract of each method; {@link Llama} keeps
 * the same one. Not thread-safe.
 */
public interface CausalLm extends AutoCloseable {
    LmConfig config();

    Device device();

    ParamLayout layout();

    /** The flat parameter buffer (every parameter, in {@link #layout()} order). */
    Tensor params();

    /**
     * The flat gradient buffer, same offsets as {@link #params()}; allocated on first use (a model whose base is frozen
     * by LoRA adapters never computes into it: its trainable gradients are {@link LoraAdapters#grads()}).
     */
    Tensor grads();

    /** The named parameter view (Hugging Face names; linear weights {@code [out, in]}). */
    Tensor param(String name);

    /** The named gradient view. */
    Tensor grad(String name);

    /** Copies {@code values} into the named parameter. */
    void setParam(String name, float[] values);

    void zeroGrad();

    /** The family's own initialisation from {@code seed} (GPT-2's, or Hugging Face's Llama init). */
    void initialize(long seed);

    /** A new model with a copy of these weights and adapters (same config and device); gradients zero, no activations. */
    CausalLm copy();

    /**
     * Attaches LoRA adapters (A from {@code seed}, B zero: the model computes what it did) to the linear modules that
     * {@code config} targets (its family's defaults when it names none) and freezes the base: from now on backwards
     * accumulate into the adapters' gradients only, {@link #save} writes the adapters in PEFT's format, and
     * {@link #copy} copies them. At most one set per model.
     */
    LoraAdapters attachLora(LoraConfig config, long seed);

    /** The attached LoRA adapters, or null. */
    LoraAdapters lora();

    /**
     * This model computing its base alone: every forward with the adapters switched off (the same kernels, bit for bit
     * the base's), sharing this model's weights and buffers (a forward on either overwrites the other's activations);
     * no backward. The reference policy of DPO, PPO and GRPO without a second model. Closing it closes nothing.
     */
    default CausalLm adaptersOff() {
        return new AdaptersOff(this);
    }

    /**
     * Calls {@code listener} with a layer's index as soon as a backward has completed that layer's trainable gradients
     * (the last layer first): what lets a data-parallel job all-reduce them while the earlier layers' backward runs.
     * Null removes it.
     */
    void onLayerGradients(java.util.function.IntConsumer listener);

    /**
     * The elements {@code [start, end)} of the trainable gradient buffer ({@link #grads()}, or with LoRA the adapters'
     * {@link LoraAdapters#grads()}) that hold layer {@code layer}'s gradients.
     */
    long[] layerGradRange(int layer);

    /** The folder the base weights were loaded from (absolute), or null for a model made in memory. */
    java.nio.file.Path source();

    /** LM head in chunks of {@code rows} rows (0 = the full logits); see {@link Gpt#setLogitsChunkRows}. */
    void setLogitsChunkRows(int rows);

    int logitsChunkRows();

    /** Whether forwards with targets also compute the per-token entropy (see {@link Gpt#setComputeEntropy}). */
    void setComputeEntropy(boolean on);

    /** Bytes held by the activations of the current (B, T) (0 before the first forward). */
    long activationBytes();

    /** See {@link Gpt#forward(Tensor, Tensor, Tensor)}. */
    float forward(Tensor tokens, Tensor targets, Tensor lossMask);

    /** Forward on Java arrays (row-major [B, T]); {@code targets} and {@code lossMask} may be null. */
    float forward(int[] tokens, int[] targets, float[] lossMask, int b, int t);

    /**
     * Whether {@link #forward(SharedPrefixBatch)} runs: every family, but not while LoRA adapters train (their saved
     * inputs hold one pass). Otherwise a caller forwards the full rows.
     */
    boolean sharesPrefixes();

    /**
     * Forward on rows that share prompt prefixes, each prefix run once (see {@link SharedPrefixBatch}): the loss,
     * log-probs, entropies, hidden states and backward are those of {@code batch.rows()}'s layout, with the values
     * the full rows give (to float rounding: the attention sums the same keys in another layout). Throws
     * UnsupportedOperationException where {@link #sharesPrefixes()} is false.
     */
    float forward(SharedPrefixBatch batch);

    /**
     * Forward on preference pairs, the chosen rows then the rejected rows ({@link SequenceBatch#ofPairs}), each
     * pair's prompt run once when {@link #sharesPrefixes()}; returns the rows in the layout of the outputs (their
     * mask and lengths are the pairs' either way).
     */
    default SequenceBatch forwardPairs(java.util.List<dev.align4j.data.TokenizedPair> pairs, int padId) {
        if (sharesPrefixes()) {
            SharedPrefixBatch sp = SharedPrefixBatch.ofPairs(pairs, padId);
            forward(sp);
            return sp.rows();
        }
        SequenceBatch sb = SequenceBatch.ofPairs(pairs, padId);
        forward(sb.inputs(), sb.targets(), sb.mask(), sb.b(), sb.t());
        return sb;
    }

    Tensor logits();

    Tensor logProbs();

    Tensor entropy();

    Tensor hidden();

    void backward();

    void backward(double normalizer);

    void backward(Tensor dlogp);

    void backward(Tensor dlogp, Tensor dhidden);

    void backward(Tensor dlogp, Tensor dentropy, Tensor dhidden);

    /** A KV-cache decoder for {@code batch} sequences of up to {@code maxT} slots (maxT ≤ nCtx). */
    Decoder decoder(int batch, int maxT);

    /**
     * Writes {@code dir} in Hugging Face's layout for this family (config.json, the safetensors weights, sharded
     * above 5 GB, and {@link #carriedFiles()}), as a whole: an interrupted save leaves the previous folder intact.
     * With LoRA adapters attached, the adapters in PEFT's format instead ({@link PeftAdapter#save}), pointing at
     * the base's folder.
     */
    default void save(Path dir) throws IOException {
        save(dir, SaveOptions.DEFAULT);
    }

    /** As {@link #save(Path)}, with a dtype, metadata and extra files ({@link SaveOptions}). */
    void save(Path dir, SaveOptions options) throws IOException;

    /** Writes the base model's folder (its weights without any adapter), as {@link #save} does without adapters. */
    void saveBase(Path dir, SaveOptions options) throws IOException;

    /**
     * The small files of the folder this model was loaded from that describe its tokens (tokenizer.json,
     * tokenizer_config.json, generation_config.json, ...: {@link CausalLmBase#CARRIED_FILES}), written again by every
     * {@link #save} so that a trained model keeps its tokenizer and chat template. Empty for a fresh model.
     */
    Map<String, byte[]> carriedFiles();

    @Override
    void close();

    /**
     * A Hugging Face model folder of any supported family ({@code config.json}'s model_type), or a PEFT LoRA adapter
     * folder ({@code adapter_config.json}): its base loaded from {@code base_model_name_or_path} with the adapters
     * attached ({@link PeftAdapter#load}).
     */
    static CausalLm load(Path dir, Device device) throws IOException {
        if (PeftAdapter.isAdapterFolder(dir)) return PeftAdapter.load(dir, null, device);
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) throw new IOException(dir + ": no config.json (not a Hugging Face model folder)");
        LmConfig c = LmConfig.read(config);
        return c instanceof LlamaConfig ? Llama.load(dir, device) : Gpt.load(dir, device);
    }

    /** A new model of {@code config}'s family, initialised from {@code seed}. */
    static CausalLm create(LmConfig config, Device device, long seed) {
        if (config instanceof LlamaConfig lc) return Llama.create(lc, device, seed);
        if (config instanceof GptConfig gc) return Gpt.create(gc, device, seed);
        throw new IllegalArgumentException("unsupported config " + config);
    }
}
