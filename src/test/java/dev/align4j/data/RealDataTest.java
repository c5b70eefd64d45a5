package dev.align4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The readers on the real samples in ../shared/data (skipped when the folder is absent). */
class RealDataTest {
    static final Path DATA = Path.of("..", "shared", "data");

    static Path sample(String name) {
        Path p = DATA.resolve(name);
        assumeTrue(Files.isRegularFile(p), "real data sample absent: " + p);
        return p;
    }

    @Test
    void alpaca() throws IOException {
        Path f = sample("alpaca_5000.json");
        // strict: the sample has two records with an empty output (2336 and 4659); the array is all on line 1
        DataFormatException bad = assertThrows(DataFormatException.class,
                () -> Datasets.readSft(f, Datasets.SftFormat.ALPACA, ReadOptions.defaults()));
        assertTrue(bad.getMessage().contains("alpaca_5000.json:1: empty field 'output' (record 2336)"), bad.getMessage());

        ReadResult<SftExample> r = Datasets.readSft(f, Datasets.SftFormat.ALPACA, ReadOptions.skippingBad());
        assertEquals(5000, r.report().read(), r.report().toString());
        assertEquals(4998, r.report().kept());
        assertEquals(2, r.report().skipped("empty field 'output'"));
        assertEquals(4998, r.size());
        int withInput = 0;
        for (SftExample e : r.items()) {
            assertEquals(2, e.segments().size());
            String p = e.prompt();
            assertTrue(p.startsWith("Below is an instruction that describes a task") && p.endsWith("\n\n### Response:\n"), p);
            if (p.contains("### Input:\n")) withInput++;
        }
        assertEquals(1943, withInput, "examples with an input");
        // the first record, by hand
        SftExample first = r.items().get(0);
        assertEquals("No", first.segments().get(1).text());
        assertTrue(first.prompt().contains("### Instruction:\nAre the two sentences below grammatically correct? Output yes or no.\n\n"
                + "### Input:\nSentence 1: I am going to the store.\nSentence 2: I goes to the store.\n\n### Response:\n"));
        assertTrue(first.origin().startsWith("alpaca_5000.json:1"), first.origin());
        roundTrip(r.items(), 300);

        ReadResult<SftExample> few = AlpacaFormat.read(f, ReadOptions.defaults().withMaxRecords(7));
        assertEquals(7, few.size());
    }

