package dev.align4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Whole-file writes that never leave a half-written target: the content goes to a temporary file in the
 * target's directory (same file system, so the rename below is atomic), is forced to disk, and is then
 * renamed over the target with {@link StandardCopyOption#ATOMIC_MOVE}; finally the directory is synced so the
 * rename itself survives a crash. A reader sees either the old file or the new one. If anything fails
 * (including the caller's writer throwing), the temporary file is deleted and the target is untouched; an
 * IOException then names the target.
 *
 * <p>Each {@link #write} is atomic for one file only. Writers of several files (weights + config) must make sure
 * a mix of old and new is detected, or write into a fresh directory: {@link #replaceDirectory} does the latter.
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

    /** Fills a fresh, empty directory with the files of a folder. */
    @FunctionalInterface
    public interface DirectoryBody {
        void writeInto(Path dir) throws IOException;
    }

    /**
     * Creates or replaces the folder {@code target} as a whole: {@code body} writes the new content into a fresh
     * sibling {@code .<name>.<random>.tmp}; every file in it and the folder itself are then forced to disk, and the
     * folder is renamed to {@code target}. A reader never sees a folder with some files new and some old or missing.
     *
     * <p>If anything fails before the rename (the body throwing, a full disk), the temporary folder is deleted and
     * {@code target} is untouched. A process killed before the rename leaves {@code target} untouched and the
     * temporary sibling behind (delete it by hand). When {@code target} exists it is renamed aside to
     * {@code .<name>.<random>.old} first, then the new folder takes its name, then the old one is deleted: Java
     * has no atomic exchange of two directories, so a process killed between those two renames (microseconds)
     * leaves no {@code target} but the complete previous folder under the {@code .old} name (and should the old
     * folder fail to be deleted after the swap, it stays under that name; the save has succeeded).
     *
     * <p>An existing {@code target} must be a directory of regular files only, each of whose names
     * {@code replaceable} accepts; otherwise nothing is written and the error names the first other entry (so
     * that a save never deletes files it did not write, such as a tokenizer beside the weights). Missing parent
     * directories are created.
     */
    public static void replaceDirectory(Path target, Predicate<String> replaceable, DirectoryBody body)
            throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null || abs.getFileName() == null) throw new IllegalArgumentException("target " + target + " has no parent directory");
        String name = abs.getFileName().toString();
        boolean exists = Files.exists(abs, LinkOption.NOFOLLOW_LINKS);
        if (exists) {
            if (!Files.isDirectory(abs, LinkOption.NOFOLLOW_LINKS))
                throw new IOException(target + " exists and is not a directory; refusing to replace it");
            try (Stream<Path> entries = Files.list(abs)) {
                for (Path p : (Iterable<Path>) entries.sorted()::iterator) {
                    String n = p.getFileName().toString();
                    if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || !replaceable.test(n))
                        throw new IOException(target + " holds " + n + ", which this save would not write back; refusing to "
                                + "replace the folder (move that file away, or save to another folder)");
                }
            }
        }
        Files.createDirectories(parent);
        Path tmp = createSibling(parent, name, ".tmp");
        try {
            body.writeInto(tmp);
            try (Stream<Path> entries = Files.list(tmp)) {
                for (Path p : (Iterable<Path>) entries::iterator) {
                    if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) continue;
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                        ch.force(true);
                    }
                }
            }
            syncDirectory(tmp);
            if (!exists) {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
            } else {
                Path old = createSibling(parent, name, ".old");
                Files.delete(old); // only its name was wanted: the move below needs a free name
                Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException | RuntimeException e) {
                    try {
                        Files.move(old, abs, StandardCopyOption.ATOMIC_MOVE);
                    } catch (IOException back) {
                        e.addSuppressed(new IOException("the previous folder is kept as " + old, back));
                    }
                    throw e;
                }
                tmp = null;
                syncDirectory(parent);
                try {
                    deleteFlat(old);
                } catch (IOException e) {
                    // the save itself is complete; the previous folder stays under its .old name
                }
            }
            tmp = null;
        } catch (Throwable t) {
            if (tmp != null) {
                try {
                    deleteTree(tmp);
                } catch (IOException e) {
                    t.addSuppressed(e);
                }
            }
            if (t instanceof IOException io) throw named(target, io);
            throw t;
        }
        syncDirectory(parent);
    }

    /** A new empty directory {@code .<name>.<random><suffix>} in {@code parent}. */
    private static Path createSibling(Path parent, String name, String suffix) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path p = parent.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + suffix);
            try {
                return Files.createDirectory(p);
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 100) throw e;
            }
        }
    }

    /** Deletes a directory of regular files (the previous folder, checked to hold nothing else). */
    private static void deleteFlat(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p : (Iterable<Path>) entries::iterator) Files.delete(p);
        }
        Files.delete(dir);
    }

    /** Deletes what a body wrote into the temporary folder, sub-folders included, without following links. */
    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                    throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) throw e;
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
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
