package dev.align4j.data.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The verifiable families (add_big, sub_big, two_step): oracle, checkers, corruptions, difficulty, splits, lookup. */
class VerifiableFamiliesTest {
    static final int MAX_PROMPT_BYTES = 40, MAX_ANSWER_BYTES = 12;
    static final List<String> NAMES = List.of("add_big", "sub_big", "two_step");

    /** An independent evaluator of the inputs: integers, + and - (left to right), * above them, parentheses. */
    static long eval(String s) {
        int[] pos = {0};
        long v = sum(s, pos);
        if (pos[0] != s.length()) throw new AssertionError("trailing input in '" + s + "' at " + pos[0]);
        return v;
    }

    private static long sum(String s, int[] pos) {
        long v = product(s, pos);
        while (pos[0] < s.length() && (s.charAt(pos[0]) == '+' || s.charAt(pos[0]) == '-')) {
            char op = s.charAt(pos[0]++);
            long w = product(s, pos);
            v = op == '+' ? v + w : v - w;
        }
        return v;
    }

    private static long product(String s, int[] pos) {
        long v = atom(s, pos);
        while (pos[0] < s.length() && s.charAt(pos[0]) == '*') {
            pos[0]++;
            v *= atom(s, pos);
        }
        return v;
    }

    private static long atom(String s, int[] pos) {
        if (s.charAt(pos[0]) == '(') {
            pos[0]++;
            long v = sum(s, pos);
            if (s.charAt(pos[0]++) != ')') throw new AssertionError("unbalanced '" + s + "'");
            return v;
        }
        int start = pos[0];
        while (pos[0] < s.length() && Character.isDigit(s.charAt(pos[0]))) pos[0]++;
        if (start == pos[0]) throw new AssertionError("no number in '" + s + "' at " + start);
        return Long.parseLong(s.substring(start, pos[0]));
    }

    /** The operands of an input, in order. */
    static long[] operands(String input) {
        return java.util.Arrays.stream(input.replaceAll("[()]", "").split("[+*-]")).mapToLong(Long::parseLong).toArray();
    }

    @Test
    void goldAnswersMatchTheOracleAndCheckersAcceptExactlyThem() {
        long seed = System.nanoTime();
        for (int level = 1; level <= 3; level++) {
            List<TaskFamily> fams = Families.verifiable(level);
            assertEquals(NAMES, fams.stream().map(TaskFamily::name).toList());
            for (TaskFamily f : fams) {
                Random rnd = new Random(seed + level);
                assertEquals(3, f.templateCount(), f.name());
                for (int i = 0; i < 1500; i++) {
                    Task t = f.sample(rnd, i % 3);
                    String tag = "seed " + seed + " level " + level + " " + t;
                    long gold = eval(t.input());
                    assertTrue(gold >= 0, tag);
                    assertEquals(" " + gold, t.answer(), tag);
                    assertTrue(t.check(t.answer()) && t.check(t.answer().strip()) && t.check("\n" + t.answer() + "  "), tag);
                    assertEquals(1.0, t.score(t.answer()), tag);
                    // near but not equal: leading zero, trailing text, sign, inner space, off by one
                    assertFalse(t.check(" 0" + gold), tag);
                    assertFalse(t.check(t.answer() + "0"), tag);
                    assertFalse(t.check(t.answer() + " " + gold), tag);
                    assertFalse(t.check(" +" + gold), tag);
                    assertFalse(t.check(" " + (gold + 1)), tag);
                    assertFalse(t.check(""), tag);
                    assertEquals(0.0, t.score(" " + (gold - 1)), tag);
                    assertTrue(t.corruptions().size() >= 2, tag);
                    for (String c : t.corruptions()) {
                        assertFalse(t.check(c), tag + " accepts corruption '" + c + "'");
                        assertEquals(0.0, t.score(c), tag);
                        assertTrue(c.startsWith(" ") && !c.startsWith("  ") && !c.isBlank(), tag + " corruption '" + c + "'");
                    }
                    assertTrue(t.prompt().startsWith("Q: ") && t.prompt().endsWith("\nA:"), tag);
                    byte[] p = t.prompt().getBytes(StandardCharsets.UTF_8), a = t.answer().getBytes(StandardCharsets.UTF_8);
                    assertEquals(t.prompt().length(), p.length, tag + " not ASCII");
                    assertTrue(p.length <= MAX_PROMPT_BYTES, tag + " prompt of " + p.length + " bytes");
                    assertTrue(a.length <= MAX_ANSWER_BYTES, tag + " answer of " + a.length + " bytes");
                    for (long x : operands(t.input())) assertTrue(t.prompt().contains("" + x), tag + " prompt lacks " + x);
                }
            }
        }
    }

