package dev.align4j.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (<code>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {string: string}}</code>,
 * possibly padded with trailing spaces), then the data buffer, offsets relative to its start.
 *
 * <p>{@link #open} reads and validates the whole header the way the reference implementation (the
 * safetensors crate) does, so a file it accepts is one Hugging Face accepts: known dtypes, non-negative
 * integer shapes, {@code end - begin == numel * dtype size}, and the tensors' byte ranges, sorted, tile the
 * buffer exactly (no overlap, no gap, nothing after the last one, no truncation). Tensor data is then read on
 * demand with positional reads (not memory-mapped: a mapping cannot be released deterministically in Java 17
 * and is limited to 2 GiB), so opening a large checkpoint is cheap and reading is thread-safe.
 *
 * <p>Every error is a {@link SafeTensorsException} naming the file and, where there is one, the tensor.
 */
public final class SafeTensorsFile implements AutoCloseable {
    /** Key of the optional string-to-string metadata map in the header. */
    public static final String METADATA_KEY = "__metadata__";
    /** Largest header accepted, as in the safetensors crate (guards against allocating a bogus length). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final int CHUNK = 1 << 20;
    // Duplicate keys inside an entry fail while building its tree; duplicate tensor names are caught by hand.
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

    /** One tensor's header entry. {@code begin}/{@code end} are relative to the start of the data buffer. */
    public record TensorInfo(String name, SafeTensorsDType dtype, long[] shape, long begin, long end) {
        public TensorInfo {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Number of elements (1 for a scalar, shape []). */
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public long nbytes() {
            return end - begin;
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape);
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors; // in header order
    private final Map<String, String> metadata;

    private SafeTensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates {@code path}; the header is checked completely, the data is read later. */
    public static SafeTensorsFile open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            return parse(path, ch);
        } catch (Throwable t) {
            try {
                ch.close();
            } catch (IOException e) {
                t.addSuppressed(e);
            }
            throw t;
        }
    }

