package dev.align4j.data.tasks;

import java.util.List;
import java.util.Random;

/**
 * A pre-training corpus the project generates: plain prose stating facts of the built-in task families
 * ("The word tomek spelled backwards is kemot.", "7 plus 6 is 13.", "Lima is the capital of Peru."), in
 * paragraphs, with several phrasings per family that differ from the instruction templates — so a model
 * pre-trained on it knows the skills as text, and SFT teaches the {@code Q: … A:} format on top, as in the
 * lecture's pre-training → mid-training → SFT story.
 *
 * <p>Only <b>train-split</b> instances are stated ({@link Split}): held-out test problems never appear in
 * the corpus, so gold accuracy on the test split still measures generalisation. Deterministic in the seed.
 * A family without its own phrasings (a user-defined one) is stated as "{instruction} {answer}.".
 */
public final class TaskCorpus {
    private TaskCorpus() {}

    /** About {@code sentences} sentences (paragraphs of 4–9) from {@code suite}'s train split; seed-deterministic. */
    public static String generate(TaskSuite suite, int sentences, long seed) {
        if (suite == null) throw new IllegalArgumentException("suite must not be null");
        if (sentences < 1) throw new IllegalArgumentException("sentences must be >= 1, got " + sentences);
        List<Task> tasks = suite.generate(sentences, seed, Split.TRAIN);
        Random rnd = new Random(seed * 0x9E3779B97F4A7C15L + 17);
        StringBuilder sb = new StringBuilder(sentences * 40);
        int left = 0;
        for (Task t : tasks) {
            if (left == 0) {
                if (sb.length() > 0) sb.append("\n\n");
                left = 4 + rnd.nextInt(6);
            } else {
                sb.append(' ');
            }
            sb.append(sentence(t, rnd.nextInt(3)));
            left--;
        }
        return sb.append('\n').toString();
    }

    /** Task {@code t} as a sentence in phrasing {@code k} (0..2). */
    static String sentence(Task t, int k) {
        String in = t.input(), ans = t.answer().strip();
        String[] p;
        switch (t.family()) {
            case "add" -> {
                p = in.split("\\+");
                return pick(k, p[0] + " plus " + p[1] + " is " + ans + ".", "Adding " + p[0] + " and " + p[1] + " gives " + ans + ".",
                        "The sum of " + p[0] + " and " + p[1] + " is " + ans + ".");
            }
            case "sub" -> {
                p = in.split("-");
                return pick(k, p[0] + " minus " + p[1] + " is " + ans + ".", "Taking " + p[1] + " from " + p[0] + " leaves " + ans + ".",
                        "The difference of " + p[0] + " and " + p[1] + " is " + ans + ".");
            }
            case "max" -> {
                p = in.split(",");
                return pick(k, "Of " + p[0] + " and " + p[1] + ", the larger is " + ans + ".", ans + " is the bigger of " + p[0] + " and " + p[1] + ".",
                        "Between " + p[0] + " and " + p[1] + " the maximum is " + ans + ".");
            }
            case "reverse" -> {
                return pick(k, "The word " + in + " spelled backwards is " + ans + ".", "Read from the end, " + in + " becomes " + ans + ".",
                        in + " turned around is " + ans + ".");
            }
            case "sort" -> {
                return pick(k, "The digits of " + in + " in order are " + ans + ".", "Sorting " + in + " gives " + ans + ".",
                        "Put in ascending order, " + in + " reads " + ans + ".");
            }
            case "upper" -> {
                return pick(k, "In capital letters " + in + " is " + ans + ".", "Shouted, " + in + " becomes " + ans + ".",
                        "The uppercase form of " + in + " is " + ans + ".");
            }
            case "length" -> {
                return pick(k, "The word " + in + " has " + ans + " letters.", in + " is " + ans + " letters long.",
                        "Counting the letters of " + in + " gives " + ans + ".");
            }
            case "next" -> {
                p = in.split("\\+");
                return pick(k, ans + " comes " + p[1] + " after " + p[0] + " in the alphabet.",
                        "Moving " + p[1] + " on from " + p[0] + " reaches " + ans + ".", "Shifting " + p[0] + " by " + p[1] + " gives " + ans + ".");
            }
            case "capital" -> {
                return pick(k, ans + " is the capital of " + in + ".", "The capital city of " + in + " is " + ans + ".",
                        in + " is governed from " + ans + ".");
            }
            case "repeat" -> {
                p = in.split("\\*");
                return pick(k, p[0] + " written " + p[1] + " times is " + ans + ".", "Say " + p[0] + " " + p[1] + " times: " + ans + ".",
                        p[1] + " copies of " + p[0] + " make " + ans + ".");
            }
            case "last" -> {
                return pick(k, "The word " + in + " ends with " + ans + ".", "The final letter of " + in + " is " + ans + ".",
                        in + " finishes on the letter " + ans + ".");
            }
            default -> {
                String q = t.prompt().replaceFirst("^Q: ", "").replaceFirst("\\s*\\nA:\\s*$", "");
                return q + " " + ans + ".";
            }
        }
    }

    private static String pick(int k, String a, String b, String c) {
        return k == 0 ? a : k == 1 ? b : c;
    }
}
