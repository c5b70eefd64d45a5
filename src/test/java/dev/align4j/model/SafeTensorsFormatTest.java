package dev.align4j.model;

import static dev.align4j.model.SafeTensorsTestFiles.concat;
import static dev.align4j.model.SafeTensorsTestFiles.f32;
import static dev.align4j.model.SafeTensorsTestFiles.file;
import static dev.align4j.model.SafeTensorsTestFiles.i32;
import static dev.align4j.model.SafeTensorsTestFiles.i64;
import static dev.align4j.model.SafeTensorsTestFiles.le64;
import static dev.align4j.model.SafeTensorsTestFiles.u16;
import static dev.align4j.model.SafeTensorsTestFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The byte format: hand-built files parse to their known contents; the writer's bytes are exactly HF's layout. */
class SafeTensorsFormatTest {
    @TempDir
    Path dir;

    @Test
    void handBuiltFileParses() throws IOException {
        // Offsets listed out of order, like HF's HashMap-ordered headers; padded with spaces; metadata last.
        String header = "{\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"c\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[40,46]},"
                + "\"d\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[46,48]},"
                + "\"e\":{\"dtype\":\"I32\",\"shape\":[1,0],\"data_offsets\":[48,48]},"
                + "\"f\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[48,52]},"
                + "\"__metadata__\":{\"format\":\"pt\",\"note\":\"\u00e9\"}}     ";
        byte[] data = concat(f32(1, 2, 3, -4, 5.5f, 1e-30f), i64(Long.MIN_VALUE, 7), u16(0x3c00, 0x0001, 0xfc00),
                u16(0x4049), i32(-123456789));
        Path p = write(dir, "hand.safetensors", file(header, data));
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(List.of("b", "a", "c", "d", "e", "f"), f.names());
            assertEquals(Map.of("format", "pt", "note", "\u00e9"), f.metadata());
            SafeTensorsFile.TensorInfo a = f.require("a", SafeTensorsDType.F32, 2, 3);
            assertEquals(6, a.numel());
            assertEquals(24, a.nbytes());
            assertArrayEquals(new float[] {1, 2, 3, -4, 5.5f, 1e-30f}, f.floats("a", 2, 3));
            assertArrayEquals(new long[] {Long.MIN_VALUE, 7}, f.longs("b", 2));
            assertArrayEquals(new float[] {1, 0x1p-24f, Float.NEGATIVE_INFINITY}, f.floats("c", 3));
            assertArrayEquals(new float[] {3.140625f}, f.floats("d")); // BF16 0x4049, a scalar (shape [])
            assertEquals(1, f.info("d").numel());
            assertArrayEquals(new int[0], f.ints("e", 1, 0));
            assertArrayEquals(new int[] {-123456789}, f.ints("f", 1));
            assertArrayEquals(new long[] {-123456789}, f.longs("f")); // I32 widens to long
            assertArrayEquals(f32(1, 2, 3, -4, 5.5f, 1e-30f), f.bytes("a"));
            float[] into = new float[8];
            Arrays.fill(into, -1);
            f.readFloats("c", into, 4);
            assertArrayEquals(new float[] {-1, -1, -1, -1, 1, 0x1p-24f, Float.NEGATIVE_INFINITY, -1}, into);
            assertThrows(IllegalArgumentException.class, () -> f.readFloats("c", into, 6));
        }
    }

    @Test
    void emptyFileHasNoTensors() throws IOException {
        Path p = write(dir, "empty.safetensors", file("{}", new byte[0]));
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(List.of(), f.names());
            assertEquals(Map.of(), f.metadata());
        }
        Path q = dir.resolve("empty2.safetensors");
        new SafeTensorsWriter().write(q);
        assertArrayEquals(concat(le64(8), "{}      ".getBytes(StandardCharsets.US_ASCII)), Files.readAllBytes(q));
    }

    /** The writer's exact bytes: dtype-descending then name order, metadata first, 8-byte padded header. */
    @Test
    void writerBytesAreExact() throws IOException {
        Path p = dir.resolve("w.safetensors");
        new SafeTensorsWriter()
                .putInts("z", new int[] {5}, 1)
                .putFloats("b", new float[] {2}, 1)
                .putFloats("a", new float[] {1, 3}, 2, 1)
                .putLongs("c", new long[] {-1}, 1)
                .metadata("format", "pt")
                .metadata("alpha", "x\"y")
                .write(p);
        String json = "{\"__metadata__\":{\"alpha\":\"x\\\"y\",\"format\":\"pt\"},"
                + "\"c\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[8,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
                + "\"z\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[20,24]}}";
        int pad = (8 - json.length() % 8) % 8;
        String padded = json + " ".repeat(pad);
        byte[] want = concat(le64(padded.length()), padded.getBytes(StandardCharsets.UTF_8), i64(-1), f32(1, 3, 2), i32(5));
        assertArrayEquals(want, Files.readAllBytes(p), new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1));
        assertEquals(0, (8 + padded.length()) % 8, "data buffer 8-byte aligned");
    }

    @Test
    void writerIsDeterministic() throws IOException {
        float[] x = {1, 2, 3};
        Path p = dir.resolve("1.safetensors"), q = dir.resolve("2.safetensors");
        new SafeTensorsWriter().putFloats("x", x, 3).putFloats("y", x, 3).metadata("k", "v").metadata("a", "b").write(p);
        new SafeTensorsWriter().metadata("a", "b").putFloats("y", x, 3).metadata("k", "v").putFloats("x", x, 3).write(q);
        assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(q));
    }

    /** Random tensors of every written dtype and random shapes (incl. scalars, zero dims, multi-chunk) round-trip. */
    @Test
    void randomRoundTrip() throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int round = 0; round < 5; round++) {
            SafeTensorsWriter w = new SafeTensorsWriter();
            int n = 1 + rnd.nextInt(8);
            Object[] data = new Object[n];
            long[][] shapes = new long[n][];
            for (int i = 0; i < n; i++) {
                shapes[i] = randomShape(rnd, i == 0 && round == 0);
                int numel = (int) Arrays.stream(shapes[i]).reduce(1, (a, b) -> a * b);
                switch (rnd.nextInt(3)) {
                    case 0 -> {
                        float[] a = new float[numel];
                        for (int j = 0; j < numel; j++) a[j] = Float.intBitsToFloat(rnd.nextInt()); // all bit patterns
                        data[i] = a;
                        w.putFloats("t" + i, a, shapes[i]);
                    }
                    case 1 -> {
                        int[] a = rnd.ints(numel).toArray();
                        data[i] = a;
                        w.putInts("t" + i, a, shapes[i]);
                    }
                    default -> {
                        long[] a = rnd.longs(numel).toArray();
                        data[i] = a;
                        w.putLongs("t" + i, a, shapes[i]);
                    }
                }
            }
            w.metadata("seed", Long.toString(seed));
            Path p = dir.resolve("r" + round + ".safetensors");
            w.write(p);
            try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
                assertEquals(Map.of("seed", Long.toString(seed)), f.metadata());
                assertEquals(n, f.names().size());
                for (int i = 0; i < n; i++) {
                    String name = "t" + i, what = name + " seed " + seed;
                    assertArrayEquals(shapes[i], f.info(name).shape(), what);
                    if (data[i] instanceof float[] a) {
                        // bitwise, NaN payloads included
                        assertArrayEquals(rawBits(a), rawBits(f.floats(name, shapes[i])), what);
                    } else if (data[i] instanceof int[] a) {
                        assertArrayEquals(a, f.ints(name, shapes[i]), what);
                    } else {
                        assertArrayEquals((long[]) data[i], f.longs(name, shapes[i]), what);
                    }
                }
            }
        }
    }

    private static long[] randomShape(Random rnd, boolean big) {
        if (big) return new long[] {3, 100_003}; // 1.2 MB: crosses the 1 MiB I/O chunk
        int rank = rnd.nextInt(4);
        long[] s = new long[rank];
        for (int i = 0; i < rank; i++) s[i] = rnd.nextInt(10) == 0 ? 0 : 1 + rnd.nextInt(7);
        return s;
    }

    /** F16/BF16 files (which the writer does not produce) of random bits read back as the exact conversion. */
    @Test
    void randomHalfRoundTrip() throws IOException {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int n = 600_001; // > 1 MiB of halves: several chunks
        int[] h = rnd.ints(n, 0, 0x10000).toArray();
        int[] b = rnd.ints(n, 0, 0x10000).toArray();
        String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[" + n + "],\"data_offsets\":[0," + 2 * n + "]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[" + n + "],\"data_offsets\":[" + 2 * n + "," + 4 * n + "]}}";
        Path p = write(dir, "half.safetensors", file(header, concat(u16(h), u16(b))));
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            float[] wh = new float[n], wb = new float[n];
            for (int i = 0; i < n; i++) {
                wh[i] = SafeTensorsDType.halfToFloat(h[i]);
                wb[i] = SafeTensorsDType.bfloat16ToFloat(b[i]);
            }
            assertArrayEquals(rawBits(wh), rawBits(f.floats("h", n)), "F16 seed " + seed);
            assertArrayEquals(rawBits(wb), rawBits(f.floats("b", n)), "BF16 seed " + seed);
        }
    }

    static int[] rawBits(float[] a) {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) out[i] = Float.floatToRawIntBits(a[i]);
        return out;
    }

    @Test
    void writerRejectsBadInput() {
        SafeTensorsWriter w = new SafeTensorsWriter().putFloats("x", new float[6], 2, 3);
        assertMessage(() -> w.putFloats("x", new float[1], 1), "'x' added twice");
        assertMessage(() -> w.putFloats("y", new float[5], 2, 3), "'y'", "[2, 3]", "5");
        assertMessage(() -> w.putFloats("y", new float[5], -1, -5), "'y'", "negative");
        assertMessage(() -> w.putFloats("y", new float[4], Long.MAX_VALUE, 4), "'y'");
        assertMessage(() -> w.putInts("__metadata__", new int[1], 1), "reserved");
        assertMessage(() -> w.putLongs("", new long[1], 1), "non-empty");
        assertMessage(() -> w.putFloats("z", null, 1), "'z'");
        w.putFloats("empty", new float[0], Long.MAX_VALUE, 0); // 0 elements: huge other dims are fine
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable body, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, body);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
    }
}
