package dev.align4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Whole text files read as strict UTF-8: a malformed byte sequence (a binary file, another encoding) is an
 * IOException naming the file, the byte offset and the line, where {@link Files#readString} says only
 * "Input length = 1" and a lenient decoder would silently substitute U+FFFD.
 */
public final class StrictUtf8 {
    private StrictUtf8() {}

    /** The content of {@code file}. */
    public static String read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length); // UTF-8 never decodes to more chars than bytes
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) r = decoder.flush(out);
        if (r.isError()) {
            int offset = in.position(), line = 1;
            for (int i = 0; i < offset; i++) if (bytes[i] == '\n') line++;
            String at = offset < bytes.length ? ", byte 0x" + Integer.toHexString(bytes[offset] & 0xff) : "";
            throw new IOException(file + ": not valid UTF-8: malformed byte sequence at byte offset " + offset + " (line " + line
                    + at + "); is it a binary file or another encoding?");
        }
        return out.flip().toString();
    }

    /** The lines of {@code file} (split at \n, \r\n or \r, as {@link Files#readAllLines}). */
    public static List<String> readLines(Path file) throws IOException {
        return read(file).lines().toList();
    }
}
