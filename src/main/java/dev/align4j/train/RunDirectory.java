package dev.align4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.align4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A trainer's run folder: {@code metrics.jsonl} (one JSON object per step, TRL-style metric names as keys),
 * {@code step-N/} checkpoint folders and {@code latest}, a one-line file naming the newest COMPLETE checkpoint,
 * replaced atomically only after every file of the checkpoint is written (each of them atomically too). A run
 * killed mid-checkpoint therefore resumes from the previous one.
 */
public final class RunDirectory {
    public static final String METRICS = "metrics.jsonl";
    public static final String LATEST = "latest";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;

    public RunDirectory(Path dir) throws IOException {
        if (dir == null) throw new IllegalArgumentException("dir must not be null");
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IOException(dir + " exists and is not a directory");
        Files.createDirectories(dir);
        this.dir = dir;
    }

    public Path path() {
        return dir;
    }

    /** Appends one line; NaN and infinite values are written as JSON strings ("NaN", "Infinity") to stay parseable. */
    public void appendMetrics(Map<String, ?> metrics) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        for (Map.Entry<String, ?> e : metrics.entrySet()) {
            Object v = e.getValue();
            if (v == null) o.putNull(e.getKey());
            else if (v instanceof Long || v instanceof Integer) o.put(e.getKey(), ((Number) v).longValue());
            else if (v instanceof Number n) {
                double d = n.doubleValue();
                if (Double.isFinite(d)) o.put(e.getKey(), d);
                else o.put(e.getKey(), Double.toString(d));
            } else o.put(e.getKey(), v.toString());
        }
        Files.writeString(dir.resolve(METRICS), JSON.writeValueAsString(o) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Drops metric lines whose {@code step} is past {@code step} (written after the checkpoint a resume starts from). */
    public void truncateMetrics(long step) throws IOException {
        Path f = dir.resolve(METRICS);
        if (!Files.isRegularFile(f)) return;
        StringBuilder keep = new StringBuilder();
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            try {
                if (JSON.readTree(line).path("step").asLong(Long.MAX_VALUE) <= step) keep.append(line).append('\n');
            } catch (IOException e) {
                // a torn last line of a killed run: dropped
            }
        }
        AtomicFiles.writeString(f, keep.toString());
    }

    /** Every line of {@code metrics.jsonl}. */
    public List<JsonNode> readMetrics() throws IOException {
        return readMetrics(dir.resolve(METRICS));
    }

    public static List<JsonNode> readMetrics(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank()) continue;
            try {
                out.add(JSON.readTree(line));
            } catch (IOException e) {
                throw new IOException(file + ":" + lineNo + ": not a JSON object: " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** Creates (or reuses) the folder of the checkpoint at {@code step}. */
    public Path checkpointDir(long step) throws IOException {
        Path ck = dir.resolve("step-" + step);
        if (Files.exists(ck, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            // A step folder that already exists is from a run that went further than the checkpoint it was resumed
            // from (latest names an earlier step), or was cut off while writing it: never the latest. Its models are
            // written as whole folders, which refuse to replace files they did not write, so it is cleared first.
            if (Files.isRegularFile(dir.resolve(LATEST)) && latest().toAbsolutePath().normalize().equals(ck.toAbsolutePath().normalize()))
                throw new IOException(ck + " is the latest checkpoint; refusing to overwrite it");
            deleteTree(ck);
        }
        Files.createDirectories(ck);
        return ck;
    }


    /** Points {@code latest} at {@code ck} (call after all of its files are written). */
    public void commit(Path ck) throws IOException {
        AtomicFiles.writeString(dir.resolve(LATEST), ck.getFileName() + "\n");
    }

    /** The checkpoint folder {@code latest} names. */
    public Path latest() throws IOException {
        return latest(dir);
    }

    public static Path latest(Path dir) throws IOException {
        Path latest = dir.resolve(LATEST);
        if (!Files.isRegularFile(latest)) throw new IOException("no checkpoint to resume: " + latest + " does not exist");
        String name = Files.readString(latest, StandardCharsets.UTF_8).trim();
        if (name.isEmpty()) throw new IOException(latest + " is empty: it names no checkpoint");
        Path ck = dir.resolve(name);
        if (!Files.isDirectory(ck)) throw new IOException(latest + " names " + ck + ", which is not a directory");
        return ck;
    }

    /** Whether {@code dir} holds a run ({@code metrics.jsonl} or {@code latest}). */
    public static boolean holdsRun(Path dir) {
        return Files.exists(dir.resolve(METRICS)) || Files.exists(dir.resolve(LATEST));
    }

    /**
     * Refuses to start a new run in {@code dir} when it already holds one ({@code metrics.jsonl} or {@code latest}):
     * a new run must never append to an old history. Resume it, or {@link #clear} it first.
     */
    public static void requireNoRun(Path dir) throws RunExistsException {
        if (holdsRun(dir))
            throw new RunExistsException(dir + " already holds a run (" + METRICS + ", " + LATEST + "): resume it, or clear it, or "
                    + "choose another folder");
    }

    /** {@link #requireNoRun}'s failure: the folder of a new run holds an earlier run. */
    public static final class RunExistsException extends IOException {
        RunExistsException(String message) {
            super(message);
        }
    }

    /**
     * Deletes the run in {@code dir}: {@code metrics.jsonl}, {@code latest}, the {@code step-N/} checkpoints and the
     * final {@code model/} — only what a trainer writes, never other files of the folder.
     */
    public static void clear(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return;
        Files.deleteIfExists(dir.resolve(LATEST));
        Files.deleteIfExists(dir.resolve(METRICS));
        try (var entries = Files.list(dir)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String n = p.getFileName().toString();
                if (Files.isDirectory(p) && (n.matches("step-\\d+") || n.equals(FINAL_MODEL))) deleteTree(p);
            }
        }
    }

    /** The folder the CLI saves a run's final model in. */
    public static final String FINAL_MODEL = "model";

    private static void deleteTree(Path root) throws IOException {
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }

    /** True when {@code dir} holds a committed checkpoint. */
    public static boolean hasCheckpoint(Path dir) {
        return Files.isRegularFile(dir.resolve(LATEST));
    }
}
