// GenerateJavaGlue.java — the Java side of the native ABI, generated from the two lists that the C side is
// generated from, so that neither is written twice:
//   kernels.def   -> dev/align4j/tensor/NativeKernels.java: per launcher, the JNI declaration (a4j_<name>,
//                    pointers as @Cast longs for JavaCPP) and a typed public wrapper <camelName>(Device, ...)
//                    that passes Tensors as checked addresses and turns error codes into exceptions;
//   constants.def -> dev/align4j/tensor/NativeConstants.java: one int field per line, and a lookup by name.
// Run by Maven in generate-sources (pom.xml), as a single-file program of the JDK that runs Maven:
//   java native/GenerateJavaGlue.java native target/generated-sources/align4j
// A file is rewritten only when its text changes, so that an unchanged list does not recompile the module.
// A line the generator cannot read stops the build with its file and line number.
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class GenerateJavaGlue {
    private static final String PACKAGE = "dev.align4j.tensor";

    /** A C parameter of a launcher: {@code const float* logits}, {@code int64_t N}. */
    record Param(String cType, String base, boolean pointer, String name) {
        String javaName() {
            return camel(name);
        }
    }

    record Kernel(String name, List<Param> params, List<String> doc, int line) {}

    record Constant(String name, int value, String doc) {}

    /** A line the generator cannot read. */
    static final class DefException extends Exception {
        DefException(Path file, int line, String message) {
            super(file + ":" + line + ": " + message);
        }
    }

    // C scalar or pointee type -> Java scalar type, and the DType a pointer's tensor must have.
    private static final Map<String, String> JAVA_SCALAR =
            Map.of("float", "float", "double", "double", "int32_t", "int", "int64_t", "long");
    private static final Map<String, String> DTYPE =
            Map.of("float", "F32", "double", "F64", "int32_t", "I32", "int64_t", "I64");
    private static final Pattern PARAM =
            Pattern.compile("(const\\s+)?(float|double|int32_t|int64_t)\\s*(\\*)?\\s*([A-Za-z_][A-Za-z0-9_]*)");
    private static final Pattern CONST =
            Pattern.compile("A4J_CONST\\(\\s*([A-Z][A-Z0-9_]*)\\s*,\\s*(-?[0-9]+)\\s*\\)\\s*(?://\\s*(.*))?");
    private static final Set<String> JAVA_KEYWORDS = Set.of("abstract", "assert", "boolean", "break", "byte", "case",
            "catch", "char", "class", "const", "continue", "default", "do", "double", "else", "enum", "extends", "final",
            "finally", "float", "for", "goto", "if", "implements", "import", "instanceof", "int", "interface", "long",
            "native", "new", "package", "private", "protected", "public", "return", "short", "static", "strictfp",
            "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try", "void", "volatile",
            "while", "true", "false", "null", "var", "record", "yield", "device");

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: java GenerateJavaGlue.java <native dir> <generated source root>");
            System.exit(2);
        }
        try {
            generate(Path.of(args[0]), Path.of(args[1]));
        } catch (DefException e) {
            System.err.println("GenerateJavaGlue: " + e.getMessage());
            System.exit(1);
        }
    }

    /** Reads nativeDir/kernels.def and nativeDir/constants.def; writes the two classes under the source root. */
    static void generate(Path nativeDir, Path sourceRoot) throws IOException, DefException {
        List<Kernel> kernels = parseKernels(nativeDir.resolve("kernels.def"));
        List<Constant> constants = parseConstants(nativeDir.resolve("constants.def"));
        Path out = sourceRoot.resolve(PACKAGE.replace('.', '/'));
        Files.createDirectories(out);
        write(out.resolve("NativeKernels.java"), nativeKernels(kernels));
        write(out.resolve("NativeConstants.java"), nativeConstants(constants));
    }

    // ------------------------------------------------------------------------------------------ kernels.def

    /**
     * The A4J_FN(name, (params), (args)) entries, each with the comment lines right above it (a blank line or
     * a "// ----" section line ends a comment).
     */
    static List<Kernel> parseKernels(Path file) throws IOException, DefException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<Kernel> kernels = new ArrayList<>();
        Set<String> names = new HashSet<>();
        List<String> doc = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                doc.clear();
            } else if (line.startsWith("//")) {
                String text = line.substring(2).strip();
                if (text.startsWith("----")) doc.clear();
                else doc.add(text);
            } else if (line.startsWith("A4J_FN(")) {
                int first = i;
                StringBuilder entry = new StringBuilder();
                int depth = 0;
                do {
                    if (i == lines.size()) throw new DefException(file, first + 1, "unclosed A4J_FN(");
                    String code = stripComment(lines.get(i));
                    for (char c : code.toCharArray()) depth += c == '(' ? 1 : c == ')' ? -1 : 0;
                    entry.append(code).append(' ');
                    i++;
                } while (depth > 0);
                i--;
                Kernel k = parseKernel(file, first + 1, entry.toString().strip(), List.copyOf(doc));
                if (!names.add(k.name())) throw new DefException(file, first + 1, k.name() + " is listed twice");
                kernels.add(k);
                doc.clear();
            } else {
                throw new DefException(file, i + 1, "expected A4J_FN(name, (params), (args)) or a // comment, got: " + line);
            }
        }
        if (kernels.isEmpty()) throw new DefException(file, 1, "no A4J_FN entries");
        return kernels;
    }

    private static Kernel parseKernel(Path file, int line, String entry, List<String> doc) throws DefException {
        if (!entry.endsWith(")")) throw new DefException(file, line, "text after A4J_FN(...): " + entry);
        List<String> parts = splitTopLevel(entry.substring("A4J_FN(".length(), entry.length() - 1));
        if (parts.size() != 3) throw new DefException(file, line, "A4J_FN takes name, (params), (args); got: " + entry);
        String name = parts.get(0);
        if (!name.matches("[a-z][a-z0-9_]*")) throw new DefException(file, line, "bad kernel name '" + name + "'");
        List<Param> params = new ArrayList<>();
        Set<String> javaNames = new HashSet<>();
        for (String p : splitTopLevel(unparen(file, line, parts.get(1)))) {
            Matcher m = PARAM.matcher(p);
            if (!m.matches())
                throw new DefException(file, line, name + ": cannot map parameter '" + p
                        + "' (types: [const] float|double|int32_t|int64_t, optionally a pointer)");
            boolean pointer = m.group(3) != null;
            if (m.group(1) != null && !pointer) throw new DefException(file, line, name + ": const scalar '" + p + "'");
            String base = m.group(2);
            String cType = (m.group(1) != null ? "const " : "") + base + (pointer ? "*" : "");
            Param param = new Param(cType, base, pointer, m.group(4));
            if (JAVA_KEYWORDS.contains(param.javaName()) || !javaNames.add(param.javaName()))
                throw new DefException(file, line, name + ": parameter name '" + param.name() + "' cannot be a Java name");
            params.add(param);
        }
        List<String> args = splitTopLevel(unparen(file, line, parts.get(2)));
        List<String> expected = params.stream().map(Param::name).toList();
        if (!args.equals(expected))
            throw new DefException(file, line, name + ": the argument list " + args + " is not the parameters " + expected);
        return new Kernel(name, params, doc, line);
    }

    private static String nativeKernels(List<Kernel> kernels) {
        StringBuilder s = new StringBuilder();
        s.append(header("native/kernels.def"));
        s.append("""
                import org.bytedeco.javacpp.Loader;
                import org.bytedeco.javacpp.annotation.Cast;
                import org.bytedeco.javacpp.annotation.Platform;

                /**
                 * Internal: the typed bridge from {@code dev.align4j.kernels} to the native kernels, one method per entry of
                 * native/kernels.def, generated from it. Each checks what is generic to every call (each tensor open, on
                 * {@code device}, of the dtype the C signature expects; a null tensor becomes a null pointer) and turns error
                 * codes into exceptions. Shapes and values are validated by the public kernel classes before they get here.
                 * Not an API: use the classes of {@code dev.align4j.kernels}. The JNI declarations are bound by JavaCPP into
                 * the same library as {@link NativeLib}.
                 */
                @Platform(include = "align4j.h", link = "align4j_cpu", library = NativeLib.LIBRARY)
                public final class NativeKernels {
                    static {
                        Loader.load();
                    }

                    private NativeKernels() {}
                """);
        for (Kernel k : kernels) {
            s.append('\n');
            javadoc(s, "    ", k.doc());
            s.append("    public static void ").append(camel(k.name())).append("(Device device");
            for (Param p : k.params()) s.append(", ").append(p.pointer() ? "Tensor" : JAVA_SCALAR.get(p.base())).append(' ').append(p.javaName());
            s.append(") {\n");
            s.append("        Backend.check(a4j_").append(k.name()).append("(device.nativeId()");
            for (Param p : k.params()) {
                s.append(",\n                ");
                if (p.pointer()) {
                    s.append("Backend.pointer(device, DType.").append(DTYPE.get(p.base())).append(", \"").append(p.name())
                            .append("\", ").append(p.javaName()).append(')');
                } else {
                    s.append(p.javaName());
                }
            }
            s.append("), \"").append(k.name()).append("\");\n    }\n");
        }
        s.append('\n');
        for (Kernel k : kernels) {
            s.append("    private static native int a4j_").append(k.name()).append("(int device");
            for (Param p : k.params()) {
                s.append(", ");
                if (p.pointer()) s.append("@Cast(\"").append(p.cType()).append("\") long ");
                else s.append(JAVA_SCALAR.get(p.base())).append(' ');
                s.append(p.name());
            }
            s.append(");\n");
        }
        s.append("}\n");
        return s.toString();
    }

    // ---------------------------------------------------------------------------------------- constants.def

    static List<Constant> parseConstants(Path file) throws IOException, DefException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<Constant> constants = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("//")) continue;
            Matcher m = CONST.matcher(line);
            if (!m.matches()) throw new DefException(file, i + 1, "expected A4J_CONST(NAME, int) [// doc], got: " + line);
            int value;
            try {
                value = Integer.parseInt(m.group(2));
            } catch (NumberFormatException e) {
                throw new DefException(file, i + 1, m.group(2) + " is not an int32");
            }
            if (!names.add(m.group(1))) throw new DefException(file, i + 1, m.group(1) + " is listed twice");
            constants.add(new Constant(m.group(1), value, m.group(3) == null ? "" : m.group(3).strip()));
        }
        if (constants.isEmpty()) throw new DefException(file, 1, "no A4J_CONST entries");
        return constants;
    }

    private static String nativeConstants(List<Constant> constants) {
        StringBuilder s = new StringBuilder();
        s.append(header("native/constants.def"));
        s.append("""
                import java.util.Collections;
                import java.util.LinkedHashMap;
                import java.util.Map;

                /**
                 * Internal: the numbers that native code and Java must agree on (codes, flags, stats sizes), generated from
                 * native/constants.def, which is also where the C side's A4J_* constants come from.
                 */
                public final class NativeConstants {
                    private NativeConstants() {}

                """);
        for (Constant c : constants) {
            if (!c.doc().isEmpty()) javadoc(s, "    ", List.of(c.doc()));
            s.append("    public static final int ").append(c.name()).append(" = ").append(c.value()).append(";\n");
        }
        s.append("""

                    private static final Map<String, Integer> ALL;

                    static {
                        Map<String, Integer> all = new LinkedHashMap<>();
                """);
        for (Constant c : constants) s.append("        all.put(\"").append(c.name()).append("\", ").append(c.name()).append(");\n");
        s.append("""
                        ALL = Collections.unmodifiableMap(all);
                    }

                    /** Every constant by name, in the order of constants.def. */
                    public static Map<String, Integer> all() {
                        return ALL;
                    }

                    /**
                     * The constant {@code group + "_" + constant.name()}: the code of a Java enum constant that mirrors a group
                     * of native constants, e.g. {@code code("AGG", Aggregation.TOKEN_MEAN)} is {@link #AGG_TOKEN_MEAN}.
                     */
                    public static int code(String group, Enum<?> constant) {
                        Integer v = ALL.get(group + "_" + constant.name());
                        if (v == null)
                            throw new IllegalStateException(constant.getDeclaringClass().getName() + "." + constant.name()
                                    + " has no native constant " + group + "_" + constant.name() + " in native/constants.def");
                        return v;
                    }
                }
                """);
        return s.toString();
    }

    // ------------------------------------------------------------------------------------------------ common

    private static String header(String source) {
        return "// Generated from " + source + " by native/GenerateJavaGlue.java at build time: edit those, not this.\n"
                + "package " + PACKAGE + ";\n\n";
    }

    private static void javadoc(StringBuilder s, String indent, List<String> lines) {
        if (lines.isEmpty()) return;
        if (lines.size() == 1) {
            s.append(indent).append("/** ").append(html(lines.get(0))).append(" */\n");
            return;
        }
        s.append(indent).append("/**\n");
        for (String l : lines) s.append(indent).append(" * ").append(html(l)).append('\n');
        s.append(indent).append(" */\n");
    }

    /** Comment text made safe inside a Javadoc comment. */
    private static String html(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
                .replace("*/", "*&#47;");
    }

    /** snake_case -> camelCase (logp_new -> logpNew, check_f32 -> checkF32); all-caps names (N, BH, Tq) stay. */
    static String camel(String snake) {
        StringBuilder s = new StringBuilder();
        boolean up = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                up = s.length() > 0;
            } else {
                s.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return s.toString();
    }

    private static String stripComment(String line) {
        int i = line.indexOf("//");
        return i < 0 ? line : line.substring(0, i);
    }

    private static String unparen(Path file, int line, String s) throws DefException {
        String t = s.strip();
        if (!t.startsWith("(") || !t.endsWith(")")) throw new DefException(file, line, "expected a (parenthesised list), got " + t);
        return t.substring(1, t.length() - 1);
    }

    /** Splits at the commas outside parentheses; parts are trimmed, an empty text gives no parts. */
    private static List<String> splitTopLevel(String s) {
        List<String> parts = new ArrayList<>();
        if (s.isBlank()) return parts;
        int depth = 0, start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (c == ',' && depth == 0) {
                parts.add(s.substring(start, i).strip());
                start = i + 1;
            }
        }
        parts.add(s.substring(start).strip());
        return parts;
    }

    private static void write(Path file, String text) throws IOException {
        if (Files.exists(file) && Files.readString(file, StandardCharsets.UTF_8).equals(text)) return;
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }
}
