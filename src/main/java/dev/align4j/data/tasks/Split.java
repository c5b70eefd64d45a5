package dev.align4j.data.tasks;

/**
 * Train or test side of the task suite. The split is a property of the problem instance, never of the seed: by
 * default an instance is TEST when a stable 64-bit hash of {@code (family, input)} is 0 modulo
 * {@link #TEST_BUCKETS} (about one instance in five), so train and test sets drawn with any seeds never share a
 * problem. Families of memorised facts ({@code capital}, {@code next}) split by phrasing instead
 * ({@link #byPhrasing}): a held-out fact could not be learned at all.
 */
public enum Split {
    TRAIN, TEST;

    /** One instance in {@code TEST_BUCKETS} goes to TEST. */
    public static final int TEST_BUCKETS = 5;

    /** The default split of an instance: hash of (family, input) modulo {@link #TEST_BUCKETS}. */
    public static Split of(String family, String input) {
        return Long.remainderUnsigned(hash(family + '\u0000' + input), TEST_BUCKETS) == 0 ? TEST : TRAIN;
    }

    /**
     * The split of a fact family: each instance has ONE test template, {@code hash(family, input) mod
     * templateCount}, and its other templates are TRAIN — the test set asks facts seen in training, in a phrasing
     * never seen for them. (Train and test then share the fact, not the prompt.)
     */
    public static Split byPhrasing(String family, String input, int template, int templateCount) {
        return Long.remainderUnsigned(hash(family + '\u0000' + input), templateCount) == template ? TEST : TRAIN;
    }

    /** A stable hash (FNV-1a over the UTF-16 chars, then the splitmix64 finaliser); independent of the JVM. */
    public static long hash(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        return h ^ (h >>> 31);
    }
}
