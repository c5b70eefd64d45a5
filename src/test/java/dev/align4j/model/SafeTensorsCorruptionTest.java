package dev.align4j.model;

import static dev.align4j.model.SafeTensorsTestFiles.assertFails;
import static dev.align4j.model.SafeTensorsTestFiles.concat;
import static dev.align4j.model.SafeTensorsTestFiles.f32;
import static dev.align4j.model.SafeTensorsTestFiles.file;
import static dev.align4j.model.SafeTensorsTestFiles.le64;
import static dev.align4j.model.SafeTensorsTestFiles.write;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed or mismatched file fails with a message naming the file and, where there is one, the tensor. */
class SafeTensorsCorruptionTest {
    @TempDir
    Path dir;

    private int count;

    /** Writes {@code bytes} and asserts that opening fails with the file name and every fragment in the message. */
    private void openFails(byte[] bytes, String... fragments) throws IOException {
        Path p = write(dir, "bad" + (count++) + ".safetensors", bytes);
        String[] all = Arrays.copyOf(fragments, fragments.length + 1);
        all[fragments.length] = p.toString();
        assertFails(() -> SafeTensorsFile.open(p).close(), all);
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void truncatedBeforeHeaderLength() throws IOException {
        openFails(new byte[0], "truncated");
        openFails(new byte[] {8, 0, 0, 0, 0}, "truncated");
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        openFails(concat(le64(100), "{}".getBytes(StandardCharsets.UTF_8)), "header length 100 exceeds the file size");
        openFails(concat(le64(-1), "{}".getBytes(StandardCharsets.UTF_8)), "header length 18446744073709551615");
    }

    @Test
    void truncatedData() throws IOException {
        byte[] good = file("{" + entry("w", "F32", "[4]", 0, 16) + "}", f32(1, 2, 3, 4));
        openFails(Arrays.copyOf(good, good.length - 1), "tensor 'w'", "run past the end", "truncated");
        // cut inside the header: the declared length no longer fits
        openFails(Arrays.copyOf(good, 12), "exceeds the file size");
    }

    @Test
    void badJson() throws IOException {
        openFails(file("{\"w\":{\"dtype\":\"F32\",", new byte[0]), "not valid JSON");
        openFails(file("{\"w\":1} x", new byte[0]), "not valid JSON");
        openFails(file("{} {}", new byte[0]), "after the JSON object");
        openFails(file("[1,2]", new byte[0]), "does not start with '{'");
        openFails(file("  {}", new byte[0]), "does not start with '{'");
        openFails(concat(le64(4), new byte[] {'{', (byte) 0xff, (byte) 0xfe, '}'}), "not valid UTF-8");
    }

    @Test
    void malformedEntries() throws IOException {
        openFails(file("{\"w\":[1]}", new byte[0]), "tensor 'w'", "must be an object");
        openFails(file("{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}", f32(1)), "tensor 'w'", "dtype");
        openFails(file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", f32(1)), "tensor 'w'", "shape");
        openFails(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}", f32(1)), "tensor 'w'", "data_offsets");
        openFails(file("{" + entry("w", "F32", "[-1]", 0, 4) + "}", f32(1)), "tensor 'w'", "shape[0]", "non-negative");
        openFails(file("{" + entry("w", "F32", "[1.5]", 0, 4) + "}", f32(1)), "tensor 'w'", "shape[0]");
        openFails(file("{" + entry("w", "F32", "[\"1\"]", 0, 4) + "}", f32(1)), "tensor 'w'", "shape[0]");
        openFails(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", f32(1)), "tensor 'w'", "2 entries");
        openFails(file("{" + entry("w", "F32", "[4294967296,4294967296,4294967296]", 0, 4) + "}", f32(1)), "tensor 'w'", "overflows");
        openFails(file("{\"__metadata__\":{\"k\":1}}", new byte[0]), "__metadata__", "'k'", "string");
        openFails(file("{\"__metadata__\":[]}", new byte[0]), "__metadata__");
    }

    @Test
    void unknownDtype() throws IOException {
        openFails(file("{" + entry("w", "F128", "[1]", 0, 16) + "}", new byte[16]), "tensor 'w'", "unknown dtype 'F128'");
        openFails(file("{" + entry("w", "f32", "[1]", 0, 4) + "}", new byte[4]), "tensor 'w'", "unknown dtype 'f32'");
    }

    @Test
    void offsetsNotMatchingDtypeTimesShape() throws IOException {
        openFails(file("{" + entry("w", "F32", "[2]", 0, 4) + "}", f32(1)), "tensor 'w'", "span 4 bytes", "needs 8");
        openFails(file("{" + entry("w", "F16", "[2]", 0, 8) + "}", f32(1, 2)), "tensor 'w'", "needs 4");
        openFails(file("{" + entry("w", "F32", "[1]", 4, 0) + "}", f32(1)), "tensor 'w'", "end before begin");
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        openFails(file("{" + entry("w", "F32", "[1]", 8, 12) + "}", f32(1, 2)), "tensor 'w'", "run past the end");
        // a gap at the start
        openFails(file("{" + entry("w", "F32", "[1]", 4, 8) + "}", f32(1, 2)), "tensor 'w'", "gap");
        // trailing bytes after the last tensor
        openFails(file("{" + entry("w", "F32", "[1]", 0, 4) + "}", f32(1, 2)), "trailing", "'w'");
    }

    @Test
    void overlappingTensors() throws IOException {
        String h = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}";
        openFails(file(h, f32(1, 2, 3)), "tensor 'b'", "overlap tensor 'a'");
        String same = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 0, 8) + "}";
        openFails(file(same, f32(1, 2)), "overlap");
    }

    @Test
    void duplicateNames() throws IOException {
        String h = "{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 4, 8) + "}";
        openFails(file(h, f32(1, 2)), "duplicate tensor name 'w'");
        openFails(file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", f32(1)),
                "tensor 'w'", "Duplicate field 'dtype'");
    }

