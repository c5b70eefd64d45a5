package dev.align4j.tokenizer;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Real text from ../shared/data (beside the project, never copied into it). Every accessor skips the
 * calling test through an Assumption when the folder or file is absent, so a fresh clone still passes.
 */
final class RealText {
    private RealText() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    static Path file(String name) {
        Path p = Paths.get("../shared/data").resolve(name);
        assumeTrue(Files.isRegularFile(p), "real data absent: " + p.toAbsolutePath().normalize());
        return p;
    }

    static String tinyShakespeare() {
        try {
            return Files.readString(file("tinyshakespeare.txt"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The "output" field of every Alpaca example. */
    static List<String> alpacaOutputs() {
        try {
            List<String> out = new ArrayList<>();
            for (JsonNode ex : JSON.readTree(file("alpaca_5000.json").toFile())) out.add(ex.get("output").asText());
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A message's text and language. */
    record Message(String lang, String text) {}

    /** Every message of every OASST2 tree (prompts and replies, all languages). */
    static List<Message> oasstMessages() {
        List<Message> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file("oasst2_trees_sample.jsonl"), StandardCharsets.UTF_8)) {
            for (String line; (line = r.readLine()) != null; ) {
                if (!line.isBlank()) walk(JSON.readTree(line).get("prompt"), out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static void walk(JsonNode m, List<Message> out) {
        out.add(new Message(m.path("lang").asText(), m.get("text").asText()));
        for (JsonNode reply : m.path("replies")) walk(reply, out);
    }

    static boolean hasSupplementary(String s) {
        return s.codePoints().anyMatch(cp -> cp > 0xFFFF);
    }

    static boolean hasCjk(String s) {
        return s.codePoints().anyMatch(cp -> cp >= 0x4E00 && cp <= 0x9FFF);
    }

    static boolean hasCyrillic(String s) {
        return s.codePoints().anyMatch(cp -> cp >= 0x0400 && cp <= 0x04FF);
    }
}
