package dev.align4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The documented rules of each format, on small generated files. */
class FormatRulesTest {
    @TempDir
    Path dir;

    private Path file(String name, String... lines) throws IOException {
        return Files.writeString(dir.resolve(name), String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
    }

    private static SftExample.Segment u(String s) {
        return new SftExample.Segment(s, false);
    }

    private static SftExample.Segment t(String s) {
        return new SftExample.Segment(s, true);
    }

    @Test
    void alpacaTemplatesExactly() throws IOException {
        Path f = file("a.jsonl",
                "{\"instruction\": \"Add the numbers.\", \"input\": \"2 and 3\", \"output\": \"5\"}",
                "{\"instruction\": \"Name a {input} colour.\", \"input\": \"\", \"output\": \" Blue\", \"extra\": 1}");
        List<SftExample> r = AlpacaFormat.read(f, ReadOptions.defaults()).items();
        assertEquals(SftExample.of("Below is an instruction that describes a task, paired with an input that provides further "
                + "context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers."
                + "\n\n### Input:\n2 and 3\n\n### Response:\n", "5", "a.jsonl:1"), r.get(0).withChat(null));
        assertEquals(SftExample.of("Below is an instruction that describes a task. Write a response that appropriately "
                + "completes the request.\n\n### Instruction:\nName a {input} colour.\n\n### Response:\n", " Blue", "a.jsonl:2"), r.get(1).withChat(null));
        // with a model's own chat template the record is one user message and the reply
        assertEquals(SftExample.Chat.instruction("Add the numbers.\n\n2 and 3", "5"), r.get(0).chat());
        assertEquals(SftExample.Chat.instruction("Name a {input} colour.", " Blue"), r.get(1).chat());
        // placeholders inside the instruction are not substituted into
        assertTrue(AlpacaFormat.prompt("use {input} here", "X").contains("### Instruction:\nuse {input} here\n\n### Input:\nX\n"));
    }

    @Test
    void selfInstructOneExamplePerInstanceWithAlpacaTemplates() throws IOException {
        Path f = file("seed.jsonl",
                "{\"id\": \"seed_task_0\", \"name\": \"add\", \"instruction\": \"Add the numbers.\", \"instances\": ["
                        + "{\"input\": \"2 and 3\", \"output\": \"5\"}, {\"input\": \"\", \"output\": \" 0\"}, "
                        + "{\"input\": \"1 and {input}\", \"output\": \"?\", \"extra\": 1}], \"is_classification\": false}",
                "",
                "{\"instruction\": \"Name a colour.\", \"instances\": [{\"input\": \"\", \"output\": \"Blue\"}], \"is_classification\": true}");
        ReadResult<SftExample> r = Datasets.readSft(f, Datasets.SftFormat.SELF_INSTRUCT, ReadOptions.defaults());
        List<SftExample> x = r.items();
        assertEquals(4, x.size());
        assertEquals(SftExample.of("Below is an instruction that describes a task, paired with an input that provides further "
                + "context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers."
                + "\n\n### Input:\n2 and 3\n\n### Response:\n", "5", "seed.jsonl:1#0"), x.get(0).withChat(null));
        assertEquals(SftExample.of("Below is an instruction that describes a task. Write a response that appropriately "
                + "completes the request.\n\n### Instruction:\nAdd the numbers.\n\n### Response:\n", " 0", "seed.jsonl:1#1"), x.get(1).withChat(null));
        assertEquals(SftExample.of(AlpacaFormat.prompt("Add the numbers.", "1 and {input}"), "?", "seed.jsonl:1#2"), x.get(2).withChat(null));
        assertEquals(SftExample.of(AlpacaFormat.prompt("Name a colour.", ""), "Blue", "seed.jsonl:3#0"), x.get(3).withChat(null));
        assertEquals(2, r.report().read());
        assertEquals(2, r.report().kept());
        assertEquals(4, r.report().produced());
        assertTrue(r.report().toString().startsWith("seed.jsonl [self-instruct]: 2 read, 2 kept, 4 produced"), r.report().toString());

        // the same task as an Alpaca record renders the same example
        Path a = file("a.jsonl", "{\"instruction\": \"Add the numbers.\", \"input\": \"2 and 3\", \"output\": \"5\"}");
        assertEquals(x.get(0).segments(), AlpacaFormat.read(a, ReadOptions.defaults()).items().get(0).segments());

        // names; maxRecords counts tasks (records), not instances; a JSON array and gzip read the same
        for (String n : List.of("self-instruct", "self_instruct", " Self-Instruct "))
            assertEquals(Datasets.SftFormat.SELF_INSTRUCT, Datasets.SftFormat.parse(n), n);
        assertEquals(3, SelfInstructFormat.read(f, ReadOptions.defaults().withMaxRecords(1)).size());
        String[] lines = Files.readString(f).strip().split("\n");
        Path arr = file("seed.json", "[", lines[0] + ",", lines[2], "]");
        List<SftExample> ax = SelfInstructFormat.read(arr, ReadOptions.defaults()).items();
        assertEquals(4, ax.size());
        assertEquals(x.get(3).segments(), ax.get(3).segments());
        assertEquals("seed.json:3#0", ax.get(3).origin());
        Path gz = dir.resolve("seed.jsonl.gz");
        try (var o = new java.util.zip.GZIPOutputStream(Files.newOutputStream(gz))) {
            o.write(Files.readAllBytes(f));
        }
        assertEquals(r.items().stream().map(SftExample::segments).toList(),
                SelfInstructFormat.read(gz, ReadOptions.defaults()).items().stream().map(SftExample::segments).toList());
        // no language to filter on
        assertThrows(IllegalArgumentException.class, () -> SelfInstructFormat.read(f, ReadOptions.defaults().withLanguage("en")));

        // a bad instance is named in the message; the skip key is the plain reason
        Path bad = file("bad.jsonl", lines[2],
                "{\"instruction\": \"a\", \"instances\": [{\"input\": \"\", \"output\": \"b\"}, {\"input\": \"\", \"output\": \"\"}]}");
        DataFormatException e = assertThrows(DataFormatException.class, () -> SelfInstructFormat.read(bad, ReadOptions.defaults()));
        assertEquals("empty field 'output': in instance 1", e.reason());
        assertTrue(e.getMessage().contains("bad.jsonl:2: empty field 'output': in instance 1"), e.getMessage());
        ReadResult<SftExample> skipped = SelfInstructFormat.read(bad, ReadOptions.skippingBad());
        assertEquals(1, skipped.size());
        assertEquals(1, skipped.report().skipped("empty field 'output'"), skipped.report().toString());
    }

    @Test
    void promptCompletionVerbatim() throws IOException {
        Path f = file("pc.jsonl", "{\"prompt\": \"\", \"completion\": \" leading space kept \"}");
        SftExample e = PromptCompletionFormat.read(f, ReadOptions.defaults()).items().get(0);
        assertEquals(List.of(u(""), t(" leading space kept ")), e.segments());
    }

    @Test
    void chatTemplateRendering() throws IOException {
        Path f = file("chat.jsonl", "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"U1\"}, "
                + "{\"role\": \"assistant\", \"content\": \"A1\"}, {\"role\": \"user\", \"content\": \"U2\"}, "
                + "{\"role\": \"Assistant\", \"content\": \"A2\"}]}");
        SftExample e = MessagesFormat.read(f, ReadOptions.defaults()).items().get(0);
        assertEquals(List.of(u("<|system|>\nS\n<|user|>\nU1\n<|assistant|>\n"), t("A1"), u("\n<|user|>\nU2\n<|assistant|>\n"), t("A2")),
                e.segments());
        assertEquals("<|system|>\nS\n<|user|>\nU1\n<|assistant|>\n", e.prompt());

        // loss on assistant contents and their EOS only, for both tokenizers; the prefix is the prompt alone
        for (String name : List.of("byte", "gpt2")) {
            Tokenizer tok = Tokenizers.byName(name);
            Encoder enc = new Encoder(tok, 4096);
            TokenizedSft ts = enc.encode(e);
            StringBuilder trained = new StringBuilder(), untrained = new StringBuilder();
            int[] tr = java.util.stream.IntStream.range(0, ts.length()).filter(j -> ts.trained()[j] == 1).map(j -> ts.tokens()[j]).toArray();
            int[] un = java.util.stream.IntStream.range(0, ts.length()).filter(j -> ts.trained()[j] == 0).map(j -> ts.tokens()[j]).toArray();
            trained.append(tok.decode(tr));
            untrained.append(tok.decode(un));
            String eos = tok.tokenText(tok.eosId());
            assertEquals("A1" + eos + "A2" + eos, trained.toString(), name);
            assertEquals("<|system|>\nS\n<|user|>\nU1\n<|assistant|>\n\n<|user|>\nU2\n<|assistant|>\n", untrained.toString(), name);
        }

        // the same chat with a custom template; the last-assistant-only mode and the prompt renderer agree
        ChatTemplate tpl = new ChatTemplate("### System: ", "### User: ", "### Assistant: ", "\n\n");
        List<ChatTemplate.Turn> turns = List.of(new ChatTemplate.Turn(ChatTemplate.Role.USER, "U1"),
                new ChatTemplate.Turn(ChatTemplate.Role.ASSISTANT, "A1"), new ChatTemplate.Turn(ChatTemplate.Role.USER, "U2"),
                new ChatTemplate.Turn(ChatTemplate.Role.ASSISTANT, "A2"));
        SftExample last = tpl.render(turns, ChatTemplate.Training.LAST_ASSISTANT, "x");
        assertEquals(List.of(u("### User: U1\n\n### Assistant: A1\n\n### User: U2\n\n### Assistant: "), t("A2")), last.segments());
        assertEquals(last.prompt(), tpl.renderPrompt(turns.subList(0, 3)));
        assertThrows(IllegalArgumentException.class, () -> tpl.render(turns.subList(0, 3), ChatTemplate.Training.ALL_ASSISTANT, "x"));
        SftExample viaFacade = Datasets.readSft(f, Datasets.SftFormat.MESSAGES, ReadOptions.defaults(), tpl).items().get(0);
        assertEquals("### System: S\n\n### User: U1\n\n### Assistant: ", viaFacade.prompt());
    }

    @Test
    void hhSplitRule() throws BadRecord {
        // the normal case: the last Assistant turn, leading space kept
        assertSplit("\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: yes", "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: no",
                "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:", " yes", " no", false);
        // continuations sharing a beginning still split at the marker
        assertSplit("\n\nHuman: a\n\nAssistant: I think so", "\n\nHuman: a\n\nAssistant: I do not",
                "\n\nHuman: a\n\nAssistant:", " I think so", " I do not", false);
        // an earlier reply differs: split at the last shared marker, the rest of each dialogue is the response
        assertSplit("\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d", "\n\nHuman: a\n\nAssistant: x",
                "\n\nHuman: a\n\nAssistant:", " b\n\nHuman: c\n\nAssistant: d", " x", true);
        // the rejected side has an extra turn
        assertSplit("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: a\n\nAssistant: c\n\nHuman: d\n\nAssistant: e",
                "\n\nHuman: a\n\nAssistant:", " b", " c\n\nHuman: d\n\nAssistant: e", true);
        // the common prefix ends inside a marker: the previous complete one is used
        assertSplit("\n\nHuman: a\n\nAssistant: b\n\nAssistant: c", "\n\nHuman: a\n\nAssistant: b\n\nAssist",
                "\n\nHuman: a\n\nAssistant:", " b\n\nAssistant: c", " b\n\nAssist", true);
        BadRecord b = assertThrows(BadRecord.class, () -> HhRlhfFormat.split("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: z"));
        assertEquals("no shared Assistant turn", b.key);
    }

    /** The HH split of {@code chosen} and {@code rejected} is exactly the prompt, the two responses and the flag. */
    private static void assertSplit(String chosen, String rejected, String prompt, String chosenResponse,
                                    String rejectedResponse, boolean differEarlier) throws BadRecord {
        assertEquals(new HhRlhfFormat.Split(prompt, chosenResponse, rejectedResponse, differEarlier),
                HhRlhfFormat.split(chosen, rejected));
    }

    @Test
    void hhCountsPairsThatDifferEarlier() throws IOException {
        Path f = file("hh.jsonl",
                "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: c\"}",
                "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant: d\", \"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: x\"}");
        ReadResult<PreferencePair> r = Datasets.readPairs(f, Datasets.PairFormat.HH, ReadOptions.defaults());
        assertEquals(2, r.size());
        assertEquals(1, r.report().counter(HhRlhfFormat.DIFFER_EARLIER), r.report().toString());
        assertEquals(new PreferencePair("\n\nHuman: a\n\nAssistant:", " b", " c", "hh.jsonl:1"), r.items().get(0));
        assertTrue(r.report().toString().contains(HhRlhfFormat.DIFFER_EARLIER + "=1"), r.report().toString());
    }

    /** A tree: root prompter with four replies — ranks 0, 1 (deleted, with a subtree), 2, and an unranked one
     *  that failed review — and a second level under the best reply; one Spanish reply under rank 2. */
    static String tree() {
        return "{\"message_tree_id\": \"t\", \"tree_state\": \"ready_for_export\", \"prompt\": {\"message_id\": \"p\", "
                + "\"role\": \"prompter\", \"text\": \"Q1\", \"lang\": \"en\", \"deleted\": false, \"review_result\": true, \"rank\": null, \"replies\": ["
                + "{\"message_id\": \"a0\", \"role\": \"assistant\", \"text\": \"best\", \"lang\": \"en\", \"rank\": 0, \"review_result\": null, \"replies\": ["
                + "  {\"message_id\": \"p2\", \"role\": \"prompter\", \"text\": \"Q2\", \"lang\": \"en\", \"replies\": ["
                + "    {\"message_id\": \"b0\", \"role\": \"assistant\", \"text\": \"deep best\", \"lang\": \"en\", \"rank\": 0},"
                + "    {\"message_id\": \"b1\", \"role\": \"assistant\", \"text\": \"deep worse\", \"lang\": \"en\", \"rank\": 1}]}]},"
                + "{\"message_id\": \"a1\", \"role\": \"assistant\", \"text\": \"DELETED TEXT\", \"lang\": \"en\", \"rank\": 1, \"deleted\": true, \"replies\": ["
                + "  {\"message_id\": \"q\", \"role\": \"prompter\", \"text\": \"UNDER DELETED\", \"lang\": \"en\", \"replies\": ["
                + "    {\"message_id\": \"qa\", \"role\": \"assistant\", \"text\": \"ALSO UNDER DELETED\", \"lang\": \"en\"}]}]},"
                + "{\"message_id\": \"a2\", \"role\": \"assistant\", \"text\": \"worst\", \"lang\": \"en\", \"rank\": 2, \"replies\": ["
                + "  {\"message_id\": \"s\", \"role\": \"prompter\", \"text\": \"¿Qué?\", \"lang\": \"es\", \"replies\": []}]},"
                + "{\"message_id\": \"a3\", \"role\": \"assistant\", \"text\": \"REVIEW FAILED\", \"lang\": \"en\", \"rank\": null, \"review_result\": false}"
                + "]}, \"CRITERIA\": {\"x\": 1}}";
    }

    @Test
    void oasstThreadsPairsAndDrops() throws IOException {
        Path f = file("oasst.jsonl", tree());
        ReadResult<SftExample> sft = OasstFormat.readSft(f, ReadOptions.defaults());
        List<SftExample> th = sft.items();
        assertEquals(4, th.size(), th.toString()); // a0, b0, b1, a2: nothing from the dropped a1 and a3 or under a1
        assertEquals(List.of(u("<|user|>\nQ1\n<|assistant|>\n"), t("best")), th.get(0).segments());
        assertEquals(List.of(u("<|user|>\nQ1\n<|assistant|>\nbest\n<|user|>\nQ2\n<|assistant|>\n"), t("deep best")), th.get(1).segments());
        assertEquals("oasst.jsonl:1/b0", th.get(1).origin());
        assertEquals(List.of(u("<|user|>\nQ1\n<|assistant|>\n"), t("worst")), th.get(3).segments());
        ReadReport rep = sft.report();
        assertEquals(1, rep.counter(OasstFormat.DROPPED + "deleted"), rep.toString());
        assertEquals(1, rep.counter(OasstFormat.DROPPED + "review failed"), rep.toString());
        assertEquals(2, rep.counter(OasstFormat.REMOVED_WITH_PARENT), rep.toString());
        assertEquals(0, rep.counter(OasstFormat.DROPPED + "language"));
        assertEquals(1, th.stream().filter(e -> e.segments().get(1).text().equals("worst")).count());

        List<PreferencePair> pairs = OasstFormat.readPairs(f, ReadOptions.defaults()).items();
        assertEquals(List.of(
                new PreferencePair("<|user|>\nQ1\n<|assistant|>\n", "best", "worst", "oasst.jsonl:1/p a0>a2"),
                new PreferencePair("<|user|>\nQ1\n<|assistant|>\nbest\n<|user|>\nQ2\n<|assistant|>\n", "deep best", "deep worse",
                        "oasst.jsonl:1/p2 b0>b1")), pairs);
        // every pair prompt is exactly the prompt of the SFT thread of its chosen reply
        assertEquals(th.get(1).prompt(), pairs.get(1).prompt());

        // the language filter: English drops only the Spanish prompter (a leaf, so no thread is lost)
        ReadResult<SftExample> en = OasstFormat.readSft(f, ReadOptions.defaults().withLanguage("EN"));
        assertEquals(4, en.size());
        assertEquals(1, en.report().counter(OasstFormat.DROPPED + "language"), en.report().toString());
        ReadResult<SftExample> es = OasstFormat.readSft(f, ReadOptions.defaults().withLanguage("es"));
        assertEquals(0, es.size());
        assertEquals(1, es.report().kept());
        assertEquals(1, es.report().counter(OasstFormat.DROPPED + "language"));
        assertEquals(10, es.report().counter(OasstFormat.REMOVED_WITH_PARENT), es.report().toString());
    }

    @Test
    void languageTags() {
        ReadOptions pt = ReadOptions.defaults().withLanguage("pt");
        assertTrue(pt.acceptsLanguage("pt-BR") && pt.acceptsLanguage("PT") && !pt.acceptsLanguage("ptx") && !pt.acceptsLanguage(null));
        assertTrue(ReadOptions.defaults().acceptsLanguage(null));
        assertThrows(IllegalArgumentException.class, () -> ReadOptions.defaults().withLanguage(" "));
        assertThrows(IllegalArgumentException.class, () -> ReadOptions.defaults().withMaxRecords(0));
    }

    @Test
    void facade() throws IOException {
        Path f = file("pc.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}", "", "{\"prompt\": \"c\", \"completion\": \"d\"}",
                "{\"prompt\": \"e\", \"completion\": \"f\"}");
        assertEquals(Datasets.SftFormat.PROMPT_COMPLETION, Datasets.SftFormat.parse("prompt-completion"));
        assertEquals(Datasets.PairFormat.HH, Datasets.PairFormat.parse(" HH "));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Datasets.SftFormat.parse("sharegpt"));
        assertTrue(bad.getMessage().contains("sharegpt") && bad.getMessage().contains("prompt-completion")
                && bad.getMessage().contains("self-instruct"), bad.getMessage());
        // maxRecords counts records, not blank lines
        ReadResult<SftExample> two = Datasets.readSft(f, Datasets.SftFormat.PROMPT_COMPLETION, ReadOptions.defaults().withMaxRecords(2));
        assertEquals(2, two.size());
        assertEquals("pc.jsonl:3", two.items().get(1).origin());
        // a language filter on a format without languages is refused, not ignored
        IllegalArgumentException lang = assertThrows(IllegalArgumentException.class,
                () -> Datasets.readSft(f, Datasets.SftFormat.ALPACA, ReadOptions.defaults().withLanguage("en")));
        assertTrue(lang.getMessage().contains("OpenAssistant"), lang.getMessage());
        // a BOM, CRLF line ends and an empty file
        Path crlf = dir.resolve("crlf.jsonl");
        Files.write(crlf, ("\uFEFF{\"prompt\": \"a\", \"completion\": \"b\"}\r\n{\"prompt\": \"c\", \"completion\": \"d\"}\r\n")
                .getBytes(StandardCharsets.UTF_8));
        List<SftExample> c = PromptCompletionFormat.read(crlf, ReadOptions.defaults()).items();
        assertEquals(List.of(u("c"), t("d")), c.get(1).segments());
        Path empty = Files.writeString(dir.resolve("empty.jsonl"), "\n");
        ReadResult<PreferencePair> none = PairsFormat.read(empty, ReadOptions.defaults());
        assertEquals(0, none.size());
        assertEquals(0, none.report().read());
        assertTrue(none.report().toString().startsWith("empty.jsonl [pairs]: 0 read"), none.report().toString());
    }
}
