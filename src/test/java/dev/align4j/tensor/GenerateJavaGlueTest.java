package dev.align4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * native/GenerateJavaGlue.java, the build step that writes NativeKernels and NativeConstants: how it maps each C
 * type of kernels.def, and that a line it cannot read stops the build naming the file and line.
 */
class GenerateJavaGlueTest {
    @TempDir
    static Path classes;
    private static Method generate;

    @BeforeAll
    static void compileGenerator() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = ToolProvider.getSystemJavaCompiler().run(null, err, err, "-d", classes.toString(),
                "native/GenerateJavaGlue.java");
        assertEquals(0, rc, err.toString(StandardCharsets.UTF_8));
        Class<?> c = new URLClassLoader(new URL[] {classes.toUri().toURL()}).loadClass("GenerateJavaGlue");
        generate = c.getDeclaredMethod("generate", Path.class, Path.class);
        generate.setAccessible(true);
    }

    private static final String CONSTANTS = "A4J_CONST(OK, 0)\n";

    @Test
    void mapsEveryParameterType(@TempDir Path dir) throws Exception {
        String kernels = """
                // the header comment, not documentation (a blank line follows)

                // ---- a section
                // x[n] -> out[n] (out nullable)
                A4J_FN(tiny_op, (const float* x, const int32_t* idx, double* work, int64_t* first_bad, int64_t n,
                                 int32_t k, float a, double d, float* out),
                       (x, idx, work, first_bad, n, k, a, d, out))
                """;
        Path src = run(dir, kernels, "// sizes\nA4J_CONST(OK, 0)\nA4J_CONST(MINUS_THREE, -3)   // a negative one\n");
        String k = Files.readString(src.resolve("dev/align4j/tensor/NativeKernels.java"));
        assertContains(k, "    /** x[n] -&gt; out[n] (out nullable) */\n    public static void tinyOp(Device device, Tensor x, "
                + "Tensor idx, Tensor work, Tensor firstBad, long n, int k, float a, double d, Tensor out) {");
        assertContains(k, "Backend.check(a4j_tiny_op(device.nativeId(),\n"
                + "                Backend.pointer(device, DType.F32, \"x\", x),\n"
                + "                Backend.pointer(device, DType.I32, \"idx\", idx),\n"
                + "                Backend.pointer(device, DType.F64, \"work\", work),\n"
                + "                Backend.pointer(device, DType.I64, \"first_bad\", firstBad),\n"
                + "                n,\n                k,\n                a,\n                d,\n"
                + "                Backend.pointer(device, DType.F32, \"out\", out)), \"tiny_op\");");
        assertContains(k, "private static native int a4j_tiny_op(int device, @Cast(\"const float*\") long x, "
                + "@Cast(\"const int32_t*\") long idx, @Cast(\"double*\") long work, @Cast(\"int64_t*\") long first_bad, "
                + "long n, int k, float a, double d, @Cast(\"float*\") long out);");
        String c = Files.readString(src.resolve("dev/align4j/tensor/NativeConstants.java"));
        assertContains(c, "    /** a negative one */\n    public static final int MINUS_THREE = -3;");
        assertContains(c, "all.put(\"MINUS_THREE\", MINUS_THREE);");
    }

    @Test
    void aLineItCannotReadNamesTheFileAndLine(@TempDir Path dir) {
        String ok = "A4J_FN(f, (const float* x, int64_t n), (x, n))\n";
        refused(dir, "// c\n" + ok + "A4J_FN(g, (half* x), (x))\n", CONSTANTS, "kernels.def:3: g: cannot map parameter 'half* x'");
        refused(dir, ok + "A4J_FN(g, (float* x, int64_t n), (n, x))\n", CONSTANTS,
                "kernels.def:2: g: the argument list [n, x] is not the parameters [x, n]");
        refused(dir, ok + "\n" + ok, CONSTANTS, "kernels.def:3: f is listed twice");
        refused(dir, ok + "int a4j_h(void);\n", CONSTANTS, "kernels.def:2: expected A4J_FN");
        refused(dir, ok + "A4J_FN(g, (int64_t device), (device))\n", CONSTANTS, "kernels.def:2: g: parameter name 'device'");
        refused(dir, ok + "A4J_FN(g, (const float* x,\n", CONSTANTS, "kernels.def:2: unclosed A4J_FN(");
        refused(dir, ok, CONSTANTS + "A4J_CONST(X, 1.5)\n", "constants.def:2: expected A4J_CONST(NAME, int)");
        refused(dir, ok, CONSTANTS + "\nA4J_CONST(OK, 1)\n", "constants.def:3: OK is listed twice");
        refused(dir, ok, CONSTANTS + "A4J_CONST(BIG, 3000000000)\n", "constants.def:2: 3000000000 is not an int32");
    }

    private static Path run(Path dir, String kernels, String constants) throws Exception {
        Path nativeDir = Files.createDirectories(dir.resolve("native"));
        Files.writeString(nativeDir.resolve("kernels.def"), kernels);
        Files.writeString(nativeDir.resolve("constants.def"), constants);
        Path out = dir.resolve("generated");
        try {
            generate.invoke(null, nativeDir, out);
        } catch (InvocationTargetException e) {
            throw (Exception) e.getCause();
        }
        return out;
    }

    private static void refused(Path dir, String kernels, String constants, String message) {
        Exception e = assertThrows(Exception.class, () -> run(dir, kernels, constants), message);
        assertEquals("GenerateJavaGlue$DefException", e.getClass().getName(), e.toString());
        assertContains(e.getMessage(), message);
    }

    private static void assertContains(String text, String part) {
        assertTrue(text.contains(part), "expected\n" + part + "\nin\n" + text);
    }
}
