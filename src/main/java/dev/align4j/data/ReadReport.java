package dev.align4j.data;

import java.nio.file.Path;
import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What reading one file did.
 *
 * @param file       the file read
 * @param format     the format's name ("alpaca", "hh", ...)
 * @param read       records read: non-blank lines of a JSONL file (a line holding anything but spaces, tabs and a
 *                   CR is a record, so a line of non-ASCII or undecodable bytes is read and then kept or skipped),
 *                   or elements of a JSON array (stops early at {@link ReadOptions#maxRecords()})
 * @param kept       records that parsed and passed validation ({@code read − skipped total}); a kept record may
 *                   still yield no example (an OpenAssistant tree whose messages were all filtered)
 * @param produced   examples or pairs returned (an OpenAssistant tree yields several)
 * @param skipped    bad records skipped (only with {@link ReadOptions#skipBad()}), by reason, sorted
 * @param firstSkippedLine for each skip reason, the 1-based line of its first occurrence (to go and look)
 * @param counters   named counts of records or messages handled by a documented rule rather than rejected
 *                   (OpenAssistant messages dropped as deleted / review-failed / other language, HH-RLHF pairs
 *                   whose sides differ before the last Assistant turn, ...), sorted
 */
public record ReadReport(Path file, String format, long read, long kept, long produced,
                         SortedMap<String, Long> skipped, SortedMap<String, Long> firstSkippedLine,
                         SortedMap<String, Long> counters) {
    public ReadReport {
        skipped = Collections.unmodifiableSortedMap(new TreeMap<>(skipped));
        firstSkippedLine = Collections.unmodifiableSortedMap(new TreeMap<>(firstSkippedLine));
        counters = Collections.unmodifiableSortedMap(new TreeMap<>(counters));
    }

    /** Total bad records skipped. */
    public long skippedTotal() {
        long n = 0;
        for (long v : skipped.values()) n += v;
        return n;
    }

    /** A named counter's value, 0 when it never fired. */
    public long counter(String name) {
        return counters.getOrDefault(name, 0L);
    }

    /** Skips under one reason, 0 when none. */
    public long skipped(String reason) {
        return skipped.getOrDefault(reason, 0L);
    }

    /** One line for logs: {@code alpaca_5000.json [alpaca]: 5000 read, 5000 kept, 5000 produced, 0 skipped}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(file == null ? "?" : file.getFileName()).append(" [").append(format).append("]: ")
                .append(read).append(" read, ").append(kept).append(" kept, ").append(produced).append(" produced, ")
                .append(skippedTotal()).append(" skipped");
        if (!skipped.isEmpty()) {
            sb.append(" {");
            boolean first = true;
            for (var e : skipped.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                sb.append(e.getKey()).append(": ").append(e.getValue())
                        .append(" (first at line ").append(firstSkippedLine.getOrDefault(e.getKey(), 0L)).append(')');
            }
            sb.append('}');
        }
        if (!counters.isEmpty()) sb.append("; ").append(counters);
        return sb.toString();
    }
}