    @Test
    void difficultyRangesAreRespectedAndCovered() {
        long seed = System.nanoTime();
        int[][] digits = {{3, 3}, {3, 4}, {4, 5}};
        int[] max = {9, 49, 99};
        for (int level = 1; level <= 3; level++) {
            String tag = "seed " + seed + " level " + level;
            int lo = digits[level - 1][0], hi = digits[level - 1][1];
            for (TaskFamily f : Families.verifiable(level).subList(0, 2)) {
                Set<Integer> seen = new TreeSet<>();
                Random rnd = new Random(seed);
                for (int i = 0; i < 3000; i++) {
                    Task t = f.sample(rnd, 0);
                    long[] ops = operands(t.input());
                    assertEquals(2, ops.length, tag + " " + t);
                    for (long x : ops) {
                        int d = Long.toString(x).length();
                        assertTrue(d >= lo && d <= hi, tag + " " + t + ": " + x + " has " + d + " digits");
                        seen.add(d);
                    }
                    if (f.name().equals("sub_big")) assertTrue(ops[0] >= ops[1], tag + " " + t);
                }
                assertEquals(hi - lo + 1, seen.size(), tag + " " + f.name() + " digit counts " + seen);
            }
            TaskFamily two = Families.verifiable(level).get(2);
            Map<String, Integer> forms = new HashMap<>();
            long largest = 0;
            Random rnd = new Random(seed);
            for (int i = 0; i < 3000; i++) {
                Task t = two.sample(rnd, 1);
                String in = t.input();
                String form = in.replaceAll("\\d+", "n");
                forms.merge(form, 1, Integer::sum);
                long[] ops = operands(in);
                assertEquals(3, ops.length, tag + " " + t);
                if (form.equals("(n+n)*n")) {
                    assertTrue(ops[2] >= 2 && ops[2] <= 9, tag + " factor " + t);
                    assertTrue(ops[0] <= max[level - 1] && ops[1] <= max[level - 1], tag + " " + t);
                } else {
                    for (long x : ops) assertTrue(x <= max[level - 1], tag + " " + t);
                    // every intermediate is non-negative: a-b+c has b <= a
                    if (form.equals("n-n+n")) assertTrue(ops[0] >= ops[1], tag + " " + t);
                }
                largest = Math.max(largest, Math.max(ops[0], ops[1]));
            }
            assertEquals(Set.of("n+n-n", "n-n+n", "(n+n)*n"), forms.keySet(), tag);
            for (int c : forms.values()) assertTrue(c > 800, tag + " forms " + forms);
            assertEquals(max[level - 1], largest, tag + " operands never reach the maximum");
        }
    }

    @Test
    void corruptionsHoldTheStepErrors() {
        // carries forgotten, and dropped one at a time: 458 + 367 = 825; columns without carries 715; carries into
        // the tens and hundreds: 815, 725
        assertEquals(715, Families.columnwise(458, 367, true));
        assertEquals(355, Families.columnwise(402, 157, false));   // 402 - 157 = 245: the smaller digit from the larger
        Task add = find(Families.addBig(3, 3), 458, 367);
        assertEquals("458+367", add.input());
        assertTrue(add.corruptions().containsAll(List.of(" 715", " 815", " 725", " 826", " 824", " 91")), add.toString());
        Task sub = find(Families.subBig(3, 3), 157, 402);
        assertEquals("402-157", sub.input());
        assertTrue(sub.corruptions().containsAll(List.of(" 355", " 255", " 345", " 559", " -245")), sub.toString());
        // two_step: the first step only, the sign flipped, the precedence ignored
        Random rnd = new Random(11);
        int seen = 0;
        for (int i = 0; i < 2000; i++) {
            Task t = Families.twoStep(49).sample(rnd, 0);
            long[] o = operands(t.input());
            Set<String> c = new HashSet<>(t.corruptions());
            if (t.input().startsWith("(")) {
                if (o[0] + o[1] * o[2] != eval(t.input())) assertTrue(c.contains(" " + (o[0] + o[1] * o[2])), t.toString());
                if (o[0] + o[1] != eval(t.input())) assertTrue(c.contains(" " + (o[0] + o[1])), t.toString());
                seen |= 1;
            } else if (t.input().matches("\\d+\\+\\d+-\\d+")) {
                if (o[2] > 0) assertTrue(c.contains(" " + (o[0] + o[1])) && c.contains(" " + (o[0] + o[1] + o[2])), t.toString());
                seen |= 2;
            } else {
                if (o[2] > 0) assertTrue(c.contains(" " + (o[0] - o[1])), t.toString());
                if (o[1] > 0) assertTrue(c.contains(" " + (o[0] + o[1] + o[2])), t.toString());
                seen |= 4;
            }
        }
        assertEquals(7, seen);
    }

    /** The task of {@code f} whose two operands of 3 digits are {@code x}, {@code y} in draw order (a scripted Random). */
    private static Task find(TaskFamily f, int x, int y) {
        int[] script = {0, x - 100, 0, y - 100};   // per operand: the digit count's draw (bound 1), then the value's
        Random rnd = new Random() {
            int next;

            @Override
            public int nextInt(int bound) {
                int v = script[next++];
                assertTrue(v < bound, "scripted " + v + " >= bound " + bound);
                return v;
            }
        };
        return f.sample(rnd, 0);
    }

