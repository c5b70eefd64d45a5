package dev.align4j.model;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Typed reads of a Hugging Face {@code config.json}, shared by the model families: each value is checked for its
 * JSON type, and a wrong one fails naming the key ({@code hidden_size must be an integer, got "64"}); the callers
 * prefix the file.
 */
final class ConfigJson {
    static final ObjectMapper JSON = new ObjectMapper();

    private ConfigJson() {}

    /** The JSON object of {@code path}; malformed JSON fails naming the file, line and column. */
    static JsonNode read(Path path) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(path));
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr();
            throw new IOException(path + where + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IOException(path + ": config must be a JSON object");
        return root;
    }

    static int integer(JsonNode root, String key, int dflt) {
        return value(root, key, dflt, "an integer", v -> v.isIntegralNumber() && v.canConvertToInt(), JsonNode::intValue);
    }

    static double number(JsonNode root, String key, double dflt) {
        return value(root, key, dflt, "a number", JsonNode::isNumber, JsonNode::doubleValue);
    }

    static String text(JsonNode root, String key, String dflt) {
        return value(root, key, dflt, "a string", JsonNode::isTextual, JsonNode::textValue);
    }

    static boolean bool(JsonNode root, String key, boolean dflt) {
        return value(root, key, dflt, "true or false", JsonNode::isBoolean, JsonNode::booleanValue);
    }

    /** {@code root[key]} as {@code as} reads it, {@code dflt} when absent or null; a value {@code is} rejects names the key. */
    static <T> T value(JsonNode root, String key, T dflt, String expected, Predicate<JsonNode> is,
                       Function<JsonNode, T> as) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!is.test(v)) throw new IllegalArgumentException(key + " must be " + expected + ", got " + v);
        return as.apply(v);
    }
}
