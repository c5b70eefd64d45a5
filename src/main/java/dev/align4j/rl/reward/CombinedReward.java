package dev.align4j.rl.reward;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Several reward functions with weights, TRL's {@code reward_funcs} and {@code reward_weights}: the reward of a
 * sample is {@code Σ_i w_i · r_i} (summed in double, in the functions' order, then rounded to float), and each
 * function's column is kept for the metrics ({@code rewards/<name>/mean}, {@link Result#metrics}).
 *
 * <p><b>Parallel evaluation.</b> A {@link RewardFunction#threadSafe thread-safe} function's batch is cut into
 * contiguous parts, one per thread of this object's pool, scored at once; every other function (a reward model)
 * is called once with the whole batch on the calling thread, meanwhile. The result does not depend on the number
 * of threads: each sample's score comes from the same function of that sample, and the sum's order is fixed.
 *
 * <p><b>Nothing is averaged over silently.</b> A function that throws, returns null or the wrong number of scores,
 * or a NaN or infinite score stops the evaluation with a {@link RewardException} naming the function and the
 * sample (its index, prompt and completion, cut to ~200 characters). A function of one sample at a time
 * ({@link PerSampleReward}) is called per sample, so its error names the very sample; a batch function that throws
 * is named with its batch. When several fail, the first function in order (then the first sample) is reported.
 *
 * <p>Closing shuts the pool down and closes the functions this object owns (those {@link RewardSpec#build} loaded);
 * functions passed in stay the caller's.
 */
public final class CombinedReward implements AutoCloseable {
    /** One function and its weight (TRL's {@code reward_weights} entry; any finite value, 0 logs it only). */
    public record Weighted(RewardFunction function, double weight) {
        public Weighted {
            if (function == null) throw new IllegalArgumentException("function must not be null");
            if (!Double.isFinite(weight)) throw new IllegalArgumentException("weight of '" + function.name() + "' must be finite, got " + weight);
        }
    }

    private static final AtomicInteger POOLS = new AtomicInteger();
    private final List<Weighted> functions;
    private final List<String> names;
    private final int threads;
    private final List<AutoCloseable> owned;
    private ExecutorService pool;

    /** {@code functions} on as many threads as the machine has processors. */
    public CombinedReward(List<Weighted> functions) {
        this(functions, Runtime.getRuntime().availableProcessors());
    }

    /** {@code functions}, thread-safe ones on {@code threads} threads (1: everything on the calling thread). */
    public CombinedReward(List<Weighted> functions, int threads) {
        this(functions, threads, List.of());
    }

    CombinedReward(List<Weighted> functions, int threads, List<AutoCloseable> owned) {
        if (functions == null || functions.isEmpty()) throw new IllegalArgumentException("functions must not be null or empty");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        Set<String> seen = new HashSet<>();
        List<String> ns = new ArrayList<>();
        for (int i = 0; i < functions.size(); i++) {
            Weighted w = functions.get(i);
            if (w == null) throw new IllegalArgumentException("functions[" + i + "] must not be null");
            String n = w.function().name();
            if (n == null || n.isBlank() || n.contains("/"))
                throw new IllegalArgumentException("functions[" + i + "] has the name '" + n + "': names must be non-blank without '/'");
            if (!seen.add(n)) throw new IllegalArgumentException("reward function name '" + n + "' appears twice");
            ns.add(n);
        }
        this.functions = List.copyOf(functions);
        this.names = List.copyOf(ns);
        this.threads = threads;
        this.owned = List.copyOf(owned);
    }

    /** The functions with weight 1 each. */
    public static CombinedReward of(RewardFunction... functions) {
        List<Weighted> w = new ArrayList<>();
        for (RewardFunction f : functions) w.add(new Weighted(f, 1));
        return new CombinedReward(w);
    }

    public List<Weighted> functions() {
        return functions;
    }

    /** The functions' names, in order. */
    public List<String> names() {
        return names;
    }

    public int threads() {
        return threads;
    }

    /**
     * The scores of one batch.
     *
     * @param names   the functions' names, in order
     * @param weights their weights
     * @param columns {@code columns[i][j]}: function i's score of sample j
     * @param total   {@code Σ_i weights[i] · columns[i][j]} per sample
     */
    public record Result(List<String> names, double[] weights, float[][] columns, float[] total) {
        /** The column of the function named {@code name}. */
        public float[] column(String name) {
            int i = names.indexOf(name);
            if (i < 0) throw new IllegalArgumentException("no reward function named '" + name + "' in " + names);
            return columns[i];
        }

        /**
         * TRL's metric names: {@code reward} (mean total), and per function {@code rewards/<name>/mean} and
         * {@code rewards/<name>/std} (sample standard deviation, n − 1; 0 for one sample) of its unweighted scores.
         * Empty for an empty batch.
         */
        public Map<String, Double> metrics() {
            Map<String, Double> m = new LinkedHashMap<>();
            if (total.length == 0) return m;
            m.put("reward", mean(total));
            for (int i = 0; i < names.size(); i++) {
                m.put("rewards/" + names.get(i) + "/mean", mean(columns[i]));
                m.put("rewards/" + names.get(i) + "/std", std(columns[i]));
            }
            return m;
        }

        private static double mean(float[] x) {
            double s = 0;
            for (float v : x) s += v;
            return s / x.length;
        }

        private static double std(float[] x) {
            if (x.length < 2) return 0;
            double mu = mean(x), s = 0;
            for (float v : x) s += (v - mu) * (v - mu);
            return Math.sqrt(s / (x.length - 1));
        }
    }

    /** Every function's scores of {@code samples} and their weighted sum (see the class comment). */
    public Result score(List<RewardSample> samples) {
        if (samples == null) throw new IllegalArgumentException("samples must not be null");
        for (int j = 0; j < samples.size(); j++)
            if (samples.get(j) == null) throw new IllegalArgumentException("samples[" + j + "] must not be null");
        int n = samples.size(), f = functions.size();
        float[][] cols = new float[f][];
        RuntimeException[] errors = new RuntimeException[f];
        // thread-safe functions: contiguous parts on the pool
        int parts = Math.min(threads, n);
        List<List<Future<float[]>>> futures = new ArrayList<>(f);
        for (int i = 0; i < f; i++) {
            RewardFunction fn = functions.get(i).function();
            List<Future<float[]>> fs = new ArrayList<>();
            if (fn.threadSafe() && parts > 1) {
                ExecutorService p = pool();
                for (int k = 0; k < parts; k++) {
                    int from = (int) ((long) n * k / parts), to = (int) ((long) n * (k + 1) / parts);
                    List<RewardSample> part = samples.subList(from, to);
                    fs.add(p.submit(() -> evaluate(fn, part)));
                }
            }
            futures.add(fs);
        }
        // the rest on this thread, meanwhile
        for (int i = 0; i < f; i++) {
            if (!futures.get(i).isEmpty()) continue;
            try {
                cols[i] = evaluate(functions.get(i).function(), samples);
            } catch (RuntimeException e) {
                errors[i] = e;
            }
        }
        Error fatal = null;
        for (int i = 0; i < f; i++) {
            List<Future<float[]>> fs = futures.get(i);
            if (fs.isEmpty()) continue;
            float[] col = new float[n];
            int at = 0;
            for (Future<float[]> fu : fs) {
                try {
                    float[] part = fu.get();   // evaluate() checked its length
                    System.arraycopy(part, 0, col, at, part.length);
                    at += part.length;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof RuntimeException r) {
                        if (errors[i] == null) errors[i] = r;
                    } else if (c instanceof Error err) {
                        if (fatal == null) fatal = err;
                    } else if (errors[i] == null) {
                        errors[i] = new IllegalStateException(c);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while scoring rewards", e);
                }
            }
            cols[i] = col;
        }
        if (fatal != null) throw fatal;
        for (RuntimeException e : errors) if (e != null) throw e;
        double[] w = new double[f];
        for (int i = 0; i < f; i++) w[i] = functions.get(i).weight();
        float[] total = new float[n];
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int i = 0; i < f; i++) s += w[i] * cols[i][j];
            total[j] = (float) s;
        }
        return new Result(names, w, cols, total);
    }

    /** {@code fn}'s scores of {@code samples}, checked; failures as {@link RewardException}s naming fn and the sample. */
    private static float[] evaluate(RewardFunction fn, List<RewardSample> samples) {
        String name = fn.name();
        int n = samples.size();
        if (fn instanceof PerSampleReward p) {
            float[] out = new float[n];
            for (int j = 0; j < n; j++) {
                RewardSample s = samples.get(j);
                double v;
                try {
                    v = p.score(s);
                } catch (RuntimeException e) {
                    throw new RewardException(name, s.index(), "reward function '" + name + "' threw on " + s.describe() + ": " + e, e);
                }
                out[j] = (float) v;
                if (!Float.isFinite(out[j]))
                    throw new RewardException(name, s.index(), "reward function '" + name + "' returned " + v + " for " + s.describe(), null);
            }
            return out;
        }
        if (n == 0) return new float[0];
        float[] out;
        try {
            out = fn.score(samples);
        } catch (RuntimeException e) {
            throw new RewardException(name, -1, "reward function '" + name + "' threw on a batch of " + n + " samples, the first "
                    + samples.get(0).describe() + ": " + e, e);
        }
        if (out == null || out.length != n)
            throw new RewardException(name, -1, "reward function '" + name + "' returned " + (out == null ? "null" : out.length + " scores")
                    + " for " + n + " samples, the first " + samples.get(0).describe(), null);
        for (int j = 0; j < n; j++)
            if (!Float.isFinite(out[j]))
                throw new RewardException(name, samples.get(j).index(), "reward function '" + name + "' returned " + out[j] + " for "
                        + samples.get(j).describe(), null);
        return out.clone();
    }

    private synchronized ExecutorService pool() {
        if (pool == null) {
            int id = POOLS.incrementAndGet();
            AtomicInteger t = new AtomicInteger();
            pool = Executors.newFixedThreadPool(threads, r -> {
                Thread th = new Thread(r, "align4j-reward-" + id + "-" + t.incrementAndGet());
                th.setDaemon(true);
                return th;
            });
        }
        return pool;
    }

    /** Shuts the pool down and closes the functions this object owns. */
    @Override
    public void close() {
        synchronized (this) {
            if (pool != null) pool.shutdownNow();
            pool = null;
        }
        RuntimeException first = null;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
            }
        }
        if (first != null) throw first;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Weighted w : functions) sb.append(sb.length() == 0 ? "" : ",").append(w.function().name()).append(':').append(w.weight());
        return "CombinedReward[" + sb + "]";
    }
}
