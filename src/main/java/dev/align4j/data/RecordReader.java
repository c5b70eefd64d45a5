package dev.align4j.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * The shared reading loop of every format: opens the file (through GZIP when the name ends in {@code .gz}),
 * decodes each line as strict UTF-8 (a malformed byte sequence is reported with its line, never replaced), splits
 * it into records — one per non-blank line (JSONL), or one per element when the first non-blank character of the
 * file is {@code [} (a JSON array) — and hands each record to a format's parser. Bad records throw or are
 * counted ({@link ReadOptions#skipBad()}); a record's outputs and counters are committed only when the whole
 * record is good.
 *
 * <p>A JSON array file is decoded and parsed as a whole: a syntax error or invalid UTF-8 in it cannot be skipped
 * (the parser cannot resynchronise) and always throws, with the line Jackson reports. Per-element validation
 * errors are skippable and name the element ("record N") and the line it starts on.
 */
final class RecordReader {
    static final JsonMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    /** For array elements: the rest of the array follows each element, so no trailing-token check. */
    private static final com.fasterxml.jackson.databind.ObjectReader ELEMENT =
            JSON.reader().without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Parses one record into outputs; throws {@link BadRecord} for bad data. */
    interface Parser<T> {
        void parse(JsonNode record, Context ctx, List<T> out) throws BadRecord;
    }

    /** Parses one record, a JSON object, into exactly one output; throws {@link BadRecord} for bad data. */
    interface ObjectParser<T> {
        T parse(JsonNode object, Context ctx) throws BadRecord;
    }

    /** Where the current record is, and its named counters (committed with the record). */
    static final class Context {
        final ReadOptions options;
        final String fileName;
        long line;
        final TreeMap<String, Long> counters = new TreeMap<>();

        Context(ReadOptions options, String fileName) {
            this.options = options;
            this.fileName = fileName;
        }

        /** "file.jsonl:12" */
        String origin() {
            return fileName + ":" + line;
        }

        void count(String name, long n) {
            if (n != 0) counters.merge(name, n, Long::sum);
        }
    }

    private final Path file;
    private final String format;
    private final ReadOptions options;
    private final TreeMap<String, Long> skipped = new TreeMap<>();
    private final TreeMap<String, Long> firstSkipped = new TreeMap<>();
    private final TreeMap<String, Long> counters = new TreeMap<>();
    private long read, produced;

    private RecordReader(Path file, String format, ReadOptions options) {
        this.file = file;
        this.format = format;
        this.options = options;
    }

    static <T> ReadResult<T> read(Path file, String format, ReadOptions options, boolean languageAware,
                                  Parser<T> parser) throws IOException {
        if (file == null) throw new IllegalArgumentException("file must not be null");
        if (options == null) throw new IllegalArgumentException("options must not be null");
        if (options.language() != null && !languageAware)
            throw new IllegalArgumentException("the " + format + " format carries no language: a language filter ('"
                    + options.language() + "') applies to OpenAssistant data only");
        return new RecordReader(file, format, options).run(parser);
    }

    /** {@link #read} for a format (no language) whose every record is one JSON object that gives one output. */
    static <T> ReadResult<T> readObjects(Path file, String format, ReadOptions options, ObjectParser<T> parser)
            throws IOException {
        return read(file, format, options, false, (node, ctx, out) -> {
            Fields.requireObject(node, "record");
            out.add(parser.parse(node, ctx));
        });
    }

    private <T> ReadResult<T> run(Parser<T> parser) throws IOException {
        List<T> all = new ArrayList<>();
        try (InputStream raw = Files.newInputStream(file)) {
            InputStream in = raw;
            if (file.getFileName().toString().endsWith(".gz")) in = gunzip(new BufferedInputStream(raw, 1 << 16));
            Lines lines = new Lines(in);
            try {
                byte[] first = lines.next();
                while (first != null && isBlank(first)) first = lines.next();
                if (first != null && firstNonBlank(first) == '[') readArray(lines, first, parser, all);
                else if (first != null) readJsonl(lines, first, parser, all);
            } catch (ZipException | EOFException e) {
                throw new DataFormatException(file, lines.lineNo, "corrupt or truncated gzip data: " + e.getMessage(), e);
            }
        }
        ReadReport report = new ReadReport(file, format, read, read - total(skipped), produced, skipped,
                firstSkipped, counters);
        return new ReadResult<>(all, report);
    }

    private InputStream gunzip(InputStream in) throws IOException {
        try {
            return new GZIPInputStream(in, 1 << 16);
        } catch (ZipException | EOFException e) {
            throw new DataFormatException(file, 0, "not a gzip file (the name ends in .gz): " + e.getMessage(), e);
        }
    }

    private <T> void readJsonl(Lines lines, byte[] first, Parser<T> parser, List<T> all) throws IOException {
        Context ctx = new Context(options, file.getFileName().toString());
        CharsetDecoder dec = strictUtf8();
        for (byte[] line = first; line != null && read < options.maxRecords(); line = lines.next()) {
            if (isBlank(line)) continue; // blank lines (a trailing newline, spacing) are not records
            read++;
            ctx.line = lines.lineNo;
            try {
                String text = decode(dec, line, lines.lineNo == 1);
                JsonNode node;
                try {
                    node = JSON.readTree(text);
                } catch (JsonProcessingException e) {
                    throw new BadRecord("malformed JSON", e.getOriginalMessage());
                }
                record(node, ctx, parser, all);
            } catch (BadRecord b) {
                bad(b, lines.lineNo, null);
            }
        }
    }

    private <T> void readArray(Lines lines, byte[] first, Parser<T> parser, List<T> all) throws IOException {
        // the blank lines before `first` were consumed: keep line numbers right by padding with newlines
        CharsetDecoder dec = strictUtf8();
        StringBuilder sb = new StringBuilder();
        sb.append("\n".repeat((int) (lines.lineNo - 1)));
        for (byte[] line = first; line != null; line = lines.next()) {
            try {
                sb.append(decode(dec, line, lines.lineNo == 1)).append('\n');
            } catch (BadRecord b) {
                throw new DataFormatException(file, lines.lineNo, b.getMessage() + " (in a JSON array file, which "
                        + "cannot be read past it)");
            }
        }
        Context ctx = new Context(options, file.getFileName().toString());
        long index = 0; // elements started
        boolean inElement = false; // a syntax error is inside element `index`, or else between elements
        try (JsonParser p = JSON.createParser(sb.toString())) {
            p.nextToken(); // START_ARRAY, checked by the caller
            while (read < options.maxRecords()) {
                JsonToken t = p.nextToken();
                if (t == JsonToken.END_ARRAY) {
                    if (p.nextToken() != null)
                        throw new DataFormatException(file, p.currentTokenLocation().getLineNr(),
                                "malformed JSON: content after the closing ']' of the array");
                    break;
                }
                if (t == null)
                    throw new DataFormatException(file, p.currentLocation().getLineNr(),
                            "malformed JSON (" + arrayPosition(index, false) + "): the array is not closed");
                index++;
                read++;
                long line = p.currentTokenLocation().getLineNr();
                inElement = true;
                JsonNode node = ELEMENT.readTree(p);
                inElement = false;
                ctx.line = line;
                try {
                    record(node, ctx, parser, all);
                } catch (BadRecord b) {
                    bad(b, line, index);
                }
            }
        } catch (JsonProcessingException e) {
            long line = e.getLocation() == null ? 0 : e.getLocation().getLineNr();
            throw new DataFormatException(file, line, "malformed JSON (" + arrayPosition(index, inElement) + "): "
                    + e.getOriginalMessage(), e);
        }
    }

    /** Where in an array a syntax error is, given the elements started so far: "record 3 of the array". */
    private static String arrayPosition(long started, boolean inElement) {
        if (inElement) return "record " + started + " of the array";
        return started == 0 ? "before record 1 of the array" : "after record " + started + " of the array";
    }

    private <T> void record(JsonNode node, Context ctx, Parser<T> parser, List<T> all) throws BadRecord {
        List<T> out = new ArrayList<>();
        ctx.counters.clear();
        try {
            parser.parse(node, ctx, out);
        } catch (IllegalArgumentException e) {
            // a record type's own validation (SftExample, PreferencePair): bad data, not a bug of the caller
            throw new BadRecord("invalid record", e.getMessage());
        }
        all.addAll(out);
        produced += out.size();
        ctx.counters.forEach((k, v) -> counters.merge(k, v, Long::sum));
    }

    private void bad(BadRecord b, long line, Long arrayIndex) throws DataFormatException {
        String reason = b.getMessage() + (arrayIndex == null ? "" : " (record " + arrayIndex + ")");
        if (!options.skipBad()) throw new DataFormatException(file, line, reason, b);
        skipped.merge(b.key, 1L, Long::sum);
        firstSkipped.putIfAbsent(b.key, line);
    }

    private static long total(TreeMap<String, Long> m) {
        long n = 0;
        for (long v : m.values()) n += v;
        return n;
    }

    static CharsetDecoder strictUtf8() {
        return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    /** Strict UTF-8 of one line (a trailing CR and, on line 1, a byte-order mark removed). */
    static String decode(CharsetDecoder dec, byte[] line, boolean firstLine) throws BadRecord {
        int from = 0, to = line.length;
        if (to > 0 && line[to - 1] == '\r') to--;
        if (firstLine && to - from >= 3 && (line[0] & 0xff) == 0xEF && (line[1] & 0xff) == 0xBB && (line[2] & 0xff) == 0xBF)
            from = 3;
        ByteBuffer in = ByteBuffer.wrap(line, from, to - from);
        CharBuffer out = CharBuffer.allocate(to - from);
        dec.reset();
        CoderResult r = dec.decode(in, out, true);
        if (!r.isError()) r = dec.flush(out);
        if (r.isError())
            throw new BadRecord("invalid UTF-8", "malformed byte sequence at byte " + (in.position() + 1) + " of the line");
        out.flip();
        return out.toString();
    }

    private static boolean isBlank(byte[] line) {
        return firstNonBlank(line) < 0;
    }

    /** The first byte (0..255) that is not white space or a leading byte-order mark; -1 when there is none. */
    private static int firstNonBlank(byte[] line) {
        int i = 0;
        // a UTF-8 byte-order mark before the first character
        if (line.length >= 3 && (line[0] & 0xff) == 0xEF && (line[1] & 0xff) == 0xBB && (line[2] & 0xff) == 0xBF) i = 3;
        for (; i < line.length; i++) {
            int b = line[i] & 0xff; // unsigned: a byte >= 0x80 (UTF-8 text or garbage) is content, never "none"
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') return b;
        }
        return -1;
    }

    /** Raw lines split on LF, with a 1-based line number; reads the stream in chunks. */
    private static final class Lines {
        private final InputStream in;
        private final byte[] chunk = new byte[1 << 16];
        private int pos, lim;
        private byte[] buf = new byte[1024];
        long lineNo;
        private boolean eof;

        Lines(InputStream in) {
            this.in = in;
        }

        byte[] next() throws IOException {
            if (eof) return null;
            int n = 0;
            while (true) {
                if (pos == lim) {
                    lim = in.read(chunk, 0, chunk.length);
                    pos = 0;
                    if (lim <= 0) {
                        lim = 0;
                        eof = true;
                        if (n == 0) return null; // the newline ending the last line does not start another
                        break;
                    }
                }
                int start = pos;
                while (pos < lim && chunk[pos] != '\n') pos++;
                int len = pos - start;
                if (n + len > buf.length) buf = Arrays.copyOf(buf, Math.max(2 * buf.length, n + len));
                System.arraycopy(chunk, start, buf, n, len);
                n += len;
                if (pos < lim) { // found the newline
                    pos++;
                    break;
                }
            }
            lineNo++;
            return Arrays.copyOf(buf, n);
        }
    }
}
