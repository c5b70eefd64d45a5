package dev.align4j.data.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.data.Encoder;
import dev.align4j.data.PreferencePair;
import dev.align4j.data.SftExample;
import dev.align4j.data.TokenizedSft;
import dev.align4j.tokenizer.ByteTokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The built-in task suite: gold answers against an independent oracle, checkers, corruptions, splits, determinism. */
class TaskSuiteTest {
    static final int MAX_PROMPT_BYTES = 40, MAX_ANSWER_BYTES = 13;

    /** Recomputes the answer from the canonical input alone, independently of the family code. */
    static String oracle(Task t) {
        String in = t.input();
        return switch (t.family()) {
            case "add" -> "" + (Integer.parseInt(in.split("\\+")[0]) + Integer.parseInt(in.split("\\+")[1]));
            case "sub" -> "" + (Integer.parseInt(in.split("-")[0]) - Integer.parseInt(in.split("-")[1]));
            case "max" -> "" + Math.max(Integer.parseInt(in.split(",")[0]), Integer.parseInt(in.split(",")[1]));
            case "reverse" -> new StringBuilder(in).reverse().toString();
            case "sort" -> {
                char[] c = in.toCharArray();
                Arrays.sort(c);
                yield new String(c);
            }
            case "upper" -> in.toUpperCase(Locale.ROOT);
            case "length" -> "" + in.length();
            case "next" -> "" + (char) (in.charAt(0) + Integer.parseInt(in.substring(2)));
            case "capital" -> Arrays.stream(Families.CAPITALS).filter(r -> r[0].equals(in)).findFirst().orElseThrow()[1];
            case "repeat" -> in.split("\\*")[0].repeat(Integer.parseInt(in.split("\\*")[1]));
            case "last" -> in.substring(in.length() - 1);
            default -> throw new AssertionError("unknown family " + t.family());
        };
    }

    @Test
    void goldAnswersMatchTheOracleAndCheckersAcceptOnlyThem() {
        long seed = System.nanoTime();
        for (int level = 1; level <= 3; level++) {
            TaskSuite suite = TaskSuite.level(level);
            assertTrue(suite.families().size() >= 6);
            for (TaskFamily f : suite.families()) {
                Random rnd = new Random(seed + level);
                assertTrue(f.templateCount() >= 3, f.name());
                for (int i = 0; i < 600; i++) {
                    Task t = f.sample(rnd, i % f.templateCount());
                    String tag = "seed " + seed + " level " + level + " " + t;
                    assertEquals(f.name(), t.family(), tag);
                    assertEquals(" " + oracle(t), t.answer(), tag);
                    assertTrue(t.check(t.answer()), tag);
                    assertTrue(t.check(t.answer().strip()), tag);
                    assertTrue(t.check("\n " + t.answer() + " \n"), tag);
                    assertEquals(1.0, t.score(t.answer()), tag);
                    assertFalse(t.check(t.answer() + t.answer().strip()), tag + " (trailing text)");
                    assertFalse(t.check(""), tag);
                    assertFalse(t.corruptions().isEmpty(), tag);
                    for (String c : t.corruptions()) {
                        assertFalse(t.check(c), tag + " accepts corruption '" + c + "'");
                        assertEquals(0.0, t.score(c), tag);
                        assertTrue(c.startsWith(" ") && !c.isBlank(), tag + " corruption '" + c + "'");
                    }
                    assertTrue(t.prompt().startsWith("Q: ") && t.prompt().endsWith("\nA:"), tag);
                    assertTrue(t.answer().startsWith(" ") && !t.answer().startsWith("  "), tag);
                    byte[] p = t.prompt().getBytes(StandardCharsets.UTF_8), a = t.answer().getBytes(StandardCharsets.UTF_8);
                    assertEquals(t.prompt().length(), p.length, tag + " not ASCII");
                    assertEquals(t.answer().length(), a.length, tag + " not ASCII");
                    assertTrue(p.length <= MAX_PROMPT_BYTES, tag + " prompt of " + p.length + " bytes");
                    assertTrue(a.length <= MAX_ANSWER_BYTES, tag + " answer of " + a.length + " bytes");
                    assertTrue(t.prompt().contains(t.input().split("[+,*-]")[0]), tag + " prompt lacks its input");
                }
            }
        }
    }