    @Test
    void deterministicPerSeedAndSplitByInstance() {
        long a = System.nanoTime(), b = a + 1;
        String tag = "seeds " + a + ", " + b;
        TaskSuite suite = TaskSuite.withVerifiable(3);
        TaskSuite ver = TaskSuite.level(3).only(NAMES.toArray(new String[0]));
        for (Split split : Split.values()) {
            List<Task> x = ver.generate(900, a, split);
            assertEquals(x, ver.generate(900, a, split), tag);
            assertNotEquals(x, ver.generate(900, b, split), tag);
        }
        List<Task> train = suite.generate(6000, a, Split.TRAIN), test = suite.generate(2000, b, Split.TEST);
        Set<String> trainKeys = new HashSet<>();
        for (Task t : train) {
            assertEquals(Split.TRAIN, suite.splitOf(t), tag);
            trainKeys.add(t.family() + "|" + t.input());
        }
        int verifiable = 0;
        for (Task t : test) {
            assertEquals(Split.TEST, suite.splitOf(t), tag);
            if (NAMES.contains(t.family())) {
                verifiable++;
                assertFalse(trainKeys.contains(t.family() + "|" + t.input()), tag + ": " + t + " in both splits");
            }
        }
        assertTrue(verifiable > 3 * 2000 / 14 - 5, tag + ": " + verifiable);
        // the split is fixed per instance, whatever the difficulty, and the same through any suite that knows the family
        for (Task t : TaskSuite.level(1).only(NAMES.toArray(new String[0])).generate(600, a, Split.TEST)) {
            assertEquals(Split.TEST, suite.splitOf(t), tag);
            assertEquals(Split.TEST, TaskSuite.level(2).splitOf(t), tag);
        }
        // about one instance in TEST_BUCKETS is test
        for (TaskFamily f : Families.verifiable(1)) {
            Random rnd = new Random(a);
            int tests = 0, n = 20000;
            for (int i = 0; i < n; i++) if (f.split(f.sample(rnd, 0).input(), 0) == Split.TEST) tests++;
            assertEquals(1.0 / Split.TEST_BUCKETS, (double) tests / n, 0.02, tag + " " + f.name());
        }
    }

    @Test
    void theDefaultSuiteIsUnchangedAndFindsThemByName() {
        for (int level = 1; level <= 3; level++) {
            TaskSuite s = TaskSuite.level(level);
            List<String> names = s.families().stream().map(TaskFamily::name).toList();
            assertEquals(List.of("add", "sub", "max", "reverse", "sort", "upper", "length", "next", "capital", "repeat", "last"), names);
            assertEquals(NAMES, s.extraFamilies().stream().map(TaskFamily::name).toList());
            for (Task t : s.generate(1100, level, Split.TRAIN)) assertFalse(NAMES.contains(t.family()), t.toString());
            TaskSuite picked = s.only("add", "two_step", "sub_big");
            assertEquals(List.of("add", "two_step", "sub_big"), picked.families().stream().map(TaskFamily::name).toList());
            assertEquals(Families.verifiable(level).get(2).difficulty(), picked.families().get(1).difficulty());
            List<Task> g = picked.generate(30, 5, Split.TRAIN);
            assertEquals(Set.of("add", "two_step", "sub_big"), new HashSet<>(g.stream().map(Task::family).toList()));
            List<String> all = TaskSuite.withVerifiable(level).families().stream().map(TaskFamily::name).toList();
            List<String> expected = new ArrayList<>(names);
            expected.addAll(NAMES);
            assertEquals(expected, all);
            assertTrue(TaskSuite.withVerifiable(level).extraFamilies().isEmpty());
        }
        // TaskSuite.defaultSuite() and the demo's data are the same as before the verifiable families
        assertEquals(TaskSuite.level(2).generate(500, 3, Split.TRAIN), new TaskSuite(Families.all(2)).generate(500, 3, Split.TRAIN));
    }

    @Test
    void badArgumentsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.verifiable(0)).getMessage().contains("level"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.addBig(1, 3)).getMessage().contains("minDigits"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.subBig(4, 3)).getMessage().contains("maxDigits"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.addBig(3, 6)).getMessage().contains("maxDigits"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Families.twoStep(1)).getMessage().contains("max"));
        String m = assertThrows(IllegalArgumentException.class, () -> TaskSuite.level(2).only("add_bog")).getMessage();
        assertTrue(m.contains("add_bog") && m.contains("add_big") && m.contains("two_step"), m);
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new TaskSuite(Families.all(1), List.of(Families.add(9)))).getMessage().contains("'add' appears twice"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new TaskSuite(Families.all(1), null)).getMessage().contains("extra"));
        Task t = Families.twoStep(9).sample(new Random(0), 0);
        assertThrows(IllegalArgumentException.class, () -> new TaskSuite(Families.all(1)).splitOf(t));
    }
}
