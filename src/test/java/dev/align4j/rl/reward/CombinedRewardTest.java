package dev.align4j.rl.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** CombinedReward (weights, columns, metrics, parallel = sequential, errors) and RewardSpec (syntax, errors, build). */
class CombinedRewardTest {
    /** A batch function, not thread-safe: records its calls' threads and sizes. A hash of the completion as score. */
    static final class Recording implements RewardFunction {
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());

        @Override
        public String name() {
            return "batch";
        }

        @Override
        public float[] score(List<RewardSample> samples) {
            threads.add(Thread.currentThread().getName());
            sizes.add(samples.size());
            float[] out = new float[samples.size()];
            for (int i = 0; i < out.length; i++) out[i] = (samples.get(i).completion().hashCode() % 1000) / 7f;
            return out;
        }
    }

    /** A thread-safe batch function (not per sample): its batch is split over the pool. */
    static final RewardFunction CHARS = new RewardFunction() {
        @Override
        public String name() {
            return "chars";
        }

        @Override
        public float[] score(List<RewardSample> samples) {
            float[] out = new float[samples.size()];
            for (int i = 0; i < out.length; i++) out[i] = samples.get(i).completion().chars().filter(Character::isDigit).count() * 0.3f;
            return out;
        }

        @Override
        public boolean threadSafe() {
            return true;
        }
    };

    static List<CombinedReward.Weighted> functions(Recording rec, Set<String> perSampleThreads) {
        PerSampleReward slowish = RewardFunction.perSample("thread", s -> {
            perSampleThreads.add(Thread.currentThread().getName());
            try {
                Thread.sleep(1);   // long enough that the pool's parts overlap
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return s.index() % 3 - 0.5;
        });
        return List.of(new CombinedReward.Weighted(RewardFunctions.gold(), 1), new CombinedReward.Weighted(RewardFunctions.format(), 0.2),
                new CombinedReward.Weighted(RewardFunctions.length(2, 1), -0.01), new CombinedReward.Weighted(rec, 0.7),
                new CombinedReward.Weighted(CHARS, -1.5), new CombinedReward.Weighted(slowish, 0));
    }

    @Test
    void theTotalIsTheWeightedSumAndParallelEqualsSequential() {
        long seed = System.nanoTime();
        List<RewardSample> s = RewardFunctionsTest.samples(seed, 203);
        Recording recSeq = new Recording(), recPar = new Recording();
        Set<String> seqThreads = ConcurrentHashMap.newKeySet(), parThreads = ConcurrentHashMap.newKeySet();
        CombinedReward.Result seq, par;
        try (CombinedReward a = new CombinedReward(functions(recSeq, seqThreads), 1)) {
            seq = a.score(s);
        }
        try (CombinedReward b = new CombinedReward(functions(recPar, parThreads), 4)) {
            par = b.score(s);
            CombinedReward.Result again = b.score(s);   // the pool is reused
            assertArrayEquals(par.total(), again.total());
        }
        String tag = "seed " + seed;
        assertEquals(List.of("gold", "format", "length", "batch", "chars", "thread"), par.names());
        for (int i = 0; i < par.names().size(); i++) assertArrayEquals(seq.columns()[i], par.columns()[i], tag + " " + par.names().get(i));
        assertArrayEquals(seq.total(), par.total(), tag);
        // the sum, by hand, and each column against its function alone
        double[] w = {1, 0.2, -0.01, 0.7, -1.5, 0};
        assertArrayEquals(w, par.weights());
        for (int j = 0; j < s.size(); j++) {
            double t = 0;
            for (int i = 0; i < w.length; i++) t += w[i] * par.columns()[i][j];
            assertEquals((float) t, par.total()[j], tag + " sample " + j);
        }
        assertArrayEquals(RewardFunctions.gold().score(s), par.column("gold"));
        assertArrayEquals(CHARS.score(s), par.column("chars"));
        float[] g = par.column("gold");
        int correct = 0;
        for (float x : g) correct += x == 1f ? 1 : 0;
        assertTrue(correct > 10 && correct < s.size() - 10, tag + ": " + correct + " correct of " + s.size());
        // where each ran: the batch function once on the calling thread with the whole batch; per-sample ones on the pool
        assertEquals(List.of(Thread.currentThread().getName()), recSeq.threads);
        assertEquals(List.of(Thread.currentThread().getName(), Thread.currentThread().getName()), recPar.threads);
        assertEquals(List.of(s.size(), s.size()), recPar.sizes);
        assertEquals(Set.of(Thread.currentThread().getName()), seqThreads);
        assertFalse(parThreads.contains(Thread.currentThread().getName()), parThreads.toString());
        assertTrue(parThreads.size() > 1 && parThreads.stream().allMatch(n -> n.startsWith("align4j-reward-")), parThreads.toString());
        // metrics with TRL's names
        Map<String, Double> m = par.metrics();
        assertEquals(1 + 2 * 6, m.size());
        double mean = 0;
        for (float x : par.total()) mean += x;
        assertEquals(mean / s.size(), m.get("reward"), 1e-9);
        assertEquals((double) correct / s.size(), m.get("rewards/gold/mean"), 1e-9);
        double mg = (double) correct / s.size();
        assertEquals(Math.sqrt(mg * (1 - mg) * s.size() / (s.size() - 1)), m.get("rewards/gold/std"), 1e-9);
        assertThrows(IllegalArgumentException.class, () -> par.column("nope"));
        // an empty batch and a batch of one
        try (CombinedReward b = new CombinedReward(functions(new Recording(), ConcurrentHashMap.newKeySet()), 3)) {
            CombinedReward.Result e = b.score(List.of());
            assertEquals(0, e.total().length);
            assertTrue(e.metrics().isEmpty());
            CombinedReward.Result one = b.score(s.subList(5, 6));
            assertEquals(par.total()[5], one.total()[0]);
            assertEquals(0.0, one.metrics().get("rewards/gold/std"));
        }
    }

    /** The function of {@code name} that misbehaves ({@code how}) on the sample of index {@code bad} only. */
    static RewardFunction broken(String how, int bad, boolean perSample) {
        if (perSample) return RewardFunction.perSample("broken", s -> {
            if (s.index() != bad) return 1;
            return switch (how) {
                case "throw" -> throw new IllegalStateException("boom");
                case "nan" -> Double.NaN;
                case "inf" -> Double.NEGATIVE_INFINITY;
                case "huge" -> 1e300;   // finite as a double, infinite as the float column
                default -> throw new AssertionError(how);
            };
        });
        return new RewardFunction() {
            public String name() {
                return "broken";
            }

            public float[] score(List<RewardSample> samples) {
                float[] out = new float[samples.size()];
                Arrays.fill(out, 1);
                for (int i = 0; i < out.length; i++) {
                    if (samples.get(i).index() != bad) continue;
                    switch (how) {
                        case "throw" -> throw new IllegalStateException("boom");
                        case "nan" -> out[i] = Float.NaN;
                        case "inf" -> out[i] = Float.POSITIVE_INFINITY;
                        case "null" -> {
                            return null;
                        }
                        case "short" -> {
                            return new float[out.length - 1];
                        }
                        default -> throw new AssertionError(how);
                    }
                }
                return out;
            }

            public boolean threadSafe() {
                return how.equals("nan");   // one on the pool, the others on the calling thread
            }
        };
    }

    @Test
    void aFailingFunctionStopsTheEvaluationNamingItAndTheSample() {
        List<RewardSample> s = new ArrayList<>(RewardFunctionsTest.samples(7, 40));
        // a long completion on the bad sample: the message shows ~200 characters of it, on one line
        RewardSample long17 = RewardSample.of(17, s.get(17).promptIds(), RewardFunctionsTest.ids(" " + "9".repeat(400) + "\nend", true),
                RewardFunctionsTest.TOK, s.get(17).task());
        s.set(17, long17);
        for (int threads : new int[] {1, 4})
            for (boolean perSample : new boolean[] {true, false})
                for (String how : perSample ? List.of("throw", "nan", "inf", "huge") : List.of("throw", "nan", "inf", "null", "short")) {
                    String tag = how + (perSample ? " per sample" : " batch") + " on " + threads + " threads";
                    try (CombinedReward c = new CombinedReward(List.of(new CombinedReward.Weighted(RewardFunctions.gold(), 1),
                            new CombinedReward.Weighted(broken(how, 17, perSample), 0.5)), threads)) {
                        RewardException e = assertThrows(RewardException.class, () -> c.score(s), tag);
                        String m = e.getMessage();
                        assertEquals("broken", e.function(), tag);
                        assertTrue(m.contains("reward function 'broken'"), tag + ": " + m);
                        assertFalse(m.contains("\n"), tag + ": " + m);
                        boolean named = perSample || !how.equals("throw") && !how.equals("null") && !how.equals("short");
                        if (named) {
                            // the very sample: its index, its prompt and its completion, cut
                            assertEquals(17, e.sampleIndex(), tag);
                            assertTrue(m.contains("sample 17 (prompt \"" + long17.prompt().replace("\n", "\\n") + "\""), tag + ": " + m);
                            assertTrue(m.contains("completion \" 999") && m.contains("... (405 chars)"), tag + ": " + m);
                            assertTrue(m.length() < 600, tag + ": " + m.length() + " chars");
                        } else {
                            // a batch that threw or returned no column: the function, the batch and its first sample
                            assertEquals(-1, e.sampleIndex(), tag);
                            assertTrue(m.contains(" samples, the first sample 0 (prompt"), tag + ": " + m);
                        }
                        if (how.equals("throw")) assertTrue(m.contains("boom") && e.getCause() instanceof IllegalStateException, tag + ": " + m);
                        if (how.equals("nan")) assertTrue(m.contains("returned NaN"), tag + ": " + m);
                        if (how.equals("null")) assertTrue(m.contains("returned null for 40 samples"), tag + ": " + m);
                        if (how.equals("short")) assertTrue(m.contains("returned 39 scores for 40 samples"), tag + ": " + m);
                    }
                }
        // several failing: the first function in order is reported, whatever finishes first
        try (CombinedReward c = new CombinedReward(List.of(new CombinedReward.Weighted(broken("nan", 30, true), 1),
                new CombinedReward.Weighted(new Renamed("second", broken("throw", 3, false)), 1)), 4)) {
            RewardException e = assertThrows(RewardException.class, () -> c.score(s));
            assertEquals("broken", e.function());
            assertEquals(30, e.sampleIndex());
        }
        // the gold reward on a sample without a task
        List<RewardSample> noTask = List.of(RewardSample.of(3, new int[] {1, 2}, RewardFunctionsTest.ids(" 1", true), RewardFunctionsTest.TOK, null));
        try (CombinedReward c = new CombinedReward(List.of(new CombinedReward.Weighted(RewardFunctions.gold(), 1)), 2)) {
            RewardException e = assertThrows(RewardException.class, () -> c.score(noTask));
            assertTrue(e.getMessage().contains("'gold' threw on sample 3") && e.getMessage().contains("has no task"), e.getMessage());
        }
    }

    /** {@code f} under another name. */
    record Renamed(String name, RewardFunction f) implements RewardFunction {
        public float[] score(List<RewardSample> samples) {
            return f.score(samples);
        }

        public boolean threadSafe() {
            return f.threadSafe();
        }
    }

    @Test
    void badCombinationsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new CombinedReward(List.of()));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CombinedReward.of(RewardFunctions.gold(), RewardFunctions.gold()))
                .getMessage().contains("'gold' appears twice"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new CombinedReward.Weighted(RewardFunctions.gold(), Double.NaN))
                .getMessage().contains("gold"));
        assertThrows(IllegalArgumentException.class, () -> new CombinedReward(List.of(new CombinedReward.Weighted(RewardFunctions.gold(), 1)), 0));
        assertThrows(IllegalArgumentException.class, () -> CombinedReward.of(RewardFunction.perSample("a/b", s -> 0)));
        assertThrows(IllegalArgumentException.class, () -> RewardFunction.perSample(" ", s -> 0));
        try (CombinedReward c = CombinedReward.of(RewardFunctions.gold())) {
            List<RewardSample> withNull = new ArrayList<>();
            withNull.add(null);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> c.score(withNull)).getMessage().contains("samples[0]"));
        }
    }

    // ------------------------------------------------------------------------------------------ RewardSpec

    @Test
    void specsParseToNamesArgumentsAndWeights() {
        RewardSpec s = RewardSpec.parse("gold,format:0.2,rm=runs/rm:0.5,length:-0.01");
        assertEquals(List.of(new RewardSpec.Item("gold", null, 1), new RewardSpec.Item("format", null, 0.2),
                new RewardSpec.Item("rm", "runs/rm", 0.5), new RewardSpec.Item("length", null, -0.01)), s.items());
        assertEquals("gold,format:0.2,rm=runs/rm:0.5,length:-0.01", s.toString());
        assertEquals(s, RewardSpec.parse(s.toString()));
        assertTrue(s.needsRewardModel());
        assertEquals(List.of("gold", "format", "rm", "length"), s.names());
        assertEquals(List.of(new RewardSpec.Item("rm", "/a:b/rm", 1)), RewardSpec.parse("rm=/a:b/rm").items());
        assertEquals(List.of(new RewardSpec.Item("rm", "/a:b/rm", 2)), RewardSpec.parse("rm=/a:b/rm:2").items());
        assertEquals(List.of(new RewardSpec.Item("gold", null, 0), new RewardSpec.Item("length", "8", -1e-2)),
                RewardSpec.parse(" gold:0 , length=8:-1e-2 ").items());
        assertEquals(List.of(new RewardSpec.Item("format", null, 0.5)), RewardSpec.parse("format:.5").items());
        assertFalse(RewardSpec.parse("gold").needsRewardModel());
    }

    @Test
    void badSpecsNameTheFlagAndTheItemOnOneLine() {
        Map<String, String> bad = new java.util.LinkedHashMap<>();
        bad.put("", "empty");
        bad.put("  ", "empty");
        bad.put("gold,,format", "item 2 is empty");
        bad.put("gold,", "item 2 is empty");
        bad.put("gold,fromat:0.2", "'fromat:0.2': unknown reward function 'fromat'");
        bad.put("gold:x", "'gold:x': the weight 'x' is not a number");
        bad.put("gold:1f", "'gold:1f': the weight '1f' is not a number");
        bad.put("gold:NaN", "'gold:NaN': the weight 'NaN' is not a number");
        bad.put("format:", "'format:': the weight after ':' is empty");
        bad.put("gold:1e999", "'gold:1e999': the weight '1e999' is not finite");
        bad.put("rm", "'rm': rm needs its model directory");
        bad.put("rm:0.5", "'rm:0.5': rm needs its model directory");
        bad.put("rm=", "'rm=': nothing after '=' (rm=DIR)");
        bad.put("rm=:2", "'rm=:2': nothing after '='");
        bad.put("rm=dir:", "'rm=dir:': the weight after ':' is empty");
        bad.put("gold=3", "'gold=3': gold takes no '=' argument");
        bad.put("length=abc", "'length=abc': length's target 'abc' is not a token count");
        bad.put("length=-3:1", "'length=-3:1': length's target '-3'");
        bad.put("gold,format,gold:2", "'gold:2': gold appears twice");
        bad.put("rm=a,rm=b", "'rm=b': rm appears twice");
        for (Map.Entry<String, String> e : bad.entrySet()) {
            String m = assertThrows(IllegalArgumentException.class, () -> RewardSpec.parse(e.getKey()), e.getKey()).getMessage();
            assertTrue(m.startsWith("--reward"), e.getKey() + ": " + m);
            assertTrue(m.contains(e.getValue()), e.getKey() + ": " + m);
            assertFalse(m.contains("\n"), e.getKey() + ": " + m);
        }
        assertThrows(IllegalArgumentException.class, () -> RewardSpec.parse(null));
    }

    @Test
    void buildLoadsTheRewardModelThroughTheContextAndOwnsIt() throws Exception {
        AtomicInteger closed = new AtomicInteger();
        List<Path> asked = new ArrayList<>();
        final class Fake implements RewardFunction, AutoCloseable {
            final String name;

            Fake(String name) {
                this.name = name;
            }

            public String name() {
                return name;
            }

            public float[] score(List<RewardSample> samples) {
                float[] out = new float[samples.size()];
                for (int i = 0; i < out.length; i++) out[i] = samples.get(i).completionIds().length;
                return out;
            }

            public void close() {
                closed.incrementAndGet();
            }
        }
        RewardSpec.Context ctx = dir -> {
            asked.add(dir);
            return new Fake("rm");
        };
        List<RewardSample> s = RewardFunctionsTest.samples(3, 20);
        try (CombinedReward c = RewardSpec.parse("gold,format:0.2,length=2:-0.5,rm=some/dir:0.1").build(ctx, 3)) {
            assertEquals(List.of(Path.of("some/dir")), asked);
            assertEquals(List.of("gold", "format", "length", "rm"), c.names());
            assertEquals(3, c.threads());
            CombinedReward.Result r = c.score(s);
            for (int j = 0; j < s.size(); j++) {
                RewardSample x = s.get(j);
                double want = RewardFunctions.gold().score(x) + 0.2 * RewardFunctions.format().score(x)
                        - 0.5 * Math.max(0, x.answerTokens() - 2) + 0.1 * x.completionIds().length;
                assertEquals((float) want, r.total()[j], 1e-6, "sample " + j);
            }
            assertEquals(0, closed.get());
        }
        assertEquals(1, closed.get(), "the loaded reward model is closed with the reward");
        // without rm nothing is loaded; Context.none() refuses rm
        try (CombinedReward c = RewardSpec.parse("gold").build(RewardSpec.Context.none(), 1)) {
            assertEquals(List.of("gold"), c.names());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RewardSpec.parse("rm=x").build(RewardSpec.Context.none(), 1))
                .getMessage().contains("--reward"));
        // a failed load names the item
        RewardSpec.Context failing = dir -> {
            throw new IOException(dir + " does not exist");
        };
        String m = assertThrows(IOException.class, () -> RewardSpec.parse("gold,rm=nowhere:2").build(failing, 1)).getMessage();
        assertTrue(m.startsWith("--reward: 'rm=nowhere:2': nowhere does not exist"), m);
        // a reward model that cannot join (a bad name) is closed before the error
        closed.set(0);
        assertThrows(IllegalArgumentException.class, () -> RewardSpec.parse("gold,rm=d").build(dir -> new Fake("a/b"), 1));
        assertEquals(1, closed.get());
    }
}
