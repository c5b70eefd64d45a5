package dev.align4j.model;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
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

    /**
     * {@code o} plus {@code extra} keys (which may not override one of {@code o}'s) as config.json text: keys
     * sorted, 2-space indent, {@code "key": value}, as {@code save_pretrained} (Python's json.dump) writes it.
     */
    static String toText(ObjectNode o, Map<String, ?> extra) {
        for (Map.Entry<String, ?> e : extra.entrySet()) {
            if (o.has(e.getKey()))
                throw new IllegalArgumentException("extra key '" + e.getKey() + "' would override the model's own");
            o.set(e.getKey(), JSON.valueToTree(e.getValue()));
        }
        try {
            Object sorted = JSON.treeToValue(o, TreeMap.class);
            DefaultPrettyPrinter pp = new DefaultPrettyPrinter(Separators.createDefaultInstance()
                    .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                    .withArrayEmptySeparator("").withObjectEmptySeparator(""))
                    .withArrayIndenter(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
            return JSON.writer(pp).writeValueAsString(sorted) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("extra values are not JSON-serialisable: " + e.getOriginalMessage(), e);
        }
    }
}
