package dev.align4j.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How {@link CausalLm#save} writes a model folder: the weights' dtype (F32 by default: exact, what resuming needs;
 * BF16 or F16 halve the size, rounded to nearest even as torch does), {@code __metadata__} entries in every
 * safetensors file (a training step), and extra files written beside the weights byte for byte (a reward model's
 * head), and the largest shard (5 GB by default, as transformers). A model also writes the tokenizer files it was loaded with ({@link CausalLm#carriedFiles()}).
 */
public record SaveOptions(SafeTensorsDType dtype, Map<String, String> metadata, Map<String, byte[]> files,
                          long maxShardBytes) {
    public static final SaveOptions DEFAULT = new SaveOptions(SafeTensorsDType.F32, Map.of(), Map.of(),
            HfCheckpointWriter.DEFAULT_MAX_SHARD_BYTES);

    public SaveOptions {
        if (dtype != SafeTensorsDType.F32 && dtype != SafeTensorsDType.BF16 && dtype != SafeTensorsDType.F16)
            throw new IllegalArgumentException("weights are saved as F32, BF16 or F16, not " + dtype);
        if (maxShardBytes < 1) throw new IllegalArgumentException("maxShardBytes must be >= 1, got " + maxShardBytes);
        metadata = Map.copyOf(metadata);
        files = Map.copyOf(files);
    }

    public SaveOptions withDtype(SafeTensorsDType d) {
        return new SaveOptions(d, metadata, files, maxShardBytes);
    }

    public SaveOptions withMetadata(String key, String value) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.put(key, value);
        return new SaveOptions(dtype, m, files, maxShardBytes);
    }

    public SaveOptions withFile(String name, byte[] content) {
        Map<String, byte[]> f = new LinkedHashMap<>(files);
        f.put(name, content);
        return new SaveOptions(dtype, metadata, f, maxShardBytes);
    }

    /** Shards of at most {@code bytes} of tensor data each (transformers' max_shard_size). */
    public SaveOptions withMaxShardBytes(long bytes) {
        return new SaveOptions(dtype, metadata, files, bytes);
    }

    /** The writer for {@code configJson} with these options and {@code carried} files (an option's file wins). */
    HfCheckpointWriter writer(String configJson, Map<String, byte[]> carried) {
        HfCheckpointWriter w = new HfCheckpointWriter(configJson).dtype(dtype).maxShardBytes(maxShardBytes);
        for (Map.Entry<String, String> m : metadata.entrySet()) w.metadata(m.getKey(), m.getValue());
        for (Map.Entry<String, byte[]> f : carried.entrySet())
            if (!files.containsKey(f.getKey())) w.file(f.getKey(), f.getValue());
        for (Map.Entry<String, byte[]> f : files.entrySet()) w.file(f.getKey(), f.getValue());
        return w;
    }
}
