package dev.align4j.data;

import com.fasterxml.jackson.databind.JsonNode;

/** Field access with the readers' stable bad-record reasons. */
final class Fields {
    private Fields() {
    }

    static void requireObject(JsonNode node, String what) throws BadRecord {
        if (node == null || !node.isObject()) throw new BadRecord(what + " is not a JSON object", "got " + kind(node));
    }

    /** A present string field (may be empty). */
    static String string(JsonNode obj, String field) throws BadRecord {
        JsonNode v = obj.get(field);
        if (v == null) throw new BadRecord("missing field '" + field + "'");
        if (!v.isTextual()) throw new BadRecord("field '" + field + "' is not a string", "got " + kind(v));
        return v.textValue();
    }

    /** A present string field with some non-whitespace text. */
    static String nonBlank(JsonNode obj, String field) throws BadRecord {
        String s = string(obj, field);
        if (s.isBlank()) throw new BadRecord("empty field '" + field + "'");
        return s;
    }

    /** An optional string field: missing or null gives {@code null}. */
    static String optionalString(JsonNode obj, String field) throws BadRecord {
        JsonNode v = obj.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw new BadRecord("field '" + field + "' is not a string", "got " + kind(v));
        return v.textValue();
    }

    /** An optional boolean: missing or null gives {@code null}. */
    static Boolean optionalBoolean(JsonNode obj, String field) throws BadRecord {
        JsonNode v = obj.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isBoolean()) throw new BadRecord("field '" + field + "' is not a boolean", "got " + kind(v));
        return v.booleanValue();
    }

    /** An optional integral number (an integral double such as 1.0 is accepted): missing or null gives null. */
    static Long optionalInteger(JsonNode obj, String field) throws BadRecord {
        JsonNode v = obj.get(field);
        if (v == null || v.isNull()) return null;
        if (v.isIntegralNumber() && v.canConvertToLong()) return v.longValue();
        if (v.isFloatingPointNumber() && v.doubleValue() == Math.rint(v.doubleValue())
                && Math.abs(v.doubleValue()) < 1e15) return (long) v.doubleValue();
        throw new BadRecord("field '" + field + "' is not an integer", "got " + kind(v));
    }

    /** A present array field. */
    static JsonNode array(JsonNode obj, String field) throws BadRecord {
        JsonNode v = obj.get(field);
        if (v == null) throw new BadRecord("missing field '" + field + "'");
        if (!v.isArray()) throw new BadRecord("field '" + field + "' is not an array", "got " + kind(v));
        return v;
    }

    static String kind(JsonNode v) {
        if (v == null || v.isMissingNode()) return "nothing";
        return v.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }
}
