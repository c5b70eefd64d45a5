package dev.align4j.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.ObjIntConsumer;
import org.junit.jupiter.api.function.Executable;

/** Builds safetensors files byte by byte, independently of {@link SafeTensorsWriter}. */
final class SafeTensorsTestFiles {
    private SafeTensorsTestFiles() {}

    /** 8-byte LE length of {@code header}'s UTF-8, the header, then {@code data}. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return concat(le64(h.length), h, data);
    }

    static Path write(Path dir, String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    static byte[] le64(long v) {
        return i64(v);
    }

    static byte[] f32(float... v) {
        return littleEndian(4, v.length, (b, i) -> b.putFloat(v[i]));
    }

    static byte[] i32(int... v) {
        return littleEndian(4, v.length, (b, i) -> b.putInt(v[i]));
    }

    static byte[] i64(long... v) {
        return littleEndian(8, v.length, (b, i) -> b.putLong(v[i]));
    }

    /** 16-bit values, little-endian (for F16/BF16 bit patterns). */
    static byte[] u16(int... v) {
        return littleEndian(2, v.length, (b, i) -> b.putShort((short) v[i]));
    }

    /** {@code n} elements of {@code size} bytes, little-endian, element {@code i} written by {@code put(buffer, i)}. */
    private static byte[] littleEndian(int size, int n, ObjIntConsumer<ByteBuffer> put) {
        ByteBuffer b = ByteBuffer.allocate(size * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) put.accept(b, i);
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) b.put(p);
        return b.array();
    }

    /** Asserts that {@code body} throws a SafeTensorsException whose message contains every fragment. */
    static SafeTensorsException assertFails(Executable body, String... fragments) {
        SafeTensorsException e = assertThrows(SafeTensorsException.class, body);
        for (String f : fragments)
            assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
        return e;
    }
}
