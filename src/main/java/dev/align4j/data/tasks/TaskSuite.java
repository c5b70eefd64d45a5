package dev.align4j.data.tasks;

import dev.align4j.data.PreferencePair;
import dev.align4j.data.SftExample;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The built-in FLAN-style task suite: a list of {@link TaskFamily families}, each at its difficulty — the data of
 * the default demo and the gold judge of evaluation.
 *
 * <p><b>Generation</b> ({@link #generate}): task {@code i} comes from family {@code i mod F} (so families are
 * balanced to within one task), with a uniformly drawn template and instance, then the list is shuffled. An
 * instance whose split is not the requested one is redrawn. Instances are drawn <i>with replacement</i>: a large
 * {@code n} from a small family repeats problems (the test split of {@code next} at level 1 holds only ~5).
 * Deterministic: the same suite, {@code n}, seed and split give the same list.
 *
 * <p><b>Split</b>: by problem instance, never by seed (see {@link Split}); train and test never share a problem,
 * whatever the seeds — except the fact families {@code capital} and {@code next}, which share facts but never a
 * (fact, phrasing) prompt ({@link Split#byPhrasing}). Changing a family's difficulty does not move an instance
 * between splits.
 */
public final class TaskSuite {
    private static final int MAX_TRIES = 100_000;
    private final List<TaskFamily> families;
    /** Families that {@link #only} and {@link #splitOf} find by name but {@link #generate} does not draw from. */
    private final List<TaskFamily> extra;

    public TaskSuite(List<TaskFamily> families) {
        this(families, List.of());
    }

    /**
     * A suite that generates from {@code families} and also knows {@code extra} by name: {@link #only} and
     * {@link #splitOf} find them, {@link #generate} never draws them. Names are unique over both lists.
     */
    public TaskSuite(List<TaskFamily> families, List<TaskFamily> extra) {
        if (families == null || families.isEmpty()) throw new IllegalArgumentException("families must not be null or empty");
        if (extra == null) throw new IllegalArgumentException("extra must not be null (List.of() for none)");
        Set<String> names = new HashSet<>();
        for (int i = 0; i < families.size() + extra.size(); i++) {
            boolean main = i < families.size();
            TaskFamily f = main ? families.get(i) : extra.get(i - families.size());
            if (f == null)
                throw new IllegalArgumentException((main ? "families[" + i : "extra[" + (i - families.size())) + "] must not be null");
            if (!names.add(f.name())) throw new IllegalArgumentException("family name '" + f.name() + "' appears twice");
        }
        this.families = List.copyOf(families);
        this.extra = List.copyOf(extra);
    }

    /** All built-in families at level 2 (see {@link Families#all}). */
    public static TaskSuite defaultSuite() {
        return level(2);
    }

    /**
     * All built-in families of {@link Families#all} at {@code level} 1 (easy), 2 (default) or 3 (hard). The
     * verifiable families ({@link Families#verifiable}) at the same level are known by name — {@code
     * level(2).only("add", "two_step")} finds them — but not generated unless named.
     */
    public static TaskSuite level(int level) {
        return new TaskSuite(Families.all(level), Families.verifiable(level));
    }

    /** {@link Families#all} then {@link Families#verifiable}, all generated, at {@code level} 1..3. */
    public static TaskSuite withVerifiable(int level) {
        List<TaskFamily> f = new ArrayList<>(Families.all(level));
        f.addAll(Families.verifiable(level));
        return new TaskSuite(f);
    }

    /** The families {@link #generate} draws from. */
    public List<TaskFamily> families() {
        return families;
    }

    /** The families known by name only (see {@link #TaskSuite(List, List)}); empty for most suites. */
    public List<TaskFamily> extraFamilies() {
        return extra;
    }

    /**
     * A suite of the families named (those generated or known by name), in the order named; an unknown name
     * throws naming it and the names known.
     */
    public TaskSuite only(String... names) {
        if (names == null || names.length == 0) throw new IllegalArgumentException("names must not be empty");
        List<TaskFamily> out = new ArrayList<>();
        for (String n : names) {
            TaskFamily f = find(n);
            if (f == null) {
                List<String> known = new ArrayList<>();
                families.forEach(x -> known.add(x.name()));
                extra.forEach(x -> known.add(x.name()));
                throw new IllegalArgumentException("no family named '" + n + "' in " + this + " (known: "
                        + String.join(", ", known) + ")");
            }
            out.add(f);
        }
        return new TaskSuite(out);
    }

    private TaskFamily find(String name) {
        for (TaskFamily f : families) if (f.name().equals(name)) return f;
        for (TaskFamily f : extra) if (f.name().equals(name)) return f;
        return null;
    }

    /** {@code n} tasks of {@code split}, deterministic for {@code seed} (see the class comment). */
    public List<Task> generate(int n, long seed, Split split) {
        if (n < 0) throw new IllegalArgumentException("n must be >= 0, got " + n);
        if (split == null) throw new IllegalArgumentException("split must not be null");
        Random rnd = new Random(seed);
        List<Task> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            TaskFamily f = families.get(i % families.size());
            out.add(draw(f, rnd, split));
        }
        Collections.shuffle(out, rnd);
        return out;
    }

    private static Task draw(TaskFamily f, Random rnd, Split split) {
        for (int tries = 0; tries < MAX_TRIES; tries++) {
            Task t = f.sample(rnd, rnd.nextInt(f.templateCount()));
            if (f.split(t.input(), t.template()) == split) return t;
        }
        throw new IllegalStateException("family " + f.name() + " (" + f.difficulty() + ") has no " + split
                + " instances in " + MAX_TRIES + " draws; raise its difficulty");
    }

    /** The split an already generated task belongs to, by its family in this suite. */
    public Split splitOf(Task task) {
        TaskFamily f = find(task.family());
        if (f == null) throw new IllegalArgumentException("task family '" + task.family() + "' is not in " + this);
        return f.split(task.input(), task.template());
    }

    /** The SFT examples of {@code tasks} (prompt untrained, answer trained), in order. */
    public static List<SftExample> toSft(List<Task> tasks) {
        if (tasks == null) throw new IllegalArgumentException("tasks must not be null");
        List<SftExample> out = new ArrayList<>(tasks.size());
        for (Task t : tasks) out.add(t.toSft());
        return out;
    }

    /**
     * One preference pair per task: (prompt, gold answer, a corruption drawn uniformly from the task's
     * family-specific near misses with {@code seed}). Deterministic for a seed. Such pairs are off-policy and
     * easy (the rejected side is a known pattern); {@link SampledPairs} gives on-policy pairs.
     */
    public static List<PreferencePair> corruptedPairs(List<Task> tasks, long seed) {
        if (tasks == null) throw new IllegalArgumentException("tasks must not be null");
        Random rnd = new Random(seed);
        List<PreferencePair> out = new ArrayList<>(tasks.size());
        for (Task t : tasks) {
            List<String> bad = t.corruptions();
            out.add(new PreferencePair(t.prompt(), t.answer(), bad.get(rnd.nextInt(bad.size())), t.origin()));
        }
        return out;
    }

    @Override
    public String toString() {
        return "TaskSuite" + families;
    }
}
