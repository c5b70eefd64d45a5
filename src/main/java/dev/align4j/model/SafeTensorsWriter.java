package dev.align4j.model;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.align4j.io.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Builds a safetensors file from F32, I32 and I64 arrays, and from float arrays stored as BF16 or F16. The output is deterministic and laid out as the
 * safetensors crate lays it out: tensors ordered by dtype (8-byte types first, so every tensor stays aligned
 * to its element size) then by name (UTF-8 bytes), {@code __metadata__} first in the header (keys sorted),
 * compact JSON padded with spaces to a multiple of 8 bytes.
 *
 * <p>The arrays are not copied: they must not change until {@link #write} / {@link #writeTo} returns.
 * {@link #write} is atomic (see {@link AtomicFiles}).
 *
 * <pre>{@code
 * new SafeTensorsWriter().metadata("format", "pt").putFloats("w", w, 3, 4).write(path);
 * }</pre>
 */
public final class SafeTensorsWriter {
    private static final int CHUNK = 1 << 20;

    private record Entry(String name, byte[] utf8, SafeTensorsDType dtype, long[] shape, Object data, int length) {}

    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final Map<String, String> metadata = new TreeMap<>();

    public SafeTensorsWriter putFloats(String name, float[] data, long... shape) {
        return put(name, SafeTensorsDType.F32, shape, data, data == null ? -1 : data.length);
    }

    /**
     * Adds {@code data} stored as {@code dtype}: F32 as is, BF16 or F16 narrowed while writing (round to nearest
     * even, {@link SafeTensorsDType#floatToBfloat16} / {@link SafeTensorsDType#floatToHalf}; no copy of the array is
     * made). Narrowing writes what it gives: a float beyond the format's range becomes infinity, as in torch;
     * callers that must not save infinities check first ({@link HfCheckpointWriter} does).
     */
    public SafeTensorsWriter putFloats(String name, float[] data, SafeTensorsDType dtype, long... shape) {
        if (dtype != SafeTensorsDType.F32 && dtype != SafeTensorsDType.BF16 && dtype != SafeTensorsDType.F16)
            throw new IllegalArgumentException("tensor '" + name + "': floats are stored as F32, BF16 or F16, not " + dtype);
        return put(name, dtype, shape, data, data == null ? -1 : data.length);
    }

    public SafeTensorsWriter putInts(String name, int[] data, long... shape) {
        return put(name, SafeTensorsDType.I32, shape, data, data == null ? -1 : data.length);
    }

    public SafeTensorsWriter putLongs(String name, long[] data, long... shape) {
        return put(name, SafeTensorsDType.I64, shape, data, data == null ? -1 : data.length);
    }

    /** Adds (or replaces) one {@code __metadata__} entry. */
    public SafeTensorsWriter metadata(String key, String value) {
        if (key == null || value == null) throw new IllegalArgumentException("metadata key and value must not be null");
        metadata.put(key, value);
        return this;
    }

    private SafeTensorsWriter put(String name, SafeTensorsDType dtype, long[] shape, Object data, int length) {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("tensor name must be non-empty");
        if (name.equals(SafeTensorsFile.METADATA_KEY))
            throw new IllegalArgumentException("tensor name '" + name + "' is reserved for the metadata");
        if (data == null) throw new IllegalArgumentException("tensor '" + name + "': data must not be null");
        if (shape == null) throw new IllegalArgumentException("tensor '" + name + "': shape must not be null");
        long numel = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException overflow) {
                numel = -1; // cannot match any array length; keep scanning for negative dimensions
            }
            if (numel < 0) numel = Long.MIN_VALUE; // sticky: stays negative (0 * MIN_VALUE = 0 is fine: a 0 dim)
        }
        if (numel != length)
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " does not match"
                    + " the array's " + length + " elements");
        if (!names.add(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        entries.add(new Entry(name, name.getBytes(StandardCharsets.UTF_8), dtype, shape.clone(), data, length));
        return this;
    }

    /** Writes the file atomically: temp file in the same directory, fsync, rename over {@code target}. */
    public void write(Path target) throws IOException {
        AtomicFiles.write(target, this::writeTo);
    }

    /** The bytes of the tensors' data (not counting the header): what an index's {@code total_size} adds up. */
    public long dataBytes() {
        long n = 0;
        for (Entry e : entries) n += (long) e.length() * e.dtype().bytes();
        return n;
    }

    /** Writes the file's bytes to {@code out} (not atomic by itself; {@link #write} wraps this). */
    public void writeTo(WritableByteChannel out) throws IOException {
        List<Entry> sorted = ordered();
        AtomicFiles.writeFully(out, ByteBuffer.wrap(header(sorted)));
        ByteBuffer buf = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry e : sorted) {
            int eb = e.dtype().bytes();
            int perChunk = CHUNK / eb;
            for (int at = 0; at < e.length(); at += perChunk) {
                int count = Math.min(perChunk, e.length() - at);
                buf.clear();
                switch (e.dtype()) {
                    case F32 -> buf.asFloatBuffer().put((float[]) e.data(), at, count);
                    case BF16 -> {
                        float[] src = (float[]) e.data();
                        for (int i = 0; i < count; i++) buf.putShort(i * 2, (short) SafeTensorsDType.floatToBfloat16(src[at + i]));
                    }
                    case F16 -> {
                        float[] src = (float[]) e.data();
                        for (int i = 0; i < count; i++) buf.putShort(i * 2, (short) SafeTensorsDType.floatToHalf(src[at + i]));
                    }
                    case I32 -> buf.asIntBuffer().put((int[]) e.data(), at, count);
                    default -> buf.asLongBuffer().put((long[]) e.data(), at, count);
                }
                buf.limit(count * eb);
                AtomicFiles.writeFully(out, buf);
            }
        }
    }

    private List<Entry> ordered() {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparing(Entry::dtype, Comparator.reverseOrder())
                .thenComparing(Entry::utf8, Arrays::compareUnsigned));
        return sorted;
    }

    private byte[] header(List<Entry> sorted) {
        ByteArrayOutputStream json = new ByteArrayOutputStream();
        try (JsonGenerator g = new JsonFactory().createGenerator(json)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafeTensorsFile.METADATA_KEY);
                for (Map.Entry<String, String> m : metadata.entrySet()) g.writeStringField(m.getKey(), m.getValue());
                g.writeEndObject();
            }
            long offset = 0;
            for (Entry e : sorted) {
                long nbytes = (long) e.length() * e.dtype().bytes();
                g.writeObjectFieldStart(e.name());
                g.writeStringField("dtype", e.dtype().name());
                g.writeArrayFieldStart("shape");
                for (long d : e.shape()) g.writeNumber(d);
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                g.writeNumber(offset + nbytes);
                g.writeEndArray();
                g.writeEndObject();
                offset += nbytes;
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in-memory: cannot happen
        }
        int n = json.size();
        int padded = n + (8 - n % 8) % 8; // as the safetensors crate: the data buffer starts 8-byte aligned
        ByteBuffer out = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json.toByteArray());
        while (out.hasRemaining()) out.put((byte) ' ');
        return out.array();
    }
}