    @Test
    void trainAndTestNeverShareAnInstance() {
        TaskSuite suite = TaskSuite.level(3);
        long a = System.nanoTime(), b = a + 1;
        String tag = "seeds " + a + ", " + b;
        List<Task> train = suite.generate(4000, a, Split.TRAIN), test = suite.generate(1500, b, Split.TEST);
        Set<String> trainKeys = new HashSet<>(), testKeys = new HashSet<>();
        for (Task t : train) {
            assertEquals(Split.TRAIN, suite.splitOf(t), tag);
            trainKeys.add(key(t));
        }
        for (Task t : test) {
            assertEquals(Split.TEST, suite.splitOf(t), tag);
            testKeys.add(key(t));
        }
        for (String k : testKeys) assertFalse(trainKeys.contains(k), tag + ": " + k + " in both splits");
        // the split is fixed per instance, whatever the difficulty: level 1 instances keep their side
        for (Task t : TaskSuite.level(1).generate(500, a, Split.TEST)) assertEquals(Split.TEST, suite.splitOf(t), tag);
        // the fact families: every fact is asked in training (under another phrasing than its test one)
        for (Task t : test)
            if (FACTS.contains(t.family())) {
                TaskFamily f = suite.only(t.family()).families().get(0);
                int trainTemplates = 0;
                for (int j = 0; j < f.templateCount(); j++) if (f.split(t.input(), j) == Split.TRAIN) trainTemplates++;
                assertEquals(f.templateCount() - 1, trainTemplates, tag + " " + t);
            }
        Set<String> trainCountries = new HashSet<>();
        for (Task t : train) if (t.family().equals("capital")) trainCountries.add(t.input());
        assertEquals(Families.CAPITALS.length, trainCountries.size(), tag);
        // about one instance in TEST_BUCKETS is test: measured on the instances of a large family
        Random rnd = new Random(a);
        TaskFamily rev = Families.reverse(4, 6);
        int tests = 0, n = 20000;
        for (int i = 0; i < n; i++) if (rev.split(rev.sample(rnd, 0).input(), 0) == Split.TEST) tests++;
        assertEquals(1.0 / Split.TEST_BUCKETS, (double) tests / n, 0.02, tag);
    }

    static final Set<String> FACTS = Set.of("capital", "next");

    /** The identity of a problem: (family, input), plus the template for the fact families (split by phrasing). */
    private static String key(Task t) {
        return t.family() + "|" + t.input() + (FACTS.contains(t.family()) ? "|" + t.template() : "");
    }

    @Test
    void deterministicForASeedBalancedAndEveryTemplateUsed() {
        TaskSuite suite = TaskSuite.defaultSuite();
        long seed = System.nanoTime();
        for (Split split : Split.values()) {
            List<Task> x = suite.generate(2200, seed, split), y = suite.generate(2200, seed, split);
            assertEquals(x, y, "seed " + seed);
            assertNotEquals(x, suite.generate(2200, seed + 1, split), "seed " + seed);
            Map<String, Integer> perFamily = new TreeMap<>();
            Map<String, Set<Integer>> templates = new HashMap<>();
            for (Task t : x) {
                perFamily.merge(t.family(), 1, Integer::sum);
                templates.computeIfAbsent(t.family(), f -> new HashSet<>()).add(t.template());
            }
            assertEquals(suite.families().size(), perFamily.size());
            int min = perFamily.values().stream().min(Integer::compare).orElseThrow();
            int max = perFamily.values().stream().max(Integer::compare).orElseThrow();
            assertTrue(max - min <= 1, "unbalanced " + perFamily);
            for (TaskFamily f : suite.families())
                assertEquals(f.templateCount(), templates.get(f.name()).size(), split + " " + f.name() + " templates");
            // shuffled, not in family order
            assertFalse(x.get(0).family().equals(suite.families().get(0).name())
                    && x.get(1).family().equals(suite.families().get(1).name())
                    && x.get(2).family().equals(suite.families().get(2).name()), "seed " + seed + " not shuffled");
        }
        assertEquals(List.of(), suite.generate(0, seed, Split.TRAIN));
    }