    /** Unknown fields in an entry are ignored, as by the safetensors crate (a file HF reads must read here). */
    @Test
    void unknownEntryFieldIgnored() throws IOException {
        Path p = write(dir, "extra.safetensors",
                file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", f32(7)));
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertEquals(7f, f.floats("w", 1)[0]);
        }
    }

    @Test
    void requireMismatch() throws IOException {
        String h = "{" + entry("w", "F32", "[2,3]", 0, 24) + "," + entry("i", "I32", "[2]", 24, 32) + "}";
        Path p = write(dir, "ok.safetensors", file(h, concat(f32(1, 2, 3, 4, 5, 6), new byte[8])));
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            String ps = p.toString();
            assertFails(() -> f.require("w", SafeTensorsDType.F32, 3, 2), ps, "tensor 'w'", "expected shape [3, 2], got [2, 3]");
            assertFails(() -> f.require("w", SafeTensorsDType.F32, 6), ps, "tensor 'w'", "expected shape [6]");
            assertFails(() -> f.require("w", SafeTensorsDType.F16, 2, 3), ps, "tensor 'w'", "expected dtype F16, got F32");
            assertFails(() -> f.require("nope", SafeTensorsDType.F32), ps, "no tensor 'nope'");
            assertFails(() -> f.floats("i"), ps, "tensor 'i'", "I32");
            assertFails(() -> f.floats("i", 2), ps, "tensor 'i'", "floating dtype");
            assertFails(() -> f.ints("w"), ps, "tensor 'w'", "F32");
            assertFails(() -> f.longs("w"), ps, "tensor 'w'", "F32");
            assertFails(() -> f.longs("i", 2), ps, "tensor 'i'", "expected dtype I64, got I32");
            assertFails(() -> f.ints("i", 3), ps, "tensor 'i'", "expected shape [3]");
            assertEquals(6, f.floats("w", 2, 3).length);
        }
    }

    /** A file that shrinks after it was opened fails on read, naming the tensor, instead of returning zeros. */
    @Test
    void fileTruncatedAfterOpen() throws IOException {
        Path p = write(dir, "shrink.safetensors", file("{" + entry("w", "F32", "[4]", 0, 16) + "}", f32(1, 2, 3, 4)));
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            byte[] all = Files.readAllBytes(p);
            Files.write(p, Arrays.copyOf(all, all.length - 8));
            assertFails(() -> f.floats("w"), p.toString(), "tensor 'w'", "truncated");
        }
    }
}
