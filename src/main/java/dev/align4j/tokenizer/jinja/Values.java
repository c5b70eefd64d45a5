package dev.align4j.tokenizer.jinja;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The values a template sees, all plain data: {@code null} (None), {@link Boolean}, {@link Long}, {@link Double},
 * {@link String}, {@link List}, {@link Map} with string keys, and the interpreter's own {@link Undefined},
 * {@link Namespace}, {@link Fn} (macros, builtins, bound methods of the values above) and {@link Loop}. No other Java
 * object ever reaches a template, so there is nothing to reflect on. Python's {@code str}, {@code repr},
 * truthiness, equality and JSON (transformers' {@code tojson}) are here.
 */
final class Values {
    private Values() {}

    /** Jinja's Undefined: falsy, prints as nothing, fails on attribute access and arithmetic. */
    static final class Undefined {
        final String name;

        Undefined(String name) {
            this.name = name;
        }

        @Override
        public String toString() {
            return "";
        }
    }

    /** {@code namespace(...)}: the one mutable object a template may assign attributes of. */
    static final class Namespace {
        final Map<String, Object> attrs = new LinkedHashMap<>();
    }

    /** Something callable: a macro, a global such as {@code range}, or a bound method. */
    interface Fn {
        Object call(List<Object> args, Map<String, Object> kwargs, int line);
    }

    /** The {@code loop} variable of a for loop. */
    static final class Loop {
        int index0, length, depth0;
        Object prev, next;
        boolean hasPrev, hasNext;
        Object lastChanged = new Object();
    }

    /** A cycler(...) object. */
    static final class Cycler {
        final List<Object> items;
        int pos;

        Cycler(List<Object> items) {
            this.items = items;
        }
    }

    /** Converts caller data (JSON-like Java values) into template values, rejecting anything else. */
    static Object fromJava(Object v, String where) {
        return fromJava(v, where, new IdentityHashMap<>(), 0);
    }

    private static Object fromJava(Object v, String where, IdentityHashMap<Object, Object> seen, int depth) {
        if (depth > 200) throw new IllegalArgumentException(where + ": nested deeper than 200 levels");
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double) return v;
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float) return ((Float) v).doubleValue();
        if (v instanceof Map<?, ?> m) {
            Object done = seen.get(v);
            if (done != null) return done;
            Map<String, Object> out = new LinkedHashMap<>();
            seen.put(v, out);
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getKey() instanceof String k)) throw new IllegalArgumentException(where + ": map keys must be strings, got " + e.getKey());
                out.put(k, fromJava(e.getValue(), where + "." + k, seen, depth + 1));
            }
            return out;
        }
        if (v instanceof List<?> l) {
            Object done = seen.get(v);
            if (done != null) return done;
            List<Object> out = new ArrayList<>(l.size());
            seen.put(v, out);
            for (int i = 0; i < l.size(); i++) out.add(fromJava(l.get(i), where + "[" + i + "]", seen, depth + 1));
            return out;
        }
        throw new IllegalArgumentException(where + ": a template value must be null, a string, a number, a boolean, a list or"
                + " a map, got " + v.getClass().getSimpleName());
    }

    static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0.0;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof List<?> l) return !l.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    static String typeName(Object v) {
        if (v == null) return "NoneType";
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long) return "int";
        if (v instanceof Double) return "float";
        if (v instanceof String) return "str";
        if (v instanceof List) return "list";
        if (v instanceof Map) return "dict";
        if (v instanceof Namespace) return "Namespace";
        if (v instanceof Loop) return "LoopContext";
        if (v instanceof Cycler) return "Cycler";
        if (v instanceof Fn) return "function";
        return "object";
    }

    /** Python's {@code str(v)}, as {@code {{ v }}} prints it. */
    static String str(Object v) {
        if (v instanceof String s) return s;
        if (v instanceof Undefined) return "";
        return repr(v);
    }

    /** Python's {@code repr(v)}. */
    static String repr(Object v) {
        if (v == null) return "None";
        if (v instanceof Boolean b) return b ? "True" : "False";
        if (v instanceof Long l) return l.toString();
        if (v instanceof Double d) return floatRepr(d);
        if (v instanceof String s) return strRepr(s);
        if (v instanceof Undefined) return "";
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) sb.append(i > 0 ? ", " : "").append(repr(l.get(i)));
            return sb.append(']').toString();
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                first = false;
            }
            return sb.append('}').toString();
        }
        if (v instanceof Namespace) return "<Namespace>";
        return "<" + typeName(v) + ">";
    }

    static String strRepr(String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder sb = new StringBuilder().append(q);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == q || c == '\\') sb.append('\\').append(c);
            else if (c == '\n') sb.append("\\n");
            else if (c == '\r') sb.append("\\r");
            else if (c == '\t') sb.append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", (int) c));
            else sb.append(c);
        }
        return sb.append(q).toString();
    }

    /** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = bd.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - bd.scale(); // decimal exponent of the first digit
        String sign = d < 0 ? "-" : "";
        if (exp < -4 || exp >= 16) {
            String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
        }
        if (exp < 0) return sign + "0." + "0".repeat(-exp - 1) + digits;
        if (digits.length() <= exp + 1) return sign + digits + "0".repeat(exp + 1 - digits.length()) + ".0";
        return sign + digits.substring(0, exp + 1) + "." + digits.substring(exp + 1);
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    static boolean isInt(Object v) {
        return v instanceof Long || v instanceof Boolean;
    }

    static long asLong(Object v) {
        if (v instanceof Boolean b) return b ? 1 : 0;
        return (Long) v;
    }

    static double asDouble(Object v) {
        if (v instanceof Boolean b) return b ? 1 : 0;
        return ((Number) v).doubleValue();
    }

    /** Python's {@code ==}. */
    static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return asLong(a) == asLong(b);
            return asDouble(a) == asDouble(b);
        }
        if (a instanceof String && b instanceof String) return a.equals(b);
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!eq(x.get(i), y.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !eq(e.getValue(), y.get(e.getKey()))) return false;
            }
            return true;
        }
        return false;
    }

    /** Python's ordering of numbers, strings and lists; anything else is a type error (null returned). */
    static Integer compare(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return Long.compare(asLong(a), asLong(b));
            return Double.compare(asDouble(a), asDouble(b));
        }
        if (a instanceof String x && b instanceof String y) return comparePoints(x, y);
        if (a instanceof List<?> x && b instanceof List<?> y) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                if (eq(x.get(i), y.get(i))) continue;
                return compare(x.get(i), y.get(i));
            }
            return Integer.compare(x.size(), y.size());
        }
        return null;
    }

    /** Strings ordered by code point, as Python orders them. */
    static int comparePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /**
     * transformers' {@code tojson}: {@code json.dumps(x, ensure_ascii=False, indent=indent, separators=...,
     * sort_keys=...)}; separators default to {@code (", ", ": ")} without indent and {@code (",", ": ")} with it.
     */
    static void json(StringBuilder sb, Object v, Integer indent, String itemSep, String keySep, boolean sortKeys, int level,
                     int line, Limits limits) {
        limits.checkLength(sb.length(), line);
        if (v == null) sb.append("null");
        else if (v instanceof Boolean b) sb.append(b ? "true" : "false");
        else if (v instanceof Long l) sb.append(l);
        else if (v instanceof Double d) {
            if (Double.isNaN(d)) sb.append("NaN");
            else if (Double.isInfinite(d)) sb.append(d > 0 ? "Infinity" : "-Infinity");
            else sb.append(floatRepr(d));
        } else if (v instanceof String s) jsonString(sb, s);
        else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(itemSep);
                newline(sb, indent, level + 1);
                json(sb, l.get(i), indent, itemSep, keySep, sortKeys, level + 1, line, limits);
            }
            newline(sb, indent, level);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Object> keys = new ArrayList<>(m.keySet());
            if (sortKeys) keys.sort((x, y) -> comparePoints(String.valueOf(x), String.valueOf(y)));
            sb.append('{');
            boolean first = true;
            for (Object k : keys) {
                if (!first) sb.append(itemSep);
                first = false;
                newline(sb, indent, level + 1);
                jsonString(sb, String.valueOf(k));
                sb.append(keySep);
                json(sb, m.get(k), indent, itemSep, keySep, sortKeys, level + 1, line, limits);
            }
            newline(sb, indent, level);
            sb.append('}');
        } else if (v instanceof Namespace ns) {
            json(sb, ns.attrs, indent, itemSep, keySep, sortKeys, level, line, limits);
        } else {
            throw new TemplateException(line, "tojson: object of type " + typeName(v) + " is not JSON serializable");
        }
    }

    private static void newline(StringBuilder sb, Integer indent, int level) {
        if (indent == null) return;
        sb.append('\n');
        sb.append(" ".repeat(indent * level));
    }

    static void jsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    static List<Object> list(Object... xs) {
        List<Object> l = new ArrayList<>(xs.length);
        Collections.addAll(l, xs);
        return l;
    }
}