    @Test
    void sftExamplesEncodeToPromptThenAnswerAndEos() {
        ByteTokenizer tok = new ByteTokenizer();
        Encoder enc = new Encoder(tok, 64);
        List<Task> tasks = TaskSuite.defaultSuite().generate(50, 7, Split.TRAIN);
        List<SftExample> sft = TaskSuite.toSft(tasks);
        assertEquals(tasks.size(), sft.size());
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            assertEquals(t.prompt(), sft.get(i).prompt());
            assertEquals(t.origin(), sft.get(i).origin());
            TokenizedSft e = enc.encode(sft.get(i));
            int p = t.prompt().length(), a = t.answer().length();
            assertEquals(p + a + 1, e.length(), t.toString());
            assertArrayEquals(tok.encode(t.prompt()), Arrays.copyOf(e.tokens(), p));
            assertArrayEquals(enc.encodePrompt(t.prompt()), Arrays.copyOf(e.tokens(), p));
            assertEquals(tok.eosId(), e.tokens()[e.length() - 1]);
            assertEquals(a + 1, e.trainedTokens());
            assertEquals(0f, e.trained()[p - 1]);
            assertEquals(1f, e.trained()[p]);
        }
    }

    @Test
    void corruptedPairsAreDeterministicAndJudgedWrong() {
        long seed = System.nanoTime();
        List<Task> tasks = TaskSuite.level(2).generate(800, seed, Split.TRAIN);
        List<PreferencePair> pairs = TaskSuite.corruptedPairs(tasks, seed);
        assertEquals(pairs, TaskSuite.corruptedPairs(tasks, seed), "seed " + seed);
        assertEquals(tasks.size(), pairs.size());
        Map<String, Set<String>> kinds = new HashMap<>();
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            PreferencePair p = pairs.get(i);
            assertEquals(t.prompt(), p.prompt());
            assertEquals(t.answer(), p.chosen());
            assertTrue(t.corruptions().contains(p.rejected()), "seed " + seed + " " + p);
            assertFalse(t.check(p.rejected()), "seed " + seed + " " + p);
            assertEquals(t.origin(), p.origin());
            kinds.computeIfAbsent(t.family(), f -> new HashSet<>()).add(p.rejected());
        }
        // several different corruptions per family, not one fixed pattern
        kinds.forEach((f, s) -> assertTrue(s.size() > 3, f + ": " + s));
    }

    @Test
    void knownExamples() {
        Task t = Families.add(9).sample(new Random(1), 1);
        assertTrue(t.prompt().matches("Q: What is \\d plus \\d\\?\nA:"), t.prompt());
        Task r = Families.reverse(5, 5).sample(new Random(3), 0);
        assertEquals(" " + new StringBuilder(r.input()).reverse(), r.answer());
        assertEquals("Q: Reverse " + r.input() + ".\nA:", r.prompt());
        assertTrue(r.corruptions().contains(" " + r.input()) || r.input().equals(r.answer().strip()));
        Task c = Families.capital(24).sample(new Random(5), 2);
        assertTrue(c.prompt().endsWith("'s capital city is?\nA:"), c.prompt());
        assertEquals("task:capital#2:" + c.input(), c.origin());
        Task n = Families.next(1).sample(new Random(9), 0);
        assertEquals(n.input().charAt(0) + 1, n.answer().charAt(1));
    }

    @Test
    void badArgumentsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TaskSuite.level(4)).getMessage().contains("level"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.add(0)).getMessage().contains("max"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.reverse(5, 4)).getMessage().contains("maxLen"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.capital(99)).getMessage().contains("entries"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TaskSuite.defaultSuite().only("nope"))
                .getMessage().contains("nope"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> TaskSuite.defaultSuite().generate(-1, 0, Split.TRAIN)).getMessage().contains("n "));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new TaskSuite(List.of(Families.add(9), Families.add(5)))).getMessage().contains("add"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Families.add(9).sample(new Random(0), 3)).getMessage().contains("template"));
        Task t = Families.add(9).sample(new Random(0), 0);
        assertThrows(IllegalArgumentException.class, () -> t.check(null));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Task("add", 0, "1+1", "Q: 1+1=?\nA:", " 2",
                List.of(" 2 "))).getMessage().contains("corruption"));
        // a family with too small a space for a split fails loudly instead of looping
        TaskFamily one = new TaskFamily() {
            public String name() { return "one"; }
            public int templateCount() { return 1; }
            public String difficulty() { return "one instance"; }
            public Task sample(Random rnd, int template) {
                return new Task("one", 0, "x", "Q: x\nA:", " x", List.of(" y"));
            }
            public Split split(String input, int template) { return Split.TRAIN; }
        };
        assertTrue(assertThrows(IllegalStateException.class, () -> new TaskSuite(List.of(one)).generate(1, 0, Split.TEST))
                .getMessage().contains("one"));
        assertEquals("capital", TaskSuite.defaultSuite().only("capital").families().get(0).name());
        List<String> names = new ArrayList<>();
        TaskSuite.defaultSuite().families().forEach(f -> names.add(f.name()));
        assertEquals(List.of("add", "sub", "max", "reverse", "sort", "upper", "length", "next", "capital", "repeat", "last"), names);
    }

    /** Not an assertion: the byte lengths per family at each level, for the notes. */
    @Test
    void printLengths() {
        for (int level = 1; level <= 3; level++) {
            StringBuilder sb = new StringBuilder("level " + level + ":");
            for (TaskFamily f : TaskSuite.level(level).families()) {
                Random rnd = new Random(level);
                int pMax = 0, aMax = 0;
                double pSum = 0, aSum = 0;
                int n = 500;
                for (int i = 0; i < n; i++) {
                    Task t = f.sample(rnd, i % f.templateCount());
                    pMax = Math.max(pMax, t.prompt().length());
                    aMax = Math.max(aMax, t.answer().length());
                    pSum += t.prompt().length();
                    aSum += t.answer().length();
                }
                sb.append(String.format(" %s p%.0f/%d a%.1f/%d;", f.name(), pSum / n, pMax, aSum / n, aMax));
            }
            System.out.println(sb);
        }
    }
}
