package dev.align4j.model;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.align4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Writes a model folder in Hugging Face's layout, for any architecture, so that transformers'
 * {@code AutoModelForCausalLM.from_pretrained(dir)} loads it and {@link SafeTensorsCheckpoint#open} reads it back:
 *
 * <ul>
 *   <li>{@code config.json}: the config given, with {@code torch_dtype} set to the dtype written ("float32",
 *       "bfloat16", "float16"; also {@code dtype}, transformers' newer name, where the config has that key);</li>
 *   <li>{@code model.safetensors} when all tensors fit in one shard, else {@code model-00001-of-0000N.safetensors}
 *       shards and {@code model.safetensors.index.json} ({@code metadata.total_size}: the tensors' bytes;
 *       {@code weight_map}: tensor to shard, keys sorted), as {@code save_pretrained} writes them;</li>
 *   <li>every safetensors file with {@code __metadata__ {"format": "pt"}} (transformers refuses a file without it);</li>
 *   <li>extra files the caller adds ({@link #file}: tokenizer.json, generation_config.json, ...), byte for byte.</li>
 * </ul>
 *
 * <p>Sharding follows huggingface_hub's greedy rule: tensors in the order given fill a shard until the next one would
 * take it past {@link #maxShardBytes} (default {@value #DEFAULT_MAX_SHARD_BYTES} bytes, transformers' "5GB"); a
 * tensor larger than the limit gets a shard of its own. Only the tensors' bytes count, not the headers.
 *
 * <p>Tensors are given as {@code float[]} and stored as F32, BF16 or F16 (BF16 and F16 rounded to nearest even,
 * bit for bit as torch's {@code .to(dtype)}, {@link SafeTensorsDType#floatToBfloat16}). A NaN or infinite weight is
 * refused, as is a finite one that the chosen dtype cannot hold (above 65504 in F16, about 3.39e38 in BF16): the
 * error names the tensor, the element's index and its value. transformers would save such a tensor as it is; a
 * checkpoint that computes NaN is never what a trainer meant to save, and align4j's own loaders refuse it.
 * Everything is checked before a byte is written.
 *
 * <p>The folder appears as a whole ({@link AtomicFiles#replaceDirectory}): written into a temporary sibling,
 * forced to disk, renamed. A save that fails or is interrupted leaves the previous folder as it was. A folder that
 * already holds files this save would not write (a tokenizer, say) is not replaced: add them with {@link #file}.
 *
 * <pre>{@code
 * new HfCheckpointWriter(Files.readString(src.resolve("config.json")))
 *         .dtype(SafeTensorsDType.BF16)
 *         .tensor("model.embed_tokens.weight", embed, vocab, hidden)
 *         ...
 *         .file("tokenizer.json", Files.readAllBytes(src.resolve("tokenizer.json")))
 *         .write(out);
 * }</pre>
 *
 * <p>The arrays are not copied: they must not change until {@link #write} returns. Whether the tensors are the
 * ones the architecture needs (names, shapes, tied heads) is the model's business, not this class's.
 */
public final class HfCheckpointWriter {
    /** transformers' default {@code max_shard_size="5GB"}: 5·10^9 bytes (huggingface_hub counts GB in powers of ten). */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;
    public static final String CONFIG_FILE = "config.json";
    public static final String SINGLE_FILE = SafeTensorsCheckpoint.SINGLE_FILE;
    public static final String INDEX_FILE = SafeTensorsCheckpoint.INDEX_FILE;
    private static final Pattern SHARD_FILE = Pattern.compile("model-\\d{5}-of-\\d{5}\\.safetensors");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tensor: its shape and its values, row-major. */
    public record Weight(long[] shape, float[] data) {
        public Weight {
            if (shape == null || data == null) throw new IllegalArgumentException("a weight needs a shape and data");
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    /** What {@link #write} wrote: the safetensors files in order, and the tensors' bytes in all. */
    public record Saved(Path dir, List<String> weightFiles, long totalSize) {
        public Saved {
            weightFiles = List.copyOf(weightFiles);
        }

        public boolean sharded() {
            return weightFiles.size() > 1 || !weightFiles.get(0).equals(SINGLE_FILE);
        }
    }

    private final ObjectNode config;
    private final Map<String, Weight> tensors = new LinkedHashMap<>();
    private final Map<String, byte[]> files = new LinkedHashMap<>();
    private final Map<String, String> metadata = new TreeMap<>();
    private SafeTensorsDType dtype = SafeTensorsDType.F32;
    private long maxShardBytes = DEFAULT_MAX_SHARD_BYTES;

    /**
     * A writer for a model whose {@code config.json} is {@code configJson}: a JSON object with a string
     * {@code model_type} (transformers' Auto classes dispatch on it). The text is parsed now; a malformed one fails
     * with its line and column.
     */
    public HfCheckpointWriter(String configJson) {
        if (configJson == null) throw new IllegalArgumentException("config: must not be null");
        JsonNode root;
        try {
            root = JSON.readTree(configJson);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at " + at.getLineNr() + ":" + at.getColumnNr();
            throw new IllegalArgumentException("config: not valid JSON" + where + ": " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("config: must be a JSON object");
        JsonNode type = root.get("model_type");
        if (type == null || !type.isTextual() || type.textValue().isEmpty())
            throw new IllegalArgumentException("config: needs a string \"model_type\" (transformers' Auto classes dispatch on it)");
        this.config = (ObjectNode) root;
    }

    /** The dtype of every tensor written: F32 (default), BF16 or F16. */
    public HfCheckpointWriter dtype(SafeTensorsDType dtype) {
        if (dtype != SafeTensorsDType.F32 && dtype != SafeTensorsDType.BF16 && dtype != SafeTensorsDType.F16)
            throw new IllegalArgumentException("dtype: weights are saved as F32, BF16 or F16, not " + dtype);
        this.dtype = dtype;
        return this;
    }

    /** The most tensor bytes one shard holds (≥ 1); beyond it the weights are sharded. */
    public HfCheckpointWriter maxShardBytes(long bytes) {
        if (bytes < 1) throw new IllegalArgumentException("maxShardBytes must be >= 1, got " + bytes);
        this.maxShardBytes = bytes;
        return this;
    }

    /** Adds tensor {@code name} (row-major {@code data} of {@code shape}); the order of calls is the order of the shards. */
    public HfCheckpointWriter tensor(String name, float[] data, long... shape) {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("tensor name must be non-empty");
        if (name.equals(SafeTensorsFile.METADATA_KEY))
            throw new IllegalArgumentException("tensor name '" + name + "' is reserved for the metadata");
        if (data == null) throw new IllegalArgumentException("tensor '" + name + "': data must not be null");
        if (shape == null) throw new IllegalArgumentException("tensor '" + name + "': shape must not be null");
        long numel = 1;
        boolean overflow = false;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException e) {
                overflow = true;
            }
        }
        if (overflow || numel != data.length)
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " does not match the array's "
                    + data.length + " elements");
        if (tensors.containsKey(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        tensors.put(name, new Weight(shape, data));
        return this;
    }

    /** Adds every tensor of {@code weights}, in its iteration order. */
    public HfCheckpointWriter tensors(Map<String, Weight> weights) {
        if (weights == null) throw new IllegalArgumentException("tensors: must not be null");
        for (Map.Entry<String, Weight> e : weights.entrySet()) {
            if (e.getValue() == null) throw new IllegalArgumentException("tensor '" + e.getKey() + "': no weight");
            tensor(e.getKey(), e.getValue().data(), e.getValue().shape);
        }
        return this;
    }

    /**
     * Adds a file written beside the weights, byte for byte (e.g. {@code tokenizer.json}): a plain file name, not one
     * this writer produces itself.
     */
    public HfCheckpointWriter file(String name, byte[] content) {
        if (name == null || name.isEmpty() || name.contains("/") || name.contains("\\") || name.equals(".") || name.equals("..")
                || name.indexOf('\0') >= 0)
            throw new IllegalArgumentException("file name '" + name + "' is not a plain file name");
        if (isOwnFile(name)) throw new IllegalArgumentException("file " + name + " is written by the checkpoint writer itself");
        if (content == null) throw new IllegalArgumentException("file " + name + ": content must not be null");
        if (files.putIfAbsent(name, content.clone()) != null) throw new IllegalArgumentException("file " + name + " added twice");
        return this;
    }

    /** Adds one {@code __metadata__} entry to every safetensors file ({@code format} is always "pt"). */
    public HfCheckpointWriter metadata(String key, String value) {
        if (key == null || value == null) throw new IllegalArgumentException("metadata key and value must not be null");
        if (key.equals("format")) throw new IllegalArgumentException("metadata 'format' is always \"pt\"");
        metadata.put(key, value);
        return this;
    }

    /** Writes {@code weights} with {@code configJson} as {@code dtype} to {@code dir}, sharded at transformers' default. */
    public static Saved save(Path dir, String configJson, Map<String, Weight> weights, SafeTensorsDType dtype) throws IOException {
        return new HfCheckpointWriter(configJson).dtype(dtype).tensors(weights).write(dir);
    }

    /** The names of the files written by the writer itself (a file of {@link #file} may not take them). */
    static boolean isOwnFile(String name) {
        return name.equals(CONFIG_FILE) || name.equals(SINGLE_FILE) || name.equals(INDEX_FILE) || SHARD_FILE.matcher(name).matches();
    }

    /** The name {@code torch_dtype} gives {@code dtype}. */
    public static String torchDtype(SafeTensorsDType dtype) {
        return switch (dtype) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> throw new IllegalArgumentException("no torch dtype for weights of " + dtype);
        };
    }

    /** The config.json text that {@link #write} writes. */
    public String configJson() {
        ObjectNode out = config.deepCopy();
        out.put("torch_dtype", torchDtype(dtype));
        if (out.has("dtype")) out.put("dtype", torchDtype(dtype));
        return pretty(out);
    }

    /** Which shard each tensor goes to: lists of names, in order (see the class comment). */
    List<List<String>> shards() {
        List<List<String>> out = new ArrayList<>();
        List<String> current = new ArrayList<>();
        long size = 0;
        for (Map.Entry<String, Weight> e : tensors.entrySet()) {
            long bytes = (long) e.getValue().data().length * dtype.bytes();
            if (!current.isEmpty() && (bytes > maxShardBytes || size + bytes > maxShardBytes)) {
                out.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(e.getKey());
            size += bytes;
        }
        if (!current.isEmpty()) out.add(current);
        return out;
    }

    /**
     * Writes the folder {@code dir} (see the class comment), replacing a previous checkpoint there as a whole. Fails
     * before writing anything when there is no tensor, a value is not finite or does not fit the dtype, or
     * {@code dir} holds files this save would not write.
     */
    public Saved write(Path dir) throws IOException {
        if (dir == null) throw new IllegalArgumentException("dir must not be null");
        if (tensors.isEmpty()) throw new IllegalArgumentException("no tensors to save");
        for (Map.Entry<String, Weight> e : tensors.entrySet()) checkValues(e.getKey(), e.getValue());
        List<List<String>> shards = shards();
        int n = shards.size();
        if (n > 99_999) throw new IllegalArgumentException(n + " shards (more than 99999): raise maxShardBytes");
        List<String> fileNames = new ArrayList<>();
        for (int i = 0; i < n; i++)
            fileNames.add(n == 1 ? SINGLE_FILE : String.format("model-%05d-of-%05d.safetensors", i + 1, n));
        String configText = configJson();
        long total = 0;
        for (Weight w : tensors.values()) total += (long) w.data().length * dtype.bytes();
        String indexText = n == 1 ? null : index(shards, fileNames, total);
        Set<String> extra = files.keySet();
        AtomicFiles.replaceDirectory(dir, name -> isOwnFile(name) || extra.contains(name), tmp -> {
            for (int i = 0; i < n; i++) {
                SafeTensorsWriter w = new SafeTensorsWriter();
                w.metadata("format", "pt");
                for (Map.Entry<String, String> m : metadata.entrySet()) w.metadata(m.getKey(), m.getValue());
                for (String name : shards.get(i)) {
                    Weight t = tensors.get(name);
                    w.putFloats(name, t.data(), dtype, t.shape);
                }
                writeFile(tmp.resolve(fileNames.get(i)), w::writeTo);
            }
            if (indexText != null) writeFile(tmp.resolve(INDEX_FILE), bytes(indexText));
            writeFile(tmp.resolve(CONFIG_FILE), bytes(configText));
            for (Map.Entry<String, byte[]> f : files.entrySet()) writeFile(tmp.resolve(f.getKey()), bytes(f.getValue()));
        });
        return new Saved(dir, fileNames, total);
    }

    private static String index(List<List<String>> shards, List<String> fileNames, long total) {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("metadata").put("total_size", total);
        Map<String, String> map = new TreeMap<>();
        for (int i = 0; i < shards.size(); i++) for (String name : shards.get(i)) map.put(name, fileNames.get(i));
        ObjectNode wm = root.putObject("weight_map");
        for (Map.Entry<String, String> e : map.entrySet()) wm.put(e.getKey(), e.getValue());
        return pretty(root);
    }

    /** {@code "key": value} with a 2-space indent and a final newline, as Python's json.dumps(indent=2) in save_pretrained. */
    private static String pretty(JsonNode node) {
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter(Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                .withArrayEmptySeparator("").withObjectEmptySeparator(""))
                .withArrayIndenter(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
        try {
            return JSON.writer(pp).writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree of JSON nodes always serialises
        }
    }

    /**
     * Every element finite and representable in the dtype once rounded; otherwise an error naming the tensor, the
     * element (flat index and coordinates) and its value.
     */
    private void checkValues(String name, Weight w) {
        float[] a = w.data();
        for (int i = 0; i < a.length; i++) {
            float v = a[i];
            boolean ok = switch (dtype) {
                case BF16 -> Float.isFinite(v) && (SafeTensorsDType.floatToBfloat16(v) & 0x7fff) != 0x7f80;
                case F16 -> Float.isFinite(v) && (SafeTensorsDType.floatToHalf(v) & 0x7fff) != 0x7c00;
                default -> Float.isFinite(v);
            };
            if (ok) continue;
            String what = Float.isFinite(v) ? "overflows " + dtype + " (largest finite "
                    + (dtype == SafeTensorsDType.F16 ? "65504" : "3.3895e38") + "; it would be saved as infinity)"
                    : "is not finite";
            throw new IllegalArgumentException("tensor '" + name + "' element " + i + " " + coordinates(i, w.shape) + " = " + v
                    + " " + what + "; refusing to save it");
        }
    }

    private static String coordinates(long flat, long[] shape) {
        long[] at = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            at[d] = flat % shape[d];
            flat /= shape[d];
        }
        return Arrays.toString(at);
    }

    private static AtomicFiles.Body bytes(String text) {
        return bytes(text.getBytes(StandardCharsets.UTF_8));
    }

    private static AtomicFiles.Body bytes(byte[] content) {
        return ch -> AtomicFiles.writeFully(ch, ByteBuffer.wrap(content));
    }

    /** A new file in the temporary folder (the folder's rename is the atomic step; the file is forced there). */
    private static void writeFile(Path path, AtomicFiles.Body body) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            body.writeTo(ch);
        }
    }
}
