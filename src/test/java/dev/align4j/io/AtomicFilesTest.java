package dev.align4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.align4j.model.SafeTensorsFile;
import dev.align4j.model.SafeTensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A write either replaces the target completely or leaves it as it was, with no temporary file behind. */
class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    /** Passes {@code limit} bytes through, then fails as a full disk would. */
    static final class FailingChannel implements WritableByteChannel {
        private final WritableByteChannel out;
        private long left;

        FailingChannel(WritableByteChannel out, long limit) {
            this.out = out;
            this.left = limit;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            if (left <= 0) throw new IOException("simulated: no space left on device");
            ByteBuffer part = src.duplicate();
            part.limit(part.position() + (int) Math.min(part.remaining(), left));
            int n = out.write(part);
            src.position(src.position() + n);
            left -= n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return out.isOpen();
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    @Test
    void replacesTarget() throws IOException {
        Path t = dir.resolve("x.txt");
        AtomicFiles.writeString(t, "old");
        AtomicFiles.writeString(t, "new");
        assertEquals("new", Files.readString(t));
        assertEquals(List.of("x.txt"), listing());
    }

    @Test
    void safetensorsWriteFailingMidwayLeavesTargetUnchanged() throws IOException {
        Path t = dir.resolve("model.safetensors");
        new SafeTensorsWriter().putFloats("w", new float[] {1, 2, 3}, 3).write(t);
        byte[] before = Files.readAllBytes(t);

        float[] big = new float[1 << 20];
        SafeTensorsWriter w = new SafeTensorsWriter().putFloats("w", big, big.length);
        IOException e = assertThrows(IOException.class,
                () -> AtomicFiles.write(t, ch -> w.writeTo(new FailingChannel(ch, 3_000_000))));
        assertEquals("cannot write " + t + ": simulated: no space left on device", e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(t));
        assertEquals(List.of("model.safetensors"), listing(), "no temporary file left");
        try (SafeTensorsFile f = SafeTensorsFile.open(t)) {
            assertArrayEquals(new float[] {1, 2, 3}, f.floats("w", 3));
        }
    }

    /** A real ENOSPC: the body's writes go to /dev/full, whose every write fails as a full disk's does. */
    @Test
    void aFullDiskNamesTheFile() throws IOException {
        Path full = Path.of("/dev/full");
        assumeTrue(Files.isWritable(full), "needs Linux's /dev/full");
        Path t = dir.resolve("model.safetensors");
        SafeTensorsWriter w = new SafeTensorsWriter().putFloats("w", new float[1000], 1000);
        try (FileChannel sink = FileChannel.open(full, StandardOpenOption.WRITE)) {
            IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(t, ch -> w.writeTo(sink)));
            assertTrue(e.getMessage().startsWith("cannot write " + t + ": "), e.getMessage());
            assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
            e = assertThrows(IOException.class, () -> AtomicFiles.write(t, ch -> AtomicFiles.writeFully(sink,
                    ByteBuffer.wrap("{}".getBytes(StandardCharsets.UTF_8)))));
            assertTrue(e.getMessage().startsWith("cannot write " + t + ": "), e.getMessage());
        }
        assertEquals(List.of(), listing(), "no temporary file left");
    }

    @Test
    void runtimeExceptionInBodyLeavesNothing() throws IOException {
        Path t = dir.resolve("new.bin");
        IllegalStateException boom = new IllegalStateException("boom");
        IllegalStateException got = assertThrows(IllegalStateException.class, () -> AtomicFiles.write(t, ch -> {
            ch.write(ByteBuffer.wrap("partial".getBytes(StandardCharsets.UTF_8)));
            throw boom;
        }));
        assertSame(boom, got);
        assertFalse(Files.exists(t));
        assertEquals(List.of(), listing(), "no temporary file left");
    }

    @Test
    void targetIsDirectory() throws IOException {
        Path d = Files.createDirectory(dir.resolve("d"));
        assertThrows(IOException.class, () -> AtomicFiles.writeString(d, "x"));
        assertEquals(List.of("d"), listing());
    }

    // ------------------------------------------------------------------------------------ whole folders

    private static List<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void replaceDirectoryCreatesAndReplacesAsAWhole() throws IOException {
        Path t = dir.resolve("a/b/model"); // parents created
        AtomicFiles.replaceDirectory(t, n -> true, d -> {
            Files.writeString(d.resolve("one"), "1");
            Files.writeString(d.resolve("two"), "2");
        });
        assertEquals(List.of("one", "two"), names(t));
        AtomicFiles.replaceDirectory(t, n -> n.equals("one") || n.equals("two"), d -> Files.writeString(d.resolve("three"), "3"));
        assertEquals(List.of("three"), names(t)); // the whole folder is the new one: no stale file survives
        assertEquals(List.of("model"), names(dir.resolve("a/b")), "no temporary or old sibling left");
    }

    /** A body that fails halfway (a full disk, an exception) leaves the previous folder exactly as it was. */
    @Test
    void replaceDirectoryFailureKeepsThePreviousFolder() throws IOException {
        Path t = dir.resolve("model");
        AtomicFiles.replaceDirectory(t, n -> true, d -> Files.writeString(d.resolve("weights"), "old"));
        IllegalStateException boom = new IllegalStateException("boom");
        assertSame(boom, assertThrows(IllegalStateException.class, () -> AtomicFiles.replaceDirectory(t, n -> true, d -> {
            Files.writeString(d.resolve("weights"), "new, half written");
            Files.createDirectory(d.resolve("sub"));
            Files.writeString(d.resolve("sub/x"), "x");
            throw boom;
        })));
        assertEquals("old", Files.readString(t.resolve("weights")));
        assertEquals(List.of("model"), listing(), "the temporary folder is deleted");
        Path full = Path.of("/dev/full");
        if (Files.isWritable(full)) {
            IOException e = assertThrows(IOException.class, () -> AtomicFiles.replaceDirectory(t, n -> true, d -> {
                try (FileChannel sink = FileChannel.open(full, StandardOpenOption.WRITE)) {
                    AtomicFiles.writeFully(sink, ByteBuffer.wrap(new byte[1 << 16]));
                }
            }));
            assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
            assertEquals("old", Files.readString(t.resolve("weights")));
            assertEquals(List.of("model"), listing());
        }
    }

    @Test
    void replaceDirectoryRefusesFoldersWithOtherFiles() throws IOException {
        Path t = Files.createDirectory(dir.resolve("model"));
        Files.writeString(t.resolve("weights"), "old");
        Files.writeString(t.resolve("notes.txt"), "mine");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.replaceDirectory(t, n -> n.equals("weights"),
                d -> Files.writeString(d.resolve("weights"), "new")));
        assertTrue(e.getMessage().contains("holds notes.txt, which this save would not write back"), e.getMessage());
        Files.delete(t.resolve("notes.txt"));
        Files.createDirectory(t.resolve("weights.d"));
        e = assertThrows(IOException.class, () -> AtomicFiles.replaceDirectory(t, n -> true, d -> {}));
        assertTrue(e.getMessage().contains("holds weights.d"), e.getMessage()); // a sub-folder is never deleted
        assertEquals(List.of("weights", "weights.d"), names(t));
        assertEquals(List.of("model"), listing());
    }
}
