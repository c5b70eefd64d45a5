package dev.align4j.data.tasks;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * The built-in task families. Every one is short enough for a byte-level model with a context of ~64: prompts
 * {@code "Q: <instruction>\nA:"} of at most ~40 bytes, answers of at most ~12 bytes (level 3 repeat reaches 13),
 * plain ASCII. Each has 3 instruction templates and a difficulty parameter; {@link #all(int)} sets them from one
 * level 1 (easy) .. 3 (hard).
 *
 * <table>
 *   <caption>Families</caption>
 *   <tr><th>name</th><th>example (template 0)</th><th>difficulty</th></tr>
 *   <tr><td>add</td><td>{@code Q: 23+5=?\nA:} → {@code " 28"}</td><td>operands 0..max</td></tr>
 *   <tr><td>sub</td><td>{@code Q: 23-5=?\nA:} → {@code " 18"}</td><td>0 ≤ b ≤ a ≤ max</td></tr>
 *   <tr><td>max</td><td>{@code Q: Max of 3 and 8?\nA:} → {@code " 8"}</td><td>distinct operands 0..max</td></tr>
 *   <tr><td>reverse</td><td>{@code Q: Reverse tomek.\nA:} → {@code " kemot"}</td><td>word length</td></tr>
 *   <tr><td>sort</td><td>{@code Q: Sort the digits 4913.\nA:} → {@code " 1349"}</td><td>digit count</td></tr>
 *   <tr><td>upper</td><td>{@code Q: Uppercase tomek.\nA:} → {@code " TOMEK"}</td><td>word length</td></tr>
 *   <tr><td>length</td><td>{@code Q: Length of tomek?\nA:} → {@code " 5"}</td><td>word length</td></tr>
 *   <tr><td>next</td><td>{@code Q: Letter 2 after c?\nA:} → {@code " e"}</td><td>shift 1..max</td></tr>
 *   <tr><td>capital</td><td>{@code Q: Capital of Peru?\nA:} → {@code " Lima"}</td><td>table entries used</td></tr>
 *   <tr><td>repeat</td><td>{@code Q: Repeat ko 3 times.\nA:} → {@code " kokoko"}</td><td>word length, times</td></tr>
 *   <tr><td>last</td><td>{@code Q: Last letter of tomek?\nA:} → {@code " k"}</td><td>word length</td></tr>
 * </table>
 *
 * <p>{@link #verifiable(int)} adds families that only a verifier can judge — arithmetic a learned reward model is
 * at chance on — kept out of {@link #all} so the default suite does not change:
 *
 * <table>
 *   <caption>Verifiable families</caption>
 *   <tr><th>name</th><th>example (template 0)</th><th>difficulty (level 1/2/3)</th></tr>
 *   <tr><td>add_big</td><td>{@code Q: 482+3907=?\nA:} → {@code " 4389"}</td><td>operand digits 3/3..4/4..5</td></tr>
 *   <tr><td>sub_big</td><td>{@code Q: 3907-482=?\nA:} → {@code " 3425"}</td><td>operand digits 3/3..4/4..5</td></tr>
 *   <tr><td>two_step</td><td>{@code Q: 12+7-5=?\nA:} → {@code " 14"}, {@code Q: (3+4)*5=?\nA:} → {@code " 35"}</td>
 *       <td>operands 0..9/49/99, factor 2..9</td></tr>
 * </table>
 *
 * <p>Words are pseudo-words of alternating consonants and vowels ({@code "tomek"}, {@code "abira"}), generated,
 * so the instance space is large and no word list ships. Corruptions (for preference pairs) are family-specific
 * near misses: off-by-one numbers, swapped/dropped/duplicated characters, the unreversed word, the wrong table
 * entry, one repetition too many or too few.
 */
public final class Families {
    private Families() {}

    static final String CONSONANTS = "bdfgklmnprstvz";
    static final String VOWELS = "aeiou";
    static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz";

    /** Country → capital, the lookup table of {@link #capital}; plain ASCII, capitals ≤ 9 letters. */
    static final String[][] CAPITALS = {
            {"France", "Paris"}, {"Japan", "Tokyo"}, {"Italy", "Rome"}, {"Spain", "Madrid"},
            {"Egypt", "Cairo"}, {"Peru", "Lima"}, {"Kenya", "Nairobi"}, {"Cuba", "Havana"},
            {"Greece", "Athens"}, {"Norway", "Oslo"}, {"Russia", "Moscow"}, {"China", "Beijing"},
            {"Iran", "Tehran"}, {"Iraq", "Baghdad"}, {"Poland", "Warsaw"}, {"Austria", "Vienna"},
            {"Germany", "Berlin"}, {"Canada", "Ottawa"}, {"Ireland", "Dublin"}, {"Sweden", "Stockholm"},
            {"Portugal", "Lisbon"}, {"Turkey", "Ankara"}, {"Chile", "Santiago"}, {"Thailand", "Bangkok"},
    };

    /** Every family at difficulty {@code level} (1 easy, 2 default, 3 hard). */
    public static List<TaskFamily> all(int level) {
        if (level < 1 || level > 3) throw new IllegalArgumentException("level must be 1, 2 or 3, got " + level);
        int i = level - 1;
        return List.of(
                add(new int[] {9, 49, 99}[i]),
                sub(new int[] {9, 49, 99}[i]),
                max(new int[] {9, 99, 999}[i]),
                reverse(3, new int[] {3, 4, 6}[i]),
                sort(3, new int[] {3, 4, 6}[i]),
                upper(3, new int[] {4, 6, 8}[i]),
                length(2, new int[] {5, 8, 12}[i]),
                next(new int[] {1, 2, 4}[i]),
                capital(new int[] {8, 16, CAPITALS.length}[i]),
                repeat(new int[] {2, 3, 3}[i], new int[] {3, 3, 4}[i]),
                last(3, new int[] {4, 6, 8}[i]));
    }

    // ------------------------------------------------------------------------------------------ arithmetic

    /** {@code a + b} with {@code a, b} in {@code [0, max]}. */
    public static TaskFamily add(int max) {
        range("max", max, 1, 9999);
        return new Generic("add", "operands 0.." + max,
                List.of("{0}+{1}=?", "What is {0} plus {1}?", "Add {0} and {1}."), rnd -> {
            int a = rnd.nextInt(max + 1), b = rnd.nextInt(max + 1);
            int s = a + b;
            List<String> bad = numberCorruptions(s);
            bad.add(String.valueOf(Math.abs(a - b)));
            return new Instance(a + "+" + b, new String[] {"" + a, "" + b}, "" + s, bad);
        });
    }

    /** {@code a − b} with {@code 0 ≤ b ≤ a ≤ max} (no negative answers). */
    public static TaskFamily sub(int max) {
        range("max", max, 1, 9999);
        return new Generic("sub", "0 <= b <= a <= " + max,
                List.of("{0}-{1}=?", "What is {0} minus {1}?", "Subtract {1} from {0}."), rnd -> {
            int a = rnd.nextInt(max + 1), b = rnd.nextInt(a + 1);
            int d = a - b;
            List<String> bad = numberCorruptions(d);
            bad.add(String.valueOf(a + b));
            if (d > 0) bad.add("-" + d);
            return new Instance(a + "-" + b, new String[] {"" + a, "" + b}, "" + d, bad);
        });
    }

    /** The larger of two distinct numbers in {@code [0, max]}. */
    public static TaskFamily max(int max) {
        range("max", max, 1, 99999);
        return new Generic("max", "distinct operands 0.." + max,
                List.of("Max of {0} and {1}?", "Which is larger, {0} or {1}?", "max({0},{1})=?"), rnd -> {
            int a = rnd.nextInt(max + 1), b;
            do b = rnd.nextInt(max + 1); while (b == a);
            List<String> bad = new ArrayList<>();
            bad.add(String.valueOf(Math.min(a, b)));   // the classic confusion first
            bad.addAll(numberCorruptions(Math.max(a, b)));
            return new Instance(a + "," + b, new String[] {"" + a, "" + b}, "" + Math.max(a, b), bad);
        });
    }

    // ------------------------------------------------------------------------------------------ verifiable arithmetic

    /**
     * The families only a verifier can judge (multi-digit arithmetic, two-step expressions) at difficulty
     * {@code level} 1..3: {@code add_big}, {@code sub_big}, {@code two_step}. Not in {@link #all} (the default
     * suite and its demo stay as they are); {@link TaskSuite#withVerifiable} adds them, and every suite built by
     * {@link TaskSuite#level} finds them by name ({@link TaskSuite#only}).
     */
    public static List<TaskFamily> verifiable(int level) {
        if (level < 1 || level > 3) throw new IllegalArgumentException("level must be 1, 2 or 3, got " + level);
        int i = level - 1;
        return List.of(
                addBig(new int[] {3, 3, 4}[i], new int[] {3, 4, 5}[i]),
                subBig(new int[] {3, 3, 4}[i], new int[] {3, 4, 5}[i]),
                twoStep(new int[] {9, 49, 99}[i]));
    }

    /**
     * {@code add_big}: {@code a + b}, each operand with {@code minDigits..maxDigits} digits (drawn per operand,
     * then the value uniformly among the numbers of that many digits; digits in [2, 5]). Corruptions add the
     * classic carry errors to the near misses of {@link #add}: the column sums without carries, and the sum with
     * one of its carries dropped (−10, −100, ... where a column carried).
     */
    public static TaskFamily addBig(int minDigits, int maxDigits) {
        digits(minDigits, maxDigits);
        return new Generic("add_big", "operands of " + minDigits + ".." + maxDigits + " digits",
                List.of("{0}+{1}=?", "What is {0} plus {1}?", "Add {0} and {1}."), rnd -> {
            int a = number(rnd, minDigits, maxDigits), b = number(rnd, minDigits, maxDigits);
            int s = a + b;
            List<String> bad = new ArrayList<>();
            bad.add(String.valueOf(columnwise(a, b, true)));   // carries forgotten
            for (int p = 10; p <= s; p *= 10)
                if (a % p + b % p >= p) bad.add(String.valueOf(s - p));   // the carry into this column dropped
            bad.addAll(numberCorruptions(s));
            bad.add(String.valueOf(Math.abs(a - b)));
            return new Instance(a + "+" + b, new String[] {"" + a, "" + b}, "" + s, bad);
        });
    }

    /**
     * {@code sub_big}: {@code a − b ≥ 0}, operands of {@code minDigits..maxDigits} digits as in {@link #addBig}
     * (the larger is {@code a}). Corruptions add the borrow errors: the columns' absolute differences (the
     * smaller digit taken from the larger), one of its borrows forgotten (+10, +100, ... where a column
     * borrowed), and {@code a + b}.
     */
    public static TaskFamily subBig(int minDigits, int maxDigits) {
        digits(minDigits, maxDigits);
        return new Generic("sub_big", "0 <= b <= a, operands of " + minDigits + ".." + maxDigits + " digits",
                List.of("{0}-{1}=?", "What is {0} minus {1}?", "Subtract {1} from {0}."), rnd -> {
            int x = number(rnd, minDigits, maxDigits), y = number(rnd, minDigits, maxDigits);
            int a = Math.max(x, y), b = Math.min(x, y), d = a - b;
            List<String> bad = new ArrayList<>();
            bad.add(String.valueOf(columnwise(a, b, false)));   // smaller digit from the larger, no borrows
            for (int p = 10; p <= a; p *= 10)
                if (a % p < b % p) bad.add(String.valueOf(d + p));   // the borrow from this column forgotten
            bad.addAll(numberCorruptions(d));
            bad.add(String.valueOf(a + b));
            if (d > 0) bad.add("-" + d);
            return new Instance(a + "-" + b, new String[] {"" + a, "" + b}, "" + d, bad);
        });
    }

    /**
     * {@code two_step}: an expression of two operations, one of {@code a+b-c} ({@code c ≤ a+b}), {@code a-b+c}
     * ({@code b ≤ a}) and {@code (a+b)*c}, with {@code a, b, c} in {@code [0, max]} and the factor {@code c} in
     * {@code [2, 9]}; every intermediate and the answer are non-negative. The input is the expression itself
     * ({@code "12+7-5"}, {@code "(3+4)*5"}), and each template shows it verbatim. Corruptions are the step errors:
     * the first step only, a sign flipped, the precedence ignored ({@code a+b*c}), {@code *} read as {@code +},
     * plus numeric near misses.
     */
    public static TaskFamily twoStep(int max) {
        range("max", max, 2, 99);
        return new Generic("two_step", "operands 0.." + max + ", factor 2..9",
                List.of("{0}=?", "What is {0}?", "Compute {0}."), rnd -> {
            int a = rnd.nextInt(max + 1), b = rnd.nextInt(max + 1);
            String expr;
            int v;
            List<String> bad = new ArrayList<>();
            switch (rnd.nextInt(3)) {
                case 0 -> {
                    int c = rnd.nextInt(Math.min(max, a + b) + 1);
                    expr = a + "+" + b + "-" + c;
                    v = a + b - c;
                    bad.add("" + (a + b));        // stopped after the first step
                    bad.add("" + (a + b + c));    // the sign flipped
                    if (a >= b + c) bad.add("" + (a - b - c));
                }
                case 1 -> {
                    if (b > a) {
                        int t = a;
                        a = b;
                        b = t;
                    }
                    int c = rnd.nextInt(max + 1);
                    expr = a + "-" + b + "+" + c;
                    v = a - b + c;
                    bad.add("" + (a - b));
                    bad.add("" + (a + b + c));
                    if (b + c <= a) bad.add("" + (a - b - c));   // read as a-(b+c)
                }
                default -> {
                    int c = 2 + rnd.nextInt(8);
                    expr = "(" + a + "+" + b + ")*" + c;
                    v = (a + b) * c;
                    bad.add("" + (a + b * c));    // the parentheses ignored
                    bad.add("" + (a + b));
                    bad.add("" + (a * c + b));    // c applied to one term
                    bad.add("" + (a + b + c));    // * read as +
                }
            }
            bad.addAll(numberCorruptions(v));
            return new Instance(expr, new String[] {expr}, "" + v, bad);
        });
    }

    /** A number of {@code minDigits..maxDigits} digits: the count uniform, then the value uniform among them. */
    private static int number(Random rnd, int minDigits, int maxDigits) {
        int k = minDigits + rnd.nextInt(maxDigits - minDigits + 1);
        int lo = k == 1 ? 0 : pow10(k - 1);
        return lo + rnd.nextInt(pow10(k) - lo);
    }

    private static int pow10(int k) {
        int p = 1;
        for (int j = 0; j < k; j++) p *= 10;
        return p;
    }

    /**
     * Column by column without carries or borrows: {@code add} the digit sums mod 10, else the absolute digit
     * differences (the mistakes of a pupil who forgets to carry, or takes the smaller digit from the larger).
     */
    static int columnwise(int a, int b, boolean add) {
        int out = 0;
        for (int p = 1; a > 0 || b > 0; p *= 10, a /= 10, b /= 10) {
            int x = a % 10, y = b % 10;
            out += p * (add ? (x + y) % 10 : Math.abs(x - y));
        }
        return out;
    }

    private static void digits(int minDigits, int maxDigits) {
        range("minDigits", minDigits, 2, 5);
        range("maxDigits", maxDigits, 2, 5);
        if (maxDigits < minDigits)
            throw new IllegalArgumentException("maxDigits (" + maxDigits + ") must be >= minDigits (" + minDigits + ")");
    }

    // ------------------------------------------------------------------------------------------ strings

    /** A pseudo-word of {@code minLen..maxLen} letters, reversed. */
    public static TaskFamily reverse(int minLen, int maxLen) {
        return onWord("reverse", minLen, maxLen, 2, 12,
                List.of("Reverse {0}.", "Write {0} backwards.", "{0} reversed is?"),
                w -> new StringBuilder(w).reverse().toString(), (w, r) -> {
                    List<String> bad = new ArrayList<>(List.of(w));
                    bad.addAll(stringCorruptions(r));
                    return bad;
                });
    }

    /** A string of {@code minLen..maxLen} random digits, sorted ascending. */
    public static TaskFamily sort(int minLen, int maxLen) {
        lengths(minLen, maxLen, 2, 10);
        return new Generic("sort", "digits " + minLen + ".." + maxLen,
                List.of("Sort the digits {0}.", "Sort {0} ascending.", "Digits of {0} in order?"), rnd -> {
            int len = minLen + rnd.nextInt(maxLen - minLen + 1);
            char[] d = new char[len];
            for (int j = 0; j < len; j++) d[j] = (char) ('0' + rnd.nextInt(10));
            String s = new String(d);
            Arrays.sort(d);
            String sorted = new String(d);
            List<String> bad = new ArrayList<>();
            bad.add(s);
            bad.add(new StringBuilder(sorted).reverse().toString());
            bad.addAll(stringCorruptions(sorted));
            return new Instance(s, new String[] {s}, sorted, bad);
        });
    }

    /** A pseudo-word of {@code minLen..maxLen} letters in upper case. */
    public static TaskFamily upper(int minLen, int maxLen) {
        return onWord("upper", minLen, maxLen, 1, 12,
                List.of("Uppercase {0}.", "Write {0} in capitals.", "{0} in upper case?"),
                w -> w.toUpperCase(java.util.Locale.ROOT), (w, u) -> {
                    List<String> bad = new ArrayList<>(List.of(w, u.charAt(0) + w.substring(1)));
                    if (w.length() > 1) bad.add(u.substring(0, u.length() - 1) + w.charAt(w.length() - 1));
                    bad.addAll(stringCorruptions(u));
                    return bad;
                });
    }

    /** The number of letters of a pseudo-word of {@code minLen..maxLen} letters. */
    public static TaskFamily length(int minLen, int maxLen) {
        return onWord("length", minLen, maxLen, 1, 20,
                List.of("Length of {0}?", "How many letters in {0}?", "Count the letters of {0}."), w -> "" + w.length(),
                (w, n) -> List.of("" + (w.length() + 1), "" + (w.length() - 1), "" + (w.length() + 2)));
    }

    /**
     * The letter {@code k} places after a letter, {@code k} in {@code 1..maxShift}, without wrapping past z. The
     * successor of a letter is a fact (nothing in the other instances implies it), so this family splits by
     * phrasing, like {@link #capital}: see {@link Split#byPhrasing}.
     */
    public static TaskFamily next(int maxShift) {
        range("maxShift", maxShift, 1, 12);
        return new Generic("next", "shift 1.." + maxShift,
                List.of("Letter {1} after {0}?", "Shift {0} by {1}.", "{0} plus {1} letters?"), rnd -> {
            int k = 1 + rnd.nextInt(maxShift);
            int c = rnd.nextInt(26 - k);
            String from = "" + ALPHABET.charAt(c), to = "" + ALPHABET.charAt(c + k);
            List<String> bad = new ArrayList<>();
            if (c + k + 1 < 26) bad.add("" + ALPHABET.charAt(c + k + 1));
            bad.add("" + ALPHABET.charAt(c + k - 1));   // k = 1: the letter itself
            if (c > 0) bad.add("" + ALPHABET.charAt(c - 1));
            bad.add(to.toUpperCase(java.util.Locale.ROOT));
            return new Instance(from + "+" + k, new String[] {from, "" + k}, to, bad);
        }) {
            @Override
            public Split split(String input, int template) {
                return Split.byPhrasing(name(), input, template, templateCount());
            }
        };
    }

    /**
     * Country → capital over the first {@code entries} rows of a built-in table of 24. A lookup cannot generalise
     * to unseen entries, so it splits by phrasing ({@link Split#byPhrasing}): each entry has ONE test template and
     * its other templates are train; the test set asks known facts in a phrasing not seen for them in training.
     */
    public static TaskFamily capital(int entries) {
        range("entries", entries, 2, CAPITALS.length);
        Generic g = new Generic("capital", entries + " table entries",
                List.of("Capital of {0}?", "What is the capital of {0}?", "{0}'s capital city is?"), rnd -> {
            int e = rnd.nextInt(entries);
            String cap = CAPITALS[e][1];
            List<String> bad = new ArrayList<>();
            bad.add(CAPITALS[(e + 1) % entries][1]);     // wrong table entries first
            bad.add(CAPITALS[(e + entries - 1) % entries][1]);
            bad.addAll(stringCorruptions(cap));
            return new Instance(CAPITALS[e][0], new String[] {CAPITALS[e][0]}, cap, bad);
        }) {
            @Override
            public Split split(String input, int template) {
                return Split.byPhrasing(name(), input, template, templateCount());
            }
        };
        return g;
    }

    /** A pseudo-word of 1..{@code maxLen} letters written {@code 2..maxTimes} times, concatenated. */
    public static TaskFamily repeat(int maxLen, int maxTimes) {
        range("maxLen", maxLen, 1, 4);
        range("maxTimes", maxTimes, 2, 4);
        return new Generic("repeat", "word length 1.." + maxLen + ", times 2.." + maxTimes,
                List.of("Repeat {0} {1} times.", "Say {0} {1} times.", "{0} x{1}=?"), rnd -> {
            String w = word(rnd, 1, maxLen);
            int n = 2 + rnd.nextInt(maxTimes - 1);
            List<String> bad = new ArrayList<>();
            bad.add(w.repeat(n + 1));
            bad.add(w.repeat(n - 1));
            bad.add(String.join(" ", java.util.Collections.nCopies(n, w)));
            return new Instance(w + "*" + n, new String[] {w, "" + n}, w.repeat(n), bad);
        });
    }

    /** The last letter of a pseudo-word of {@code minLen..maxLen} letters. */
    public static TaskFamily last(int minLen, int maxLen) {
        return onWord("last", minLen, maxLen, 2, 12,
                List.of("Last letter of {0}?", "{0} ends with which letter?", "Final letter of {0}?"),
                w -> "" + w.charAt(w.length() - 1), (w, l) -> List.of("" + w.charAt(0), "" + w.charAt(w.length() - 2),
                        "" + (char) (l.charAt(0) == 'z' ? 'y' : l.charAt(0) + 1)));
    }

    // ------------------------------------------------------------------------------------------ helpers

    /**
     * A family that asks one thing of a pseudo-word of {@code minLen..maxLen} letters (each in
     * {@code [shortest, longest]}): {@code answer} of the word, and {@code corruptions} of (word, answer).
     */
    private static TaskFamily onWord(String name, int minLen, int maxLen, int shortest, int longest, List<String> templates,
                                     UnaryOperator<String> answer, BiFunction<String, String, List<String>> corruptions) {
        lengths(minLen, maxLen, shortest, longest);
        return new Generic(name, "word length " + minLen + ".." + maxLen, templates, rnd -> {
            String w = word(rnd, minLen, maxLen);
            String a = answer.apply(w);
            return new Instance(w, new String[] {w}, a, corruptions.apply(w, a));
        });
    }

    /** A pseudo-word: alternating consonants and vowels, starting with either, {@code minLen..maxLen} letters. */
    static String word(Random rnd, int minLen, int maxLen) {
        int len = minLen + rnd.nextInt(maxLen - minLen + 1);
        boolean vowel = rnd.nextInt(3) == 0;
        StringBuilder sb = new StringBuilder(len);
        for (int j = 0; j < len; j++, vowel = !vowel) {
            String set = vowel ? VOWELS : CONSONANTS;
            sb.append(set.charAt(rnd.nextInt(set.length())));
        }
        return sb.toString();
    }

    /** Off-by-one, swapped, dropped and duplicated digits of a non-negative number. */
    static List<String> numberCorruptions(int v) {
        List<String> out = new ArrayList<>();
        out.add("" + (v + 1));
        if (v > 0) out.add("" + (v - 1));
        out.addAll(stringCorruptions("" + v));
        return out;
    }

    /** Near misses of a string: first distinct adjacent pair swapped, last/first char dropped, a char doubled. */
    static List<String> stringCorruptions(String s) {
        List<String> out = new ArrayList<>();
        for (int j = 0; j + 1 < s.length(); j++)
            if (s.charAt(j) != s.charAt(j + 1)) {
                out.add(s.substring(0, j) + s.charAt(j + 1) + s.charAt(j) + s.substring(j + 2));
                break;
            }
        if (s.length() > 1) {
            out.add(s.substring(0, s.length() - 1));
            out.add(s.substring(1));
        }
        int m = s.length() / 2;
        out.add(s.substring(0, m + 1) + s.substring(m));   // always differs: one char longer
        return out;
    }

    private static void range(String what, int v, int lo, int hi) {
        if (v < lo || v > hi) throw new IllegalArgumentException(what + " must be in [" + lo + ", " + hi + "], got " + v);
    }

    private static void lengths(int minLen, int maxLen, int lo, int hi) {
        range("minLen", minLen, lo, hi);
        range("maxLen", maxLen, lo, hi);
        if (maxLen < minLen) throw new IllegalArgumentException("maxLen (" + maxLen + ") must be >= minLen (" + minLen + ")");
    }

    /** One drawn problem: canonical input, the template slots {0}, {1}, ..., the answer and raw corruptions. */
    record Instance(String input, String[] slots, String answer, List<String> corruptions) {}

    /** A family from its templates and a drawer of instances. */
    static class Generic implements TaskFamily {
        private final String name, difficulty;
        private final List<String> templates;
        private final Function<Random, Instance> drawer;

        Generic(String name, String difficulty, List<String> templates, Function<Random, Instance> drawer) {
            this.name = name;
            this.difficulty = difficulty;
            this.templates = List.copyOf(templates);
            this.drawer = drawer;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int templateCount() {
            return templates.size();
        }

        @Override
        public String difficulty() {
            return difficulty;
        }

        @Override
        public Task sample(Random rnd, int template) {
            if (rnd == null) throw new IllegalArgumentException("rnd must not be null");
            if (template < 0 || template >= templates.size())
                throw new IllegalArgumentException("template must be in [0, " + templates.size() + ") for family "
                        + name + ", got " + template);
            Instance in = drawer.apply(rnd);
            String body = templates.get(template);
            for (int j = 0; j < in.slots().length; j++) body = body.replace("{" + j + "}", in.slots()[j]);
            Set<String> bad = new LinkedHashSet<>();
            for (String c : in.corruptions())
                if (!c.isBlank() && !c.strip().equals(in.answer())) bad.add(" " + c);
            return new Task(name, template, in.input(), "Q: " + body + "\nA:", " " + in.answer(), List.copyOf(bad));
        }

        @Override
        public String toString() {
            return name + "(" + difficulty + ")";
        }
    }
}
