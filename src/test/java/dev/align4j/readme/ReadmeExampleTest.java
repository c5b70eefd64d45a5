package dev.align4j.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's library example is a real program: every Java block preceded by
 * {@code <!-- readme-example: Name.java -->} is written to a file, compiled against the project's classpath
 * (as another project depending on the jar would be) and its {@code main} run, so the README cannot drift
 * from the API.
 */
class ReadmeExampleTest {
    private static final Pattern EXAMPLE = Pattern.compile("<!-- readme-example: (\\w+)\\.java -->\\s*```java\\n(.*?)```", Pattern.DOTALL);

    static Map<String, String> examples() throws Exception {
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = EXAMPLE.matcher(readme);
        while (m.find()) out.put(m.group(1), m.group(2));
        return out;
    }

    @Test
    void libraryExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        Map<String, String> ex = examples();
        assertTrue(ex.containsKey("MyAlignment"), "README.md has no <!-- readme-example: MyAlignment.java --> block");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "no system Java compiler (a JDK is required)");
        List<String> files = new ArrayList<>();
        for (Map.Entry<String, String> e : ex.entrySet()) {
            Path f = dir.resolve(e.getKey() + ".java");
            Files.writeString(f, e.getValue(), StandardCharsets.UTF_8);
            files.add(f.toString());
        }
        List<String> args = new ArrayList<>(List.of("-d", dir.toString(), "-cp", System.getProperty("java.class.path"), "-Xlint:all"));
        args.addAll(files);
        StringWriter diag = new StringWriter();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, null, err, args.toArray(new String[0]));
        assertEquals(0, rc, "README example does not compile:\n" + err.toString(StandardCharsets.UTF_8) + diag);

        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (URLClassLoader cl = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            Method main = cl.loadClass("MyAlignment").getMethod("main", String[].class);
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            main.invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(old);
        }
        String printed = out.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("DPO loss") && printed.contains("SFT loss"), printed);
        // the example's SFT must actually learn: last loss below first
        Matcher l = Pattern.compile("SFT loss ([0-9.eE-]+) -> ([0-9.eE-]+)").matcher(printed);
        assertTrue(l.find(), printed);
        assertTrue(Double.parseDouble(l.group(2)) < Double.parseDouble(l.group(1)), printed);
        assertFalse(printed.contains("NaN"), printed);
    }
}