    private static SafeTensorsFile parse(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8)
            throw new SafeTensorsException(path + ": truncated: " + size
                    + " bytes, too short for the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(path, ch, lenBuf, 0, "the header length");
        long n = lenBuf.flip().getLong(); // a u64: above 2^63 it reads negative here
        if (n < 0 || n > size - 8)
            throw new SafeTensorsException(path + ": header length " + Long.toUnsignedString(n)
                    + " exceeds the file size (" + size + " bytes): truncated or not a safetensors file");
        if (n > MAX_HEADER_BYTES)
            throw new SafeTensorsException(path + ": header length " + n + " exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        ByteBuffer headerBuf = ByteBuffer.allocate((int) n);
        readFully(path, ch, headerBuf, 8, "the header");
        headerBuf.flip();
        String header;
        try {
            header = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBuf).toString();
        } catch (CharacterCodingException e) {
            throw new SafeTensorsException(path + ": header is not valid UTF-8", e);
        }
        if (!header.startsWith("{"))
            throw new SafeTensorsException(path + ": header does not start with '{' (not a safetensors file?)");

        Map<String, JsonNode> entries = parseTopLevel(path, header);
        long bufferSize = size - 8 - n;
        Map<String, String> metadata = Collections.emptyMap();
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : entries.entrySet()) {
            if (e.getKey().equals(METADATA_KEY)) metadata = parseMetadata(path, e.getValue());
            else tensors.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue()));
        }
        checkTiling(path, tensors.values(), bufferSize);
        return new SafeTensorsFile(path, ch, 8 + n, Collections.unmodifiableMap(tensors), metadata);
    }

    /** The top-level object's members in order; duplicate names (the JSON allows them, we do not) fail. */
    private static Map<String, JsonNode> parseTopLevel(Path path, String header) throws SafeTensorsException {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        try (JsonParser p = JSON.createParser(header)) {
            if (p.nextToken() != JsonToken.START_OBJECT)
                throw new SafeTensorsException(path + ": header is not a JSON object");
            // Member by member, so a duplicate tensor name is reported as such (with the name).
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                JsonNode value;
                try {
                    value = JSON.readTree(p);
                } catch (JsonProcessingException e) {
                    throw new SafeTensorsException(path + ": " + (name.equals(METADATA_KEY) ? METADATA_KEY : "tensor '" + name + "'")
                            + ": header entry is not valid JSON: " + e.getOriginalMessage(), e);
                }
                if (value == null) value = com.fasterxml.jackson.databind.node.NullNode.getInstance();
                if (out.put(name, value) != null)
                    throw new SafeTensorsException(path + ": header: duplicate tensor name '" + name + "'");
            }
            if (t != JsonToken.END_OBJECT) throw new SafeTensorsException(path + ": header: malformed JSON object");
            if (p.nextToken() != null)
                throw new SafeTensorsException(path + ": header: unexpected data after the JSON object");
        } catch (JsonProcessingException e) {
            throw new SafeTensorsException(path + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            if (e instanceof SafeTensorsException se) throw se;
            throw new SafeTensorsException(path + ": header is not valid JSON: " + e.getMessage(), e);
        }
        return out;
    }

    private static Map<String, String> parseMetadata(Path path, JsonNode node) throws SafeTensorsException {
        if (!node.isObject())
            throw new SafeTensorsException(path + ": header: " + METADATA_KEY + " must be an object of strings");
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual())
                throw new SafeTensorsException(path + ": header: " + METADATA_KEY + " value of '" + e.getKey()
                        + "' must be a string, got " + e.getValue());
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode node) throws SafeTensorsException {
        String where = path + ": tensor '" + name + "'";
        if (!node.isObject()) throw new SafeTensorsException(where + ": header entry must be an object, got " + node);
        // Other fields are ignored, as the safetensors crate ignores them.
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) throw new SafeTensorsException(where + ": missing or non-string dtype");
        SafeTensorsDType dtype = SafeTensorsDType.parse(dt.textValue());
        if (dtype == null) throw new SafeTensorsException(where + ": unknown dtype '" + dt.textValue() + "'");
        long[] shape = longs(where, node.get("shape"), "shape", -1);
        long[] offsets = longs(where, node.get("data_offsets"), "data_offsets", 2);
        long begin = offsets[0], end = offsets[1];
        if (end < begin)
            throw new SafeTensorsException(where + ": data_offsets [" + begin + ", " + end + "] end before begin");
        long nbytes;
        try {
            long numel = 1;
            for (long d : shape) numel = Math.multiplyExact(numel, d);
            nbytes = Math.multiplyExact(numel, (long) dtype.bytes());
        } catch (ArithmeticException e) {
            throw new SafeTensorsException(where + ": shape " + Arrays.toString(shape) + " overflows");
        }
        if (end - begin != nbytes)
            throw new SafeTensorsException(where + ": data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin) + " bytes but " + dtype + Arrays.toString(shape) + " needs " + nbytes);
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** A JSON array of non-negative integers (of length {@code len} unless it is -1). */
    private static long[] longs(String where, JsonNode node, String field, int len) throws SafeTensorsException {
        if (node == null || !node.isArray())
            throw new SafeTensorsException(where + ": missing or non-array " + field);
        if (len >= 0 && node.size() != len)
            throw new SafeTensorsException(where + ": " + field + " must have " + len + " entries, got " + node);
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0)
                throw new SafeTensorsException(where + ": " + field + "[" + i + "] must be a non-negative integer, got " + v);
            out[i] = v.longValue();
        }
        return out;
    }

    /** Sorted by offset, the byte ranges must cover [0, bufferSize) exactly, as the safetensors crate demands. */
    private static void checkTiling(Path path, Iterable<TensorInfo> infos, long bufferSize) throws SafeTensorsException {
        List<TensorInfo> sorted = new ArrayList<>();
        infos.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            String offsets = "data_offsets [" + t.begin() + ", " + t.end() + "] ";
            if (t.end() > bufferSize)
                throw tensorError(path, t.name(), offsets + "run past the end of the data buffer (" + bufferSize
                        + " bytes): file truncated?");
            if (t.begin() < expected)
                throw tensorError(path, t.name(), offsets + "overlap tensor '" + prev.name() + "' [" + prev.begin() + ", "
                        + prev.end() + "]");
            if (t.begin() > expected)
                throw tensorError(path, t.name(), offsets + "leave a gap after byte " + expected + " of the data buffer");
            expected = t.end();
            prev = t;
        }
        if (expected != bufferSize)
            throw new SafeTensorsException(path + ": the data buffer has " + bufferSize + " bytes but the tensors cover "
                    + expected + (prev == null ? "" : " (last: '" + prev.name() + "')") + ": trailing bytes after the last tensor");
    }

    private static void readFully(Path path, FileChannel ch, ByteBuffer dst, long pos, String what) throws IOException {
        while (dst.hasRemaining()) {
            int r = ch.read(dst, pos);
            if (r < 0) throw new SafeTensorsException(path + ": truncated while reading " + what);
            pos += r;
        }
    }

    // ---------------------------------------------------------------------------------------------- queries

    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The header entry of {@code name}; fails naming the file and tensor when there is none. */
    public TensorInfo info(String name) throws SafeTensorsException {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new SafeTensorsException(path + ": no tensor '" + name + "'");
        return t;
    }

    /** All header entries, in header order. */
    public List<TensorInfo> infos() {
        return List.copyOf(tensors.values());
    }

    /** The {@code __metadata__} map (empty when the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * The header entry of {@code name} after checking that it exists, has dtype {@code dtype} and exactly
     * shape {@code shape}; otherwise an error naming the file, the tensor, and what was expected.
     */
    public TensorInfo require(String name, SafeTensorsDType dtype, long... shape) throws SafeTensorsException {
        TensorInfo t = info(name);
        if (t.dtype() != dtype)
            throw tensorError(path, name, "expected dtype " + dtype + ", got " + t.dtype());
        requireShape(t, shape);
        return t;
    }

    /** As {@link #require} for any dtype that widens to F32 exactly (F32, F16, BF16). */
    public TensorInfo requireFloat(String name, long... shape) throws SafeTensorsException {
        TensorInfo t = info(name);
        if (!t.dtype().isExactFloat())
            throw tensorError(path, name, "expected a floating dtype (F32, F16 or BF16), got " + t.dtype());
        requireShape(t, shape);
        return t;
    }

    private void requireShape(TensorInfo t, long[] shape) throws SafeTensorsException {
        if (!Arrays.equals(t.shape, shape))
            throw tensorError(path, t.name(), "expected shape " + Arrays.toString(shape) + ", got "
                    + Arrays.toString(t.shape));
    }

    // ---------------------------------------------------------------------------------------------- data

    /** The tensor as floats; F32 as stored, F16 and BF16 widened exactly. Other dtypes fail. */
    public float[] floats(String name) throws IOException {
        TensorInfo t = info(name);
        float[] out = new float[arrayLength(t)];
        readFloats(name, out, 0);
        return out;
    }

    /** {@link #requireFloat} then {@link #floats}. */
    public float[] floats(String name, long... shape) throws IOException {
        requireFloat(name, shape);
        return floats(name);
    }

    /**
     * {@link #floats(String, long...)} for weights: a NaN or infinite element fails, naming the file, the tensor
     * and the element (checked chunk by chunk as it is read, so no second pass over the data).
     */
    public float[] finiteFloats(String name, long... shape) throws IOException {
        TensorInfo t = requireFloat(name, shape);
        float[] out = new float[arrayLength(t)];
        readFloats(t, out, 0, true);
        return out;
    }

    /**
     * Reads the tensor's elements into {@code dst} from {@code offset} (so a model can load straight into
     * one contiguous parameter array). F32, F16, BF16 only.
     */
    public void readFloats(String name, float[] dst, int offset) throws IOException {
        readFloats(info(name), dst, offset, false);
    }

    private void readFloats(TensorInfo t, float[] dst, int offset, boolean finite) throws IOException {
        String name = t.name();
        readableAs(name, "floats", SafeTensorsDType.F32, SafeTensorsDType.F16, SafeTensorsDType.BF16);
        int n = arrayLength(t);
        if (offset < 0 || offset > dst.length - n)
            throw new IllegalArgumentException("dst: " + n + " elements of '" + name + "' do not fit at offset " + offset
                    + " of an array of " + dst.length);
        int eb = t.dtype().bytes();
        read(t, (buf, at, count) -> {
            switch (t.dtype()) {
                case F32 -> buf.asFloatBuffer().get(dst, offset + at, count);
                case F16 -> {
                    for (int i = 0; i < count; i++) dst[offset + at + i] = SafeTensorsDType.halfToFloat(buf.getShort(i * eb));
                }
                default -> {
                    for (int i = 0; i < count; i++) dst[offset + at + i] = SafeTensorsDType.bfloat16ToFloat(buf.getShort(i * eb));
                }
            }
            if (finite) requireFinite(t, dst, offset + at, count, at);
        });
    }

    /** {@code a[from, from + count)} holds elements {@code first...} of {@code t}; each must be finite. */
    private void requireFinite(TensorInfo t, float[] a, int from, int count, int first) throws SafeTensorsException {
        for (int i = 0; i < count; i++)
            if (!Float.isFinite(a[from + i]))
                throw tensorError(path, t.name(), "element " + (first + i) + " is " + a[from + i]
                        + "; weights must be finite (a diverged run's checkpoint?)");
    }

    /** The tensor as ints; I32 only. */
    public int[] ints(String name) throws IOException {
        TensorInfo t = readableAs(name, "I32 ints", SafeTensorsDType.I32);
        int[] out = new int[arrayLength(t)];
        read(t, (buf, at, count) -> buf.asIntBuffer().get(out, at, count));
        return out;
    }

    /** {@link #require}(name, I32, shape) then {@link #ints}. */
    public int[] ints(String name, long... shape) throws IOException {
        require(name, SafeTensorsDType.I32, shape);
        return ints(name);
    }

    /** The tensor as longs; I64, or I32 widened. */
    public long[] longs(String name) throws IOException {
        TensorInfo t = readableAs(name, "longs", SafeTensorsDType.I64, SafeTensorsDType.I32);
        long[] out = new long[arrayLength(t)];
        if (t.dtype() == SafeTensorsDType.I64) read(t, (buf, at, count) -> buf.asLongBuffer().get(out, at, count));
        else read(t, (buf, at, count) -> {
            for (int i = 0; i < count; i++) out[at + i] = buf.getInt(i * 4);
        });
        return out;
    }

    /** {@link #require}(name, I64, shape) then {@link #longs}. */
    public long[] longs(String name, long... shape) throws IOException {
        require(name, SafeTensorsDType.I64, shape);
        return longs(name);
    }

    /** The tensor's raw little-endian bytes (any dtype). */
    public byte[] bytes(String name) throws IOException {
        TensorInfo t = info(name);
        if (t.nbytes() > Integer.MAX_VALUE - 8)
            throw tensorError(path, name, t.nbytes() + " bytes do not fit a Java array");
        byte[] out = new byte[(int) t.nbytes()];
        ByteBuffer b = ByteBuffer.wrap(out);
        readFully(path, channel, b, dataStart + t.begin(), "tensor '" + name + "'");
        return out;
    }

    /** The header entry of {@code name}, whose dtype must be one of {@code dtypes} (read {@code as} a Java type). */
    private TensorInfo readableAs(String name, String as, SafeTensorsDType... dtypes) throws SafeTensorsException {
        TensorInfo t = info(name);
        if (!Arrays.asList(dtypes).contains(t.dtype()))
            throw tensorError(path, name, "cannot read dtype " + t.dtype() + " as " + as);
        return t;
    }

    /** An error about tensor {@code tensor} of the file {@code path}. */
    private static SafeTensorsException tensorError(Path path, String tensor, String what) {
        return new SafeTensorsException(path + ": tensor '" + tensor + "': " + what);
    }

    private int arrayLength(TensorInfo t) throws SafeTensorsException {
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8)
            throw tensorError(path, t.name(), n + " elements do not fit a Java array");
        return (int) n;
    }

    @FunctionalInterface
    private interface ChunkSink {
        /** {@code buf} (little-endian, position 0) holds elements [at, at + count). */
        void accept(ByteBuffer buf, int at, int count) throws SafeTensorsException;
    }

    private void read(TensorInfo t, ChunkSink sink) throws IOException {
        int eb = t.dtype().bytes();
        long total = t.numel();
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(eb, t.nbytes()))).order(ByteOrder.LITTLE_ENDIAN);
        int perChunk = buf.capacity() / eb;
        long pos = dataStart + t.begin();
        for (long at = 0; at < total; at += perChunk) {
            int count = (int) Math.min(perChunk, total - at);
            buf.clear().limit(count * eb);
            readFully(path, channel, buf, pos, "tensor '" + t.name() + "'");
            buf.flip();
            sink.accept(buf.slice().order(ByteOrder.LITTLE_ENDIAN), (int) at, count);
            pos += (long) count * eb;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "SafeTensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
