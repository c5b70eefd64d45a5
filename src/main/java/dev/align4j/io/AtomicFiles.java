package dev.align4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Whole-file writes that never leave a half-written target: the content goes to a temporary file in the
 * target's directory (same file system, so the rename below is atomic), is forced to disk, and is then
 * renamed over the target with {@link StandardCopyOption#ATOMIC_MOVE}; finally the directory is synced so the
 * rename itself survives a crash. A reader sees either the old file or the new one. If anything fails
 * (including the caller's writer throwing), the temporary file is deleted and the target is untouched; an
 * IOException then names the target.
 *
 * <p>Each call is atomic for one file only. Writers of several files (weights + config) must make sure
 * a mix of old and new is detected, or write into a fresh directory.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the content of a file through a channel positioned at 0. */
    @FunctionalInterface
    public interface Body {
        void writeTo(FileChannel out) throws IOException;
    }

    /** Replaces {@code target} atomically with what {@code body} writes. */
    public static void write(Path target, Body body) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null) throw new IllegalArgumentException("target " + target + " has no parent directory");
        if (Files.isDirectory(abs)) throw new IOException(target + " is a directory");
        Path tmp = null;
        FileChannel ch = null;
        try {
            // Not Files.createTempFile: that creates mode 0600 on POSIX; checkpoints should get the usual umask.
            for (int attempt = 0; ch == null; attempt++) {
                tmp = dir.resolve("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
                try {
                    ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                } catch (FileAlreadyExistsException e) {
                    if (attempt >= 100) throw e;
                    tmp = null;
                }
            }
            body.writeTo(ch);
            ch.force(true);
            ch.close();
            ch = null;
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
        } catch (Throwable t) {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException e) {
                    t.addSuppressed(e);
                }
            }
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    t.addSuppressed(e);
                }
            }
            if (t instanceof IOException io) throw named(target, io);
            throw t;
        }
        syncDirectory(dir);
    }

    /**
     * A channel's own errors ("No space left on device") name no file: say which one could not be written. A
     * FileSystemException (access denied, ...) names its files already and keeps its type.
     */
    private static IOException named(Path target, IOException e) {
        String message = String.valueOf(e.getMessage());
        if (e instanceof FileSystemException || message.contains(target.toString())) return e;
        return new IOException("cannot write " + target + ": " + message, e);
    }

    /** Replaces {@code target} atomically with {@code text} in UTF-8. */
    public static void writeString(Path target, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        write(target, ch -> writeFully(ch, ByteBuffer.wrap(bytes)));
    }

    /** Writes all of {@code buf} (a channel may write less than asked). */
    public static void writeFully(java.nio.channels.WritableByteChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    /** fsync of the directory makes the rename durable on Linux; elsewhere opening a directory may fail: ignored. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort: the file content itself is already durable
        }
    }
}
