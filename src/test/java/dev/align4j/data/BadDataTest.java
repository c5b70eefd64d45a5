package dev.align4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every bad input on generated files: strict reading throws a {@link DataFormatException} naming the file and
 * the right line; with skipBad the same records are counted by reason and the good ones kept.
 */
class BadDataTest {
    @TempDir
    Path dir;

    /** Bytes of a line holding a malformed UTF-8 sequence (a lone continuation byte) inside a JSON string. */
    static byte[] invalidUtf8(String before, String after) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(before.getBytes(StandardCharsets.UTF_8));
        b.write(0x80);
        b.write(0xC3); // a truncated two-byte sequence too
        b.writeBytes(after.getBytes(StandardCharsets.UTF_8));
        return b.toByteArray();
    }

    static byte[] u(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A format under test: a good line and the bad lines with the skip reason each must give. */
    record Case(String name, Datasets.SftFormat sft, Datasets.PairFormat pair, String good, Map<String, byte[]> bad) {
        int read(Path f, ReadOptions o) throws IOException {
            return sft != null ? Datasets.readSft(f, sft, o).size() : Datasets.readPairs(f, pair, o).size();
        }

        ReadReport report(Path f, ReadOptions o) throws IOException {
            return sft != null ? Datasets.readSft(f, sft, o).report() : Datasets.readPairs(f, pair, o).report();
        }
    }

    /** A case's bad lines by the skip reason each must give: reason, line, reason, line, ... (a line as text or bytes). */
    static Map<String, byte[]> bad(Object... reasonThenLine) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (int i = 0; i < reasonThenLine.length; i += 2) {
            Object line = reasonThenLine[i + 1];
            m.put((String) reasonThenLine[i], line instanceof String t ? u(t) : (byte[]) line);
        }
        return m;
    }

    static List<Case> cases() {
        List<Case> out = new ArrayList<>();
        out.add(new Case("alpaca", Datasets.SftFormat.ALPACA, null,
                "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi!\"}",
                bad(
                        "malformed JSON", "{\"instruction\": \"a\", \"input\": \"\", \"output\": \"b\"",
                        "missing field 'output'", "{\"instruction\": \"a\", \"input\": \"\"}",
                        "missing field 'input'", "{\"instruction\": \"a\", \"output\": \"b\"}",
                        "field 'output' is not a string", "{\"instruction\": \"a\", \"input\": \"\", \"output\": 3}",
                        "empty field 'output'", "{\"instruction\": \"a\", \"input\": \"\", \"output\": \"  \"}",
                        "empty field 'instruction'", "{\"instruction\": \"\", \"input\": \"\", \"output\": \"b\"}",
                        "invalid UTF-8", invalidUtf8("{\"instruction\": \"a", "\", \"input\": \"\", \"output\": \"b\"}"),
                        "record is not a JSON object", "[\"a\", \"b\"]")));

        String inst = "{\"input\": \"x\", \"output\": \"y\"}";
        out.add(new Case("self-instruct", Datasets.SftFormat.SELF_INSTRUCT, null, // 2 examples per task
                "{\"id\": \"seed_task_0\", \"name\": \"t\", \"instruction\": \"Sort the words.\", \"instances\": "
                        + "[{\"input\": \"b a\", \"output\": \"a b\"}, {\"input\": \"\", \"output\": \"nothing\"}], "
                        + "\"is_classification\": false}",
                bad(
                        "malformed JSON", "{\"instruction\": \"a\", \"instances\": [" + inst + "}",
                        "record is not a JSON object", "\"a task\"",
                        "missing field 'instruction'", "{\"name\": \"t\", \"instances\": [" + inst + "]}",
                        "empty field 'instruction'", "{\"instruction\": \" \", \"instances\": [" + inst + "]}",
                        "field 'instruction' is not a string", "{\"instruction\": [\"a\"], \"instances\": [" + inst + "]}",
                        "missing field 'instances'", "{\"instruction\": \"a\", \"input\": \"\", \"output\": \"b\"}",
                        "field 'instances' is not an array", "{\"instruction\": \"a\", \"instances\": " + inst + "}",
                        "no instances", "{\"instruction\": \"a\", \"instances\": []}",
                        "instance is not a JSON object", "{\"instruction\": \"a\", \"instances\": [" + inst + ", \"y\"]}",
                        "missing field 'input'", "{\"instruction\": \"a\", \"instances\": [{\"output\": \"y\"}]}",
                        "field 'input' is not a string", "{\"instruction\": \"a\", \"instances\": [{\"input\": null, \"output\": \"y\"}]}",
                        "missing field 'output'", "{\"instruction\": \"a\", \"instances\": [" + inst + ", {\"input\": \"\"}]}",
                        "field 'output' is not a string", "{\"instruction\": \"a\", \"instances\": [{\"input\": \"\", \"output\": 1}]}",
                        // a bad second instance rejects the whole task, its good first instance included
                        "empty field 'output'", "{\"instruction\": \"a\", \"instances\": [" + inst + ", {\"input\": \"\", \"output\": \"\"}]}",
                        "invalid UTF-8", invalidUtf8("{\"instruction\": \"a\", \"instances\": [{\"input\": \"x", "\", \"output\": \"y\"}]}"))));

        out.add(new Case("prompt-completion", Datasets.SftFormat.PROMPT_COMPLETION, null,
                "{\"prompt\": \"2+2=\", \"completion\": \" 4\"}",
                bad(
                        "malformed JSON", "{\"prompt\": \"a\" \"completion\": \"b\"}",
                        "missing field 'completion'", "{\"prompt\": \"a\"}",
                        "field 'prompt' is not a string", "{\"prompt\": [\"a\"], \"completion\": \"b\"}",
                        "empty field 'completion'", "{\"prompt\": \"a\", \"completion\": \"\"}",
                        "invalid UTF-8", invalidUtf8("{\"prompt\": \"a\", \"completion\": \"b", "\"}"))));

        out.add(new Case("messages", Datasets.SftFormat.MESSAGES, null,
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello.\"}]}",
                bad(
                        "malformed JSON", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"},]}",
                        "missing field 'messages'", "{\"conversation\": []}",
                        "field 'messages' is not an array", "{\"messages\": \"hi\"}",
                        "no messages", "{\"messages\": []}",
                        "unknown role", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"tool\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
                        "missing field 'content'", "{\"messages\": [{\"role\": \"user\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
                        "field 'content' is not a string", "{\"messages\": [{\"role\": \"user\", \"content\": null}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
                        "empty content", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \" \"}]}",
                        "no assistant turn", "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"a\"}]}",
                        "last turn is not assistant", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"c\"}]}",
                        "system message not first", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
                        "message is not a JSON object", "{\"messages\": [\"hello\", {\"role\": \"assistant\", \"content\": \"b\"}]}",
                        "invalid UTF-8", invalidUtf8("{\"messages\": [{\"role\": \"user\", \"content\": \"a", "\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}"))));

        out.add(new Case("hh", null, Datasets.PairFormat.HH,
                "{\"chosen\": \"\\n\\nHuman: Hi?\\n\\nAssistant: Hello!\", \"rejected\": \"\\n\\nHuman: Hi?\\n\\nAssistant: Go away.\"}",
                bad(
                        "malformed JSON", "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\", \"rejected\": }",
                        "missing field 'rejected'", "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\"}",
                        "field 'chosen' is not a string", "{\"chosen\": {}, \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: c\"}",
                        "empty chosen continuation", "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: \", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: c\"}",
                        "empty rejected continuation", "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant:\"}",
                        "no shared Assistant turn", "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\", \"rejected\": \"\\n\\nHuman: x\\n\\nAssistant: c\"}",
                        "chosen equals rejected", "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: b\"}",
                        "invalid UTF-8", invalidUtf8("{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b", "\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: c\"}"))));

        out.add(new Case("pairs", null, Datasets.PairFormat.PAIRS,
                "{\"prompt\": \"Capital of France?\", \"chosen\": \" Paris\", \"rejected\": \" Rome\"}",
                bad(
                        "malformed JSON", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\"} trailing",
                        "missing field 'chosen'", "{\"prompt\": \"q\", \"rejected\": \"b\"}",
                        "field 'rejected' is not a string", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": [{\"role\": \"assistant\"}]}",
                        "empty field 'rejected'", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"\"}",
                        "chosen equals rejected", "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"a\"}",
                        "invalid UTF-8", invalidUtf8("{\"prompt\": \"q", "\", \"chosen\": \"a\", \"rejected\": \"b\"}"))));

        String a = "{\"role\": \"assistant\", \"text\": \"b\", \"rank\": 0}";
        Map<String, byte[]> oasst = bad(
                "malformed JSON", "{\"prompt\": {\"role\": \"prompter\", \"text\": \"a\", \"replies\": [" + a + "]}",
                "missing field 'prompt'", "{\"message_tree_id\": \"t\"}",
                "unknown role", "{\"prompt\": {\"role\": \"prompter\", \"text\": \"a\", \"replies\": [{\"role\": \"bot\", \"text\": \"b\"}]}}",
                "missing field 'text'", "{\"prompt\": {\"role\": \"prompter\", \"text\": \"a\", \"replies\": [{\"role\": \"assistant\"}]}}",
                "roles do not alternate", "{\"prompt\": {\"role\": \"prompter\", \"text\": \"a\", \"replies\": [{\"role\": \"prompter\", \"text\": \"b\"}]}}",
                "root is not a prompter message", "{\"prompt\": {\"role\": \"assistant\", \"text\": \"a\"}}",
                "field 'rank' is not an integer", "{\"prompt\": {\"role\": \"prompter\", \"text\": \"a\", \"replies\": [{\"role\": \"assistant\", \"text\": \"b\", \"rank\": \"first\"}]}}",
                "field 'deleted' is not a boolean", "{\"prompt\": {\"role\": \"prompter\", \"text\": \"a\", \"deleted\": \"no\", \"replies\": [" + a + "]}}",
                "invalid UTF-8", invalidUtf8("{\"prompt\": {\"role\": \"prompter\", \"text\": \"a", "\", \"replies\": [" + a + "]}}"));
        String goodTree = "{\"message_tree_id\": \"t\", \"tree_state\": \"ready_for_export\", \"prompt\": {\"message_id\": \"m1\", "
                + "\"role\": \"prompter\", \"text\": \"Hi?\", \"lang\": \"en\", \"replies\": [{\"message_id\": \"m2\", "
                + "\"role\": \"assistant\", \"text\": \"Hello.\", \"lang\": \"en\", \"rank\": 0, \"replies\": []}, "
                + "{\"message_id\": \"m3\", \"role\": \"assistant\", \"text\": \"What?\", \"lang\": \"en\", \"rank\": 1}]}}";
        out.add(new Case("oasst-sft", Datasets.SftFormat.OASST, null, goodTree, oasst)); // 2 threads per tree
        out.add(new Case("oasst-pairs", null, Datasets.PairFormat.OASST, goodTree, oasst)); // 1 pair per tree
        return out;
    }

    private Path write(String name, List<byte[]> lines) throws IOException {
        Path f = dir.resolve(name);
        try (OutputStream o = name.endsWith(".gz") ? new GZIPOutputStream(Files.newOutputStream(f)) : Files.newOutputStream(f)) {
            for (byte[] l : lines) {
                o.write(l);
                o.write('\n');
            }
        }
        return f;
    }

    @Test
    void strictReadingNamesFileAndLine() throws IOException {
        for (Case c : cases()) {
            int perGood = c.read(write(c.name + "-good.jsonl", List.of(u(c.good))), ReadOptions.defaults());
            assertTrue(perGood >= 1, c.name);
            for (var bad : c.bad().entrySet()) {
                for (String ext : List.of(".jsonl", ".jsonl.gz")) {
                    // the bad record on line 5: a blank line and a whitespace-only line before it still count
                    String name = c.name + "-" + Math.abs(bad.getKey().hashCode()) + ext;
                    Path f = write(name, List.of(u(c.good), u(""), u(c.good), u("   "), bad.getValue(), u(c.good)));
                    DataFormatException e = assertThrows(DataFormatException.class, () -> c.read(f, ReadOptions.defaults()),
                            c.name + ": " + bad.getKey());
                    assertEquals(5, e.line(), c.name + ": " + e.getMessage());
                    assertTrue(e.getMessage().contains(name + ":5: " + bad.getKey()), c.name + ": " + e.getMessage());
                    assertTrue(e.reason().startsWith(bad.getKey()), e.reason());
                    assertEquals(f, e.file());
                }
            }
        }
    }

    @Test
    void skipBadCountsEveryReasonAndKeepsTheGood() throws IOException {
        for (Case c : cases()) {
            int perGood = c.read(write(c.name + "-good.jsonl", List.of(u(c.good))), ReadOptions.defaults());
            List<byte[]> lines = new ArrayList<>();
            Map<String, Long> firstLine = new LinkedHashMap<>();
            int good = 0;
            for (var bad : c.bad().entrySet()) {
                lines.add(u(c.good));
                good++;
                lines.add(bad.getValue());
                firstLine.put(bad.getKey(), (long) lines.size());
            }
            lines.add(u(c.good));
            good++;
            Path f = write(c.name + "-mixed.jsonl", lines);
            ReadOptions skip = ReadOptions.skippingBad();
            ReadReport r = c.report(f, skip);
            assertEquals(lines.size(), r.read(), c.name + ": " + r);
            assertEquals(good, r.kept(), c.name + ": " + r);
            assertEquals((long) good * perGood, r.produced(), c.name + ": " + r);
            assertEquals(c.bad().size(), r.skippedTotal(), c.name + ": " + r);
            for (String reason : c.bad().keySet()) {
                assertEquals(1, r.skipped(reason), c.name + " " + reason + ": " + r);
                assertEquals(firstLine.get(reason), r.firstSkippedLine().get(reason), c.name + " " + reason);
            }
            assertEquals(c.bad().keySet(), r.skipped().keySet(), c.name);
            assertEquals(good * perGood, c.read(f, skip), c.name);
            assertTrue(r.toString().contains(c.bad().size() + " skipped"), r.toString());
            // strict reading of the same file fails on its first bad line (line 2)
            DataFormatException e = assertThrows(DataFormatException.class, () -> c.read(f, ReadOptions.defaults()));
            assertEquals(2, e.line(), e.getMessage());
        }
    }

    @Test
    void jsonArrayNamesRecordAndLine() throws IOException {
        String good = "  {\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi!\"}";
        Path f = write("alpaca.json", List.of(u("["), u(good + ","), u(good + ","), u(""),
                u("  {\"instruction\": \"x\", \"input\": \"\","), u("   \"output\": 7},"), u(good), u("]")));
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> AlpacaFormat.read(f, ReadOptions.defaults()));
        assertEquals(5, e.line(), e.getMessage()); // the line the element starts on
        assertTrue(e.getMessage().contains("alpaca.json:5: field 'output' is not a string"), e.getMessage());
        assertTrue(e.getMessage().contains("(record 3)"), e.getMessage());
        ReadResult<SftExample> r = AlpacaFormat.read(f, ReadOptions.skippingBad());
        assertEquals(3, r.size());
        assertEquals(4, r.report().read());
        assertEquals(1, r.report().skipped("field 'output' is not a string"));
        assertEquals(5L, r.report().firstSkippedLine().get("field 'output' is not a string"));
        assertEquals("alpaca.json:7", r.items().get(2).origin());

        // a syntax error cannot be skipped in an array: always thrown, with its line
        Path broken = write("broken.json", List.of(u("["), u(good + ","), u(good), u(good), u("]")));
        DataFormatException b = assertThrows(DataFormatException.class, () -> AlpacaFormat.read(broken, ReadOptions.skippingBad()));
        assertEquals(4, b.line(), b.getMessage());
        assertTrue(b.getMessage().contains("broken.json:4: malformed JSON"), b.getMessage());
        Path unclosed = write("unclosed.json", List.of(u("["), u(good + ",")));
        DataFormatException uc = assertThrows(DataFormatException.class, () -> AlpacaFormat.read(unclosed, ReadOptions.skippingBad()));
        assertTrue(uc.getMessage().contains("unclosed.json:") && uc.getMessage().contains("malformed JSON"), uc.getMessage());
        Path trailing = write("trailing.json", List.of(u("["), u(good), u("]"), u("{}")));
        DataFormatException tr = assertThrows(DataFormatException.class, () -> AlpacaFormat.read(trailing, ReadOptions.skippingBad()));
        assertTrue(tr.getMessage().contains("trailing.json:4: malformed JSON"), tr.getMessage());
        // invalid UTF-8 in an array file: always thrown, with its line
        Path utf = write("utf.json", List.of(u("["), u(good + ","),
                invalidUtf8("  {\"instruction\": \"a", "\", \"input\": \"\", \"output\": \"b\"}"), u("]")));
        DataFormatException ue = assertThrows(DataFormatException.class, () -> AlpacaFormat.read(utf, ReadOptions.skippingBad()));
        assertEquals(3, ue.line());
        assertTrue(ue.getMessage().contains("utf.json:3: invalid UTF-8"), ue.getMessage());
    }

    @Test
    void aLineStartingWithANonAsciiByteIsABadRecordNotABlankLine() throws IOException {
        // each bad line's first byte is >= 0x80: a letter, a smart quote, NBSP, a lone continuation byte, a bare lead byte
        String good = "{\"prompt\": \"q\", \"completion\": \"a\"}";
        Map<byte[], String> bad = new LinkedHashMap<>();
        bad.put(u("é" + good), "malformed JSON");
        bad.put(u("\u201cprompt\u201d: \u201cq\u201d"), "malformed JSON");
        bad.put(u("\u00a0" + good), "malformed JSON");
        bad.put(invalidUtf8("", good), "invalid UTF-8");
        bad.put(new byte[] {(byte) 0xC3}, "invalid UTF-8");
        bad.put(new byte[] {(byte) 0xFF, '{', '}'}, "invalid UTF-8");
        List<byte[]> lines = new ArrayList<>();
        for (byte[] b : bad.keySet()) {
            lines.add(u(good));
            lines.add(b);
        }
        Path f = write("non-ascii.jsonl", lines);
        ReadReport r = PromptCompletionFormat.read(f, ReadOptions.skippingBad()).report();
        assertEquals(lines.size(), r.read(), r.toString());
        assertEquals(bad.size(), r.skippedTotal(), r.toString());
        assertEquals(3, r.skipped("malformed JSON"), r.toString());
        assertEquals(3, r.skipped("invalid UTF-8"), r.toString());
        assertEquals(2L, r.firstSkippedLine().get("malformed JSON"));
        assertEquals(8L, r.firstSkippedLine().get("invalid UTF-8"));
        assertTrue(r.toString().contains(lines.size() + " read, " + bad.size() + " kept") && r.toString().contains(bad.size() + " skipped"), r.toString());
        int line = 0;
        for (var b : bad.entrySet()) {
            line += 2;
            Path one = write("one-" + line + ".jsonl", List.of(u(good), b.getKey(), u(good)));
            DataFormatException e = assertThrows(DataFormatException.class, () -> PromptCompletionFormat.read(one, ReadOptions.defaults()));
            assertTrue(e.getMessage().startsWith(one + ":2: " + b.getValue()), e.getMessage());
        }
        // as the first line of a file it is a JSONL record too, not a blank line before a JSON array
        Path first = write("first.json", List.of(u("é["), u(good), u("]")));
        DataFormatException e = assertThrows(DataFormatException.class, () -> PromptCompletionFormat.read(first, ReadOptions.defaults()));
        assertEquals(1, e.line(), e.getMessage());
    }

    @Test
    void jsonArraySyntaxErrorsNameTheRightRecord() throws IOException {
        String good = "  {\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi!\"}";
        List<byte[]> five = new ArrayList<>(List.of(u("[")));
        for (int i = 0; i < 5; i++) five.add(u(good + ","));
        // inside the 6th (last) element
        List<byte[]> lines = new ArrayList<>(five);
        lines.add(u("  {\"instruction\": \"x\" \"input\": \"\", \"output\": \"y\"}"));
        lines.add(u("]"));
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> AlpacaFormat.read(write("six.json", lines), ReadOptions.skippingBad()));
        assertEquals(7, e.line(), e.getMessage());
        assertTrue(e.getMessage().contains("(record 6 of the array)"), e.getMessage());
        // a missing comma between the 5th and 6th elements
        List<byte[]> noComma = new ArrayList<>(five);
        noComma.set(5, u(good));
        noComma.add(u(good));
        noComma.add(u("]"));
        e = assertThrows(DataFormatException.class, () -> AlpacaFormat.read(write("comma.json", noComma), ReadOptions.skippingBad()));
        assertEquals(7, e.line(), e.getMessage());
        assertTrue(e.getMessage().contains("(after record 5 of the array)"), e.getMessage());
        // an array of 5 cut off after its last element: no record 6 to blame
        e = assertThrows(DataFormatException.class, () -> AlpacaFormat.read(write("cut.json", five), ReadOptions.skippingBad()));
        assertTrue(e.getMessage().contains("(after record 5 of the array)"), e.getMessage());
        // a syntax error before the first element
        e = assertThrows(DataFormatException.class, () -> AlpacaFormat.read(write("start.json", List.of(u("[ ,"), u(good), u("]"))),
                ReadOptions.skippingBad()));
        assertTrue(e.getMessage().contains("(before record 1 of the array)"), e.getMessage());
    }

    @Test
    void invalidUtf8IsNeverReplaced() throws IOException {
        // overlong encoding of '/', a UTF-16 surrogate encoded in UTF-8, and a truncated 4-byte sequence at the end
        byte[][] bad = {
                {'{', '"', 'p', '"', ':', '"', (byte) 0xC0, (byte) 0xAF, '"', '}'},
                {'{', '"', 'p', '"', ':', '"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"', '}'},
                {'{', '"', 'p', '"', ':', '"', 'x', '"', '}', (byte) 0xF0, (byte) 0x9F, (byte) 0x98},
        };
        for (byte[] b : bad) {
            Path f = write("u.jsonl", List.of(u("{\"prompt\": \"é\", \"completion\": \"ü ✓ 😀\"}"), b));
            DataFormatException e = assertThrows(DataFormatException.class,
                    () -> PromptCompletionFormat.read(f, ReadOptions.defaults()));
            assertEquals(2, e.line());
            assertTrue(e.reason().startsWith("invalid UTF-8"), e.reason());
            ReadResult<SftExample> r = PromptCompletionFormat.read(f, ReadOptions.skippingBad());
            assertEquals(1, r.size());
            assertEquals("ü ✓ 😀", r.items().get(0).segments().get(1).text());
            assertEquals(1, r.report().skipped("invalid UTF-8"));
        }
    }

    @Test
    void notGzipAndTruncatedGzip() throws IOException {
        Path fake = Files.write(dir.resolve("fake.jsonl.gz"), u("{\"prompt\": \"a\", \"completion\": \"b\"}\n")); // not gzipped
        DataFormatException e = assertThrows(DataFormatException.class, () -> PromptCompletionFormat.read(fake, ReadOptions.skippingBad()));
        assertTrue(e.getMessage().contains("fake.jsonl.gz") && e.getMessage().contains("gzip"), e.getMessage());

        List<byte[]> lines = new ArrayList<>();
        for (int i = 0; i < 2000; i++) lines.add(u("{\"prompt\": \"q" + i + "\", \"completion\": \"some answer text " + i + "\"}"));
        Path whole = write("whole.jsonl.gz", lines);
        byte[] all = Files.readAllBytes(whole);
        Path cut = dir.resolve("cut.jsonl.gz");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length / 2));
        DataFormatException t = assertThrows(DataFormatException.class, () -> PromptCompletionFormat.read(cut, ReadOptions.skippingBad()));
        assertTrue(t.getMessage().contains("cut.jsonl.gz") && t.getMessage().contains("gzip"), t.getMessage());
        assertEquals(2000, PromptCompletionFormat.read(whole, ReadOptions.defaults()).size());
    }

    @Test
    void missingFileIsAnIoError() {
        Path none = dir.resolve("none.jsonl");
        IOException e = assertThrows(IOException.class, () -> PairsFormat.read(none, ReadOptions.defaults()));
        assertTrue(e.getMessage().contains("none.jsonl"), e.getMessage());
    }
}
