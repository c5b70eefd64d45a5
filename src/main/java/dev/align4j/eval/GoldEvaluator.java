package dev.align4j.eval;

import dev.align4j.data.Encoder;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Responses;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Gold evaluation of a policy on the built-in tasks, and the mode-collapse measurements of the lecture's section 3.
 *
 * <p><b>{@link #evaluate}</b> (greedy): every prompt is encoded by the {@link Encoder} (as in training),
 * greedily decoded in batches, the response decoded up to EOS and judged. <b>A response is correct when it ended
 * with EOS within {@code maxNewTokens} and {@link Task#check} accepts its text.</b> Confidence of a response =
 * {@code exp(Σ log-probs of its generated tokens, EOS included)} — the policy's probability of the whole
 * response; its expected calibration error against correctness uses 10 equal-width bins.
 *
 * <p><b>{@link #sample}</b> (temperature 1, seeded): m samples per prompt; distinct-1/2 over the m samples' token
 * ids (EOS excluded) of each prompt, averaged over prompts (a collapsed policy repeats itself: distinct-n falls);
 * the share of distinct response texts per prompt; the mean entropy (nats) of the policy over all sampled
 * response positions, EOS included (from a fresh forward, see {@link Responses#entropies}); and the sample accuracy.
 *
 * <p>Both run forwards on the model (its activations are overwritten): call them between training steps.
 */
public final class GoldEvaluator {
    /** Bins of the expected calibration error. */
    public static final int ECE_BINS = 10;
    private final Encoder encoder;
    private final int batchSize, maxNewTokens, keepSamples;

    /**
     * @param encoder      tokenises prompts (its tokenizer's EOS stops generation)
     * @param batchSize    prompts per generation batch (≥ 1)
     * @param maxNewTokens generation limit (≥ 1; must exceed the longest answer in tokens, 16 suits byte-level)
     */
    public GoldEvaluator(Encoder encoder, int batchSize, int maxNewTokens) {
        if (encoder == null) throw new IllegalArgumentException("encoder must not be null");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        this.encoder = encoder;
        this.batchSize = batchSize;
        this.maxNewTokens = maxNewTokens;
        this.keepSamples = 8;
    }

    /** One judged response. */
    public record Sample(String family, String prompt, String response, boolean correct) {}

    /**
     * Greedy gold evaluation.
     *
     * @param n                  tasks evaluated
     * @param accuracy           share correct
     * @param familyAccuracy     accuracy per family (sorted by name)
     * @param familyCount        tasks per family
     * @param meanResponseTokens mean tokens per response before EOS
     * @param eosRate            share of responses that ended with EOS
     * @param meanConfidence     mean of exp(Σ response log-probs)
     * @param ece                expected calibration error of that confidence against correctness ({@value #ECE_BINS} bins)
     * @param samples            the first few judged responses, for a look
     * @param scores             each task's gold score (0 for a response without EOS), in task order: what
     *                           {@link WinRate#ofScores} compares, so a win rate needs no second generation
     * @param responses          each task's greedy response text, in task order
     */
    public record Report(int n, double accuracy, Map<String, Double> familyAccuracy, Map<String, Integer> familyCount,
                         double meanResponseTokens, double eosRate, double meanConfidence, double ece,
                         List<Sample> samples, List<Double> scores, List<String> responses) {
        /** Flat metrics for JSONL: {@code <prefix>accuracy}, {@code <prefix>accuracy/<family>}, ... */
        public Map<String, Double> metrics(String prefix) {
            Map<String, Double> m = prefixed(prefix, List.of("accuracy"), accuracy);
            familyAccuracy.forEach((f, a) -> m.put(prefix + "accuracy/" + f, a));
            m.putAll(prefixed(prefix, List.of("response_tokens", "eos_rate", "confidence", "ece"), meanResponseTokens, eosRate,
                    meanConfidence, ece));
            return m;
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(String.format(
                    "gold accuracy %.3f on %d (eos %.3f, %.2f tokens, confidence %.3f, ECE %.3f)", accuracy, n, eosRate,
                    meanResponseTokens, meanConfidence, ece));
            familyAccuracy.forEach((f, a) -> sb.append(String.format(" %s=%.2f", f, a)));
            return sb.toString();
        }
    }

    /**
     * Sampling-mode measurements (see the class comment).
     *
     * @param prompts          tasks sampled
     * @param samplesPerPrompt m
     * @param distinct1        distinct-1 over each prompt's m samples, averaged over prompts with ≥ 1 token
     * @param distinct2        distinct-2 likewise (prompts whose samples hold a bigram)
     * @param uniqueResponses  distinct response texts / m, averaged over prompts
     * @param meanEntropy      mean policy entropy (nats) over all sampled response positions, EOS included
     * @param sampleAccuracy   share of the samples that are correct (the gold score under sampling)
     * @param eosRate          share of samples that ended with EOS
     * @param taskAccuracy     per prompt, the share of its m samples that are correct (for paired comparisons)
     * @param familyAccuracy   the sample accuracy per family (sorted by name)
     */
    public record Diversity(int prompts, int samplesPerPrompt, double distinct1, double distinct2, double uniqueResponses,
                            double meanEntropy, double sampleAccuracy, double eosRate, List<Double> taskAccuracy,
                            Map<String, Double> familyAccuracy) {
        /** Flat metrics for JSONL: {@code <prefix>distinct1}, ..., {@code <prefix>sample_accuracy/<family>}. */
        public Map<String, Double> metrics(String prefix) {
            Map<String, Double> m = prefixed(prefix, List.of("distinct1", "distinct2", "unique_responses", "entropy", "sample_accuracy",
                    "sample_eos_rate"), distinct1, distinct2, uniqueResponses, meanEntropy, sampleAccuracy, eosRate);
            familyAccuracy.forEach((f, a) -> m.put(prefix + "sample_accuracy/" + f, a));
            return m;
        }

        @Override
        public String toString() {
            return String.format("sampled %dx%d: distinct-1 %.3f, distinct-2 %.3f, unique %.3f, entropy %.3f nats, "
                            + "accuracy %.3f, eos %.3f", prompts, samplesPerPrompt, distinct1, distinct2, uniqueResponses,
                    meanEntropy, sampleAccuracy, eosRate);
        }
    }

    /** {@code prefix + names[i]} to {@code values[i]}, in order (a metrics line's keys). */
    private static Map<String, Double> prefixed(String prefix, List<String> names, double... values) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) m.put(prefix + names.get(i), values[i]);
        return m;
    }

    /** Greedy gold evaluation of {@code model} on {@code tasks} (non-empty). */
    public Report evaluate(CausalLm model, List<Task> tasks) {
        if (tasks == null || tasks.isEmpty()) throw new IllegalArgumentException("tasks must not be null or empty");
        List<Responses.Response> rs = Responses.generate(model, encoder, prompts(tasks), batchSize, maxNewTokens, 0, 0, false);
        int n = tasks.size();
        double[] conf = new double[n], scores = new double[n];
        boolean[] ok = new boolean[n];
        Map<String, double[]> fam = new TreeMap<>();   // family → {correct, count}
        List<Sample> samples = new ArrayList<>();
        long tokens = 0;
        int eos = 0, correct = 0;
        for (int i = 0; i < n; i++) {
            Task t = tasks.get(i);
            Responses.Response r = rs.get(i);
            ok[i] = r.endedWithEos() && t.check(r.text());
            conf[i] = r.confidence();
            scores[i] = r.endedWithEos() ? t.score(r.text()) : 0;
            tokens += r.answerTokens();
            if (r.endedWithEos()) eos++;
            if (ok[i]) correct++;
            double[] c = fam.computeIfAbsent(t.family(), f -> new double[2]);
            c[0] += ok[i] ? 1 : 0;
            c[1]++;
            if (samples.size() < keepSamples) samples.add(new Sample(t.family(), t.prompt(), r.text(), ok[i]));
        }
        Map<String, Integer> famCount = new LinkedHashMap<>();
        fam.forEach((f, c) -> famCount.put(f, (int) c[1]));
        return new Report(n, (double) correct / n, familyShares(fam), famCount, (double) tokens / n, (double) eos / n,
                Metrics.mean(conf), Metrics.expectedCalibrationError(conf, ok, ECE_BINS), List.copyOf(samples),
                java.util.Arrays.stream(scores).boxed().toList(),
                rs.stream().map(Responses.Response::text).toList());
    }

    /** Sampling-mode evaluation: {@code m} samples per prompt at temperature 1 with {@code seed}. */
    public Diversity sample(CausalLm model, List<Task> tasks, int m, long seed) {
        if (tasks == null || tasks.isEmpty()) throw new IllegalArgumentException("tasks must not be null or empty");
        if (m < 1) throw new IllegalArgumentException("m (samples per prompt) must be >= 1, got " + m);
        List<String> prompts = new ArrayList<>(tasks.size() * m);
        for (Task t : tasks)
            for (int j = 0; j < m; j++) prompts.add(t.prompt());
        List<Responses.Response> rs = Responses.generate(model, encoder, prompts, batchSize, maxNewTokens, 1.0, seed, true);
        double d1 = 0, d2 = 0, unique = 0, entSum = 0;
        int n1 = 0, n2 = 0, correct = 0, eos = 0;
        long entCount = 0;
        List<Double> taskAccuracy = new ArrayList<>(tasks.size());
        Map<String, double[]> fam = new TreeMap<>();   // family → {correct samples, samples}
        for (int i = 0; i < tasks.size(); i++) {
            List<int[]> ids = new ArrayList<>(m);
            java.util.Set<String> texts = new java.util.HashSet<>();
            int right = 0;
            for (int j = 0; j < m; j++) {
                Responses.Response r = rs.get(i * m + j);
                ids.add(r.answerIds());
                texts.add(r.text());
                if (r.endedWithEos()) eos++;
                if (r.endedWithEos() && tasks.get(i).check(r.text())) right++;
                for (float e : r.entropies()) {
                    entSum += e;
                    entCount++;
                }
            }
            double a = Metrics.distinctN(ids, 1), b = Metrics.distinctN(ids, 2);
            if (!Double.isNaN(a)) {
                d1 += a;
                n1++;
            }
            if (!Double.isNaN(b)) {
                d2 += b;
                n2++;
            }
            unique += (double) texts.size() / m;
            correct += right;
            taskAccuracy.add((double) right / m);
            double[] f = fam.computeIfAbsent(tasks.get(i).family(), k -> new double[2]);
            f[0] += right;
            f[1] += m;
        }
        int total = tasks.size() * m;
        return new Diversity(tasks.size(), m, n1 == 0 ? Double.NaN : d1 / n1, n2 == 0 ? Double.NaN : d2 / n2,
                unique / tasks.size(), entCount == 0 ? Double.NaN : entSum / entCount, (double) correct / total,
                (double) eos / total, List.copyOf(taskAccuracy), familyShares(fam));
    }

    /** {@code family → correct / total} of each family's {correct, total}, in the map's order. */
    private static Map<String, Double> familyShares(Map<String, double[]> counts) {
        Map<String, Double> out = new LinkedHashMap<>();
        counts.forEach((f, c) -> out.put(f, c[0] / c[1]));
        return out;
    }

    private static List<String> prompts(List<Task> tasks) {
        List<String> p = new ArrayList<>(tasks.size());
        for (Task t : tasks) p.add(t.prompt());
        return p;
    }
}