    @Test
    void selfInstructSeedTasks() throws IOException {
        Path f = DATA.resolve("self_instruct_seed_tasks.jsonl");
        if (!Files.isRegularFile(f)) f = Path.of("/work/shared/data/self_instruct_seed_tasks.jsonl"); // from a clone elsewhere
        assumeTrue(Files.isRegularFile(f), "real data sample absent: " + f);
        ReadResult<SftExample> r = Datasets.readSft(f, Datasets.SftFormat.SELF_INSTRUCT, ReadOptions.defaults());
        ReadReport rep = r.report();
        // independently from the raw lines: one example per instance, each the Alpaca rendering of its task
        List<JsonNode> raw = rawLines(f);
        assertEquals(175, raw.size());
        int instances = 0, withInput = 0;
        List<SftExample> expect = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            JsonNode t = raw.get(i);
            for (int k = 0; k < t.get("instances").size(); k++) {
                JsonNode in = t.get("instances").get(k);
                instances++;
                if (!in.get("input").asText().isEmpty()) withInput++;
                expect.add(SftExample.of(AlpacaFormat.prompt(t.get("instruction").asText(), in.get("input").asText()),
                        in.get("output").asText(), "self_instruct_seed_tasks.jsonl:" + (i + 1) + "#" + k));
            }
        }
        assertEquals(175, rep.read(), rep.toString());
        assertEquals(175, rep.kept(), rep.toString());
        assertEquals(0, rep.skippedTotal(), rep.toString());
        assertEquals(175, instances, "the seed tasks have one instance each");
        assertEquals(instances, r.size(), rep.toString());
        assertEquals(instances, rep.produced());
        assertEquals(125, withInput, "instances with an input");
        assertEquals(expect, r.items().stream().map(e -> e.withChat(null)).toList());
        // one task, by hand (line 2: seed_task_1, with an input)
        SftExample e = r.items().get(1);
        assertEquals("self_instruct_seed_tasks.jsonl:2#0", e.origin());
        assertEquals("Below is an instruction that describes a task, paired with an input that provides further context. "
                + "Write a response that appropriately completes the request.\n\n### Instruction:\nWhat is the relation "
                + "between the given pairs?\n\n### Input:\nNight : Day :: Right : Left\n\n### Response:\n", e.prompt());
        assertEquals(List.of(new SftExample.Segment(e.prompt(), false),
                new SftExample.Segment("The relation between the given pairs is that they are opposites.", true)), e.segments());
        // line 1 (seed_task_0) has no input
        assertTrue(r.items().get(0).prompt().startsWith("Below is an instruction that describes a task. Write"), r.items().get(0).prompt());
        assertFalse(r.items().get(0).prompt().contains("### Input:"));
        roundTrip(r.items(), 100);
        assertEquals(10, SelfInstructFormat.read(f, ReadOptions.defaults().withMaxRecords(10)).size());
    }

    @Test
    void hhRlhf() throws IOException {
        Path f = sample("hh_rlhf_harmless_base_test.jsonl.gz");
        // strict: the sample has blank chosen replies, the first on line 87
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Datasets.readPairs(f, Datasets.PairFormat.HH, ReadOptions.defaults()));
        assertEquals(87, e.line());
        assertTrue(e.getMessage().contains("hh_rlhf_harmless_base_test.jsonl.gz:87: empty chosen continuation"), e.getMessage());

        ReadResult<PreferencePair> r = Datasets.readPairs(f, Datasets.PairFormat.HH, ReadOptions.skippingBad());
        ReadReport rep = r.report();
        assertEquals(2312, rep.read(), rep.toString());
        assertEquals(4, rep.skipped("empty chosen continuation"), rep.toString());
        assertEquals(4, rep.skippedTotal(), rep.toString());
        assertEquals(87, rep.firstSkippedLine().get("empty chosen continuation"));
        assertEquals(2308, r.size());
        assertEquals(5, rep.counter(HhRlhfFormat.DIFFER_EARLIER), rep.toString());
        int differ = 0;
        for (PreferencePair p : r.items()) {
            assertTrue(p.prompt().startsWith("\n\nHuman: "), p.origin());
            assertTrue(p.prompt().endsWith(HhRlhfFormat.ASSISTANT), p.origin());
            assertTrue(p.chosen().startsWith(" ") && p.rejected().startsWith(" "), p.origin()); // leading space kept
            assertNotEquals(p.chosen(), p.rejected());
            if (p.chosen().contains(HhRlhfFormat.ASSISTANT) || p.rejected().contains(HhRlhfFormat.ASSISTANT)) differ++;
        }
        assertEquals(5, differ);
        // the pair on line 1255 differs in its second-to-last reply: split at the last shared Assistant marker
        PreferencePair p1255 = r.items().stream().filter(p -> p.origin().endsWith(":1255")).findFirst().orElseThrow();
        assertTrue(p1255.prompt().endsWith("Isn't that drag kings?\n\nAssistant:"), p1255.prompt());
        assertTrue(p1255.chosen().startsWith(" No. Men who impersonate"), p1255.chosen());
        assertTrue(p1255.rejected().startsWith(" A drag king is the opposite"), p1255.rejected());
        // against the raw text: prompt + continuation rebuilds each side
        List<JsonNode> raw = rawLines(f);
        for (PreferencePair p : r.items()) {
            int line = Integer.parseInt(p.origin().substring(p.origin().lastIndexOf(':') + 1));
            assertEquals(raw.get(line - 1).get("chosen").textValue(), p.prompt() + p.chosen());
            assertEquals(raw.get(line - 1).get("rejected").textValue(), p.prompt() + p.rejected());
        }
        pairRoundTrip(r.items(), 200);
    }

    @Test
    void oasst() throws IOException {
        Path f = sample("oasst2_trees_sample.jsonl");
        ReadResult<SftExample> sft = Datasets.readSft(f, Datasets.SftFormat.OASST, ReadOptions.defaults());
        ReadResult<PreferencePair> pairs = Datasets.readPairs(f, Datasets.PairFormat.OASST, ReadOptions.defaults());
        ReadReport rs = sft.report(), rp = pairs.report();
        assertEquals(551, rs.read(), rs.toString());
        assertEquals(551, rs.kept());
        assertTrue(rs.counter(OasstFormat.DROPPED + "deleted") > 0, rs.toString());
        assertTrue(rs.counter(OasstFormat.DROPPED + "review failed") > 0, rs.toString());
        assertEquals(0, rs.counter(OasstFormat.DROPPED + "language"));
        assertEquals(rs.counters(), rp.counters(), "both readers apply the same filters");

        // independent count from the raw trees: surviving assistant messages and ranked sibling pairs
        int[] expect = expectedOasst(rawLines(f), null);
        assertEquals(expect[0], sft.size(), rs.toString());
        assertEquals(expect[1], pairs.size(), rp.toString());
        assertTrue(sft.size() > 300 && pairs.size() > 100, sft.size() + " threads, " + pairs.size() + " pairs");

        // no dropped text appears anywhere
        Set<String> droppedText = droppedTexts(rawLines(f));
        assertFalse(droppedText.isEmpty());
        for (SftExample e : sft.items())
            for (SftExample.Segment s : e.segments())
                for (String d : droppedText) assertFalse(s.text().contains(d), e.origin());
        for (PreferencePair p : pairs.items())
            for (String d : droppedText) assertFalse(p.prompt().contains(d) || p.chosen().contains(d) || p.rejected().contains(d));

        for (SftExample e : sft.items()) {
            assertTrue(e.prompt().startsWith("<|user|>\n") && e.prompt().endsWith("<|assistant|>\n"), e.origin());
            long trained = e.segments().stream().filter(SftExample.Segment::trained).count();
            assertEquals(1, trained, "last assistant turn only: " + e.origin());
            assertTrue(e.segments().get(e.segments().size() - 1).trained());
        }
        for (PreferencePair p : pairs.items()) assertTrue(p.prompt().endsWith("<|assistant|>\n"), p.origin());
        assertTrue(sft.items().stream().anyMatch(e -> e.prompt().indexOf("<|assistant|>\n") < e.prompt().length() - 14),
                "some multi-turn threads");

        // English only: fewer, all from English messages
        ReadOptions en = ReadOptions.defaults().withLanguage("en");
        ReadResult<SftExample> sftEn = Datasets.readSft(f, Datasets.SftFormat.OASST, en);
        ReadResult<PreferencePair> pairsEn = Datasets.readPairs(f, Datasets.PairFormat.OASST, en);
        int[] expectEn = expectedOasst(rawLines(f), "en");
        assertEquals(expectEn[0], sftEn.size());
        assertEquals(expectEn[1], pairsEn.size());
        assertTrue(sftEn.size() > 0 && sftEn.size() < sft.size(), sftEn.size() + " of " + sft.size());
        assertTrue(pairsEn.size() > 0 && pairsEn.size() < pairs.size(), pairsEn.size() + " of " + pairs.size());
        assertTrue(sftEn.report().counter(OasstFormat.DROPPED + "language") > 300, sftEn.report().toString());

        roundTrip(sft.items(), 150);
        pairRoundTrip(pairs.items(), 100);
    }

    /** {threads, pairs} computed straight from the raw JSON, with the documented rules. */
    static int[] expectedOasst(List<JsonNode> trees, String lang) {
        int[] n = new int[2];
        for (JsonNode t : trees) countOasst(t.get("prompt"), lang, n);
        return n;
    }

    private static boolean alive(JsonNode m, String lang) {
        return !m.path("deleted").asBoolean(false) && !(m.hasNonNull("review_result") && !m.get("review_result").asBoolean())
                && (lang == null || m.path("lang").asText().equals(lang) || m.path("lang").asText().startsWith(lang + "-"))
                && !m.get("text").asText().isBlank();
    }

    private static void countOasst(JsonNode m, String lang, int[] n) {
        if (!alive(m, lang)) return;
        if (m.get("role").asText().equals("assistant")) n[0]++;
        List<Long> ranks = new ArrayList<>();
        for (JsonNode c : m.path("replies")) {
            if (alive(c, lang) && c.get("role").asText().equals("assistant") && c.hasNonNull("rank")) ranks.add(c.get("rank").asLong());
            countOasst(c, lang, n);
        }
        if (ranks.size() >= 2) {
            long best = ranks.stream().mapToLong(Long::longValue).min().getAsLong();
            for (long x : ranks) if (x > best) n[1]++;
        }
    }

    private static Set<String> droppedTexts(List<JsonNode> trees) {
        Set<String> out = new HashSet<>();
        for (JsonNode t : trees) collectDropped(t.get("prompt"), false, out);
        // texts that also appear in a kept message (duplicates across trees) cannot be tested for absence
        Set<String> kept = new HashSet<>();
        for (JsonNode t : trees) collectKept(t.get("prompt"), kept);
        out.removeIf(s -> s.length() < 20 || kept.stream().anyMatch(k -> k.contains(s)));
        return out;
    }

    private static void collectDropped(JsonNode m, boolean parentDropped, Set<String> out) {
        boolean dropped = parentDropped || !alive(m, null);
        if (dropped) out.add(m.get("text").asText());
        for (JsonNode c : m.path("replies")) collectDropped(c, dropped, out);
    }

    private static void collectKept(JsonNode m, Set<String> out) {
        if (!alive(m, null)) return;
        out.add(m.get("text").asText());
        for (JsonNode c : m.path("replies")) collectKept(c, out);
    }

    static List<JsonNode> rawLines(Path f) throws IOException {
        ObjectMapper om = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        var in = f.toString().endsWith(".gz") ? new java.util.zip.GZIPInputStream(Files.newInputStream(f)) : Files.newInputStream(f);
        try (BufferedReader r = new BufferedReader(new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) out.add(om.readTree(line));
        }
        return out;
    }

    /** One check of a sampled item, encoded with {@code enc}; {@code eos} is the EOS token's text. */
    interface SampleCheck<T> {
        void check(T item, Tokenizer tok, Encoder enc, String eos, String tag);
    }

    /** {@code check} on {@code n} random items (the seed in each tag), with the byte and then the gpt2 tokenizer. */
    static <T> void checkSample(List<T> items, int n, Function<T, String> origin, SampleCheck<T> check) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (String name : List.of("byte", "gpt2")) {
            Tokenizer tok = Tokenizers.byName(name);
            Encoder enc = new Encoder(tok, 1 << 20);
            String eos = tok.tokenText(tok.eosId());
            for (int k = 0; k < n; k++) {
                T item = items.get(rnd.nextInt(items.size()));
                check.check(item, tok, enc, eos, name + " " + origin.apply(item) + " seed " + seed);
            }
        }
    }

    /**
     * Encoder round trip on a random subset, byte and gpt2 tokenizers: the trained tokens decode to the trained
     * text with an EOS marker after each trained segment; the untrained prefix is the prompt encoded alone.
     */
    static void roundTrip(List<SftExample> items, int n) {
        checkSample(items, n, SftExample::origin, (e, tok, enc, eos, tag) -> {
            TokenizedSft t = enc.encode(e);
            StringBuilder want = new StringBuilder();
            for (SftExample.Segment s : e.segments()) if (s.trained()) want.append(s.text()).append(eos);
            assertEquals(want.toString(), tok.decode(select(t, 1)), tag);
            int p = 0;
            while (t.trained()[p] == 0) p++;
            int[] prompt = java.util.Arrays.copyOf(t.tokens(), p);
            assertEquals(java.util.Arrays.toString(enc.encodePrompt(e.prompt())), java.util.Arrays.toString(prompt), tag);
            assertEquals(0, enc.truncated(), tag);
        });
    }

    static void pairRoundTrip(List<PreferencePair> items, int n) {
        checkSample(items, n, PreferencePair::origin, (p, tok, enc, eos, tag) -> {
            TokenizedPair t = enc.encode(p);
            assertEquals(p.prompt(), tok.decode(t.prompt()), tag);
            assertEquals(p.chosen() + eos, tok.decode(t.chosen()), tag);
            assertEquals(p.rejected() + eos, tok.decode(t.rejected()), tag);
        });
    }

    private static int[] select(TokenizedSft t, int mask) {
        int n = 0;
        for (float m : t.trained()) if (m == mask) n++;
        int[] out = new int[n];
        for (int j = 0, i = 0; j < t.length(); j++) if (t.trained()[j] == mask) out[i++] = t.tokens()[j];
        return out;
    }
}
