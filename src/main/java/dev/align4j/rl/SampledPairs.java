package dev.align4j.rl;

import dev.align4j.data.Encoder;
import dev.align4j.data.PreferencePair;
import dev.align4j.data.tasks.Task;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Responses;
import dev.align4j.train.ProgressListener;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;

/**
 * On-policy preference pairs for the built-in tasks, ranked by the gold checker: sample {@code k} responses per
 * prompt from the policy, judge each, and pair a correct one (chosen) with an incorrect one (rejected).
 *
 * <p><b>Rules.</b> A sample is <i>correct</i> when it ended with EOS within {@code maxNewTokens} and
 * {@link Task#check} accepts its text; anything else is incorrect (a response that never stops is not an answer).
 * An incorrect sample with empty text (EOS first) cannot be a {@link PreferencePair} side and is not used as
 * rejected. Per prompt with both kinds: {@code pairsPerPrompt} = 1 (the default) gives ONE pair, chosen and rejected
 * drawn uniformly (seeded) among the correct and the usable incorrect samples; {@code pairsPerPrompt} = m > 1 gives
 * one pair for each of up to m <i>distinct</i> incorrect texts (a seeded shuffle picks which when there are more),
 * each against a correct text drawn uniformly among the distinct correct ones — more comparisons from the same
 * samples, and no pair repeated (a reward model trained on every distinct wrong answer of 8 samples per prompt
 * ranks the policy's own samples far better than one trained on one pair per prompt; see the README). A prompt whose samples are all correct gives a pair only with
 * {@link Options#corruptionWhenAllCorrect} (rejected: a corruption of the task); one whose samples are all wrong
 * only with {@link Options#goldWhenAllWrong} (chosen: the gold answer). Every outcome is counted in
 * {@link Result}. The rejected text of a sample that did not stop is used as is (the Encoder appends EOS).
 */
public final class SampledPairs {
    private SampledPairs() {}

    /**
     * @param samplesPerPrompt         k ≥ 2 samples per prompt
     * @param temperature              sampling temperature (> 0; 1 = the policy itself)
     * @param maxNewTokens             generation limit per sample (must exceed the longest answer)
     * @param batchSize                rows per generation batch (prompts × k are cut into batches of this size)
     * @param goldWhenAllWrong         all samples wrong: pair the gold answer against a wrong sample
     * @param corruptionWhenAllCorrect all samples right: pair a correct sample against a corruption
     * @param pairsPerPrompt           at most this many pairs per prompt with both kinds (distinct rejected texts)
     */
    public record Options(int samplesPerPrompt, double temperature, int maxNewTokens, int batchSize,
                          boolean goldWhenAllWrong, boolean corruptionWhenAllCorrect, int pairsPerPrompt) {
        /** One pair per prompt. */
        public Options(int samplesPerPrompt, double temperature, int maxNewTokens, int batchSize, boolean goldWhenAllWrong,
                       boolean corruptionWhenAllCorrect) {
            this(samplesPerPrompt, temperature, maxNewTokens, batchSize, goldWhenAllWrong, corruptionWhenAllCorrect, 1);
        }

        public Options {
            if (pairsPerPrompt < 1) throw new IllegalArgumentException("pairsPerPrompt must be >= 1, got " + pairsPerPrompt);
            if (samplesPerPrompt < 2) throw new IllegalArgumentException("samplesPerPrompt must be >= 2, got " + samplesPerPrompt);
            if (!(temperature > 0) || Double.isInfinite(temperature))
                throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
            if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
            if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }

        /** k = 4, temperature 1, 16 new tokens, batches of 64 rows, no fallbacks, one pair per prompt. */
        public static Options defaults() {
            return new Options(4, 1.0, 16, 64, false, false, 1);
        }

        public Options withFallbacks(boolean goldWhenAllWrong, boolean corruptionWhenAllCorrect) {
            return new Options(samplesPerPrompt, temperature, maxNewTokens, batchSize, goldWhenAllWrong, corruptionWhenAllCorrect,
                    pairsPerPrompt);
        }

        public Options withSamples(int k) {
            return new Options(k, temperature, maxNewTokens, batchSize, goldWhenAllWrong, corruptionWhenAllCorrect, pairsPerPrompt);
        }

        public Options withPairsPerPrompt(int m) {
            return new Options(samplesPerPrompt, temperature, maxNewTokens, batchSize, goldWhenAllWrong, corruptionWhenAllCorrect, m);
        }
    }

    /**
     * @param pairs       the pairs, in task order
     * @param prompts     tasks sampled
     * @param mixed       prompts with a correct and a usable incorrect sample (1 to pairsPerPrompt sampled pairs each)
     * @param allCorrect  prompts whose k samples were all correct
     * @param allWrong    prompts whose k samples were all incorrect
     * @param noUsableRejected prompts with a correct sample whose incorrect samples were all empty
     * @param fallbackPairs pairs made by a fallback option (gold chosen or corruption rejected)
     * @param sampleAccuracy share of all samples that were correct
     */
    public record Result(List<PreferencePair> pairs, int prompts, int mixed, int allCorrect, int allWrong,
                         int noUsableRejected, int fallbackPairs, double sampleAccuracy) {
        @Override
        public String toString() {
            return String.format("%d pairs from %d prompts (mixed %d, all correct %d, all wrong %d, "
                            + "no usable rejected %d, fallback pairs %d, sample accuracy %.3f)", pairs.size(), prompts,
                    mixed, allCorrect, allWrong, noUsableRejected, fallbackPairs, sampleAccuracy);
        }
    }

    /** Samples, judges and pairs (see the class comment); deterministic for a seed. */
    public static Result build(CausalLm policy, Encoder encoder, List<Task> tasks, Options options, long seed) {
        return build(policy, encoder, tasks, options, seed, ProgressListener.NONE);
    }

    /** As {@link #build(CausalLm, Encoder, List, Options, long)}, telling {@code progress} after each generation batch. */
    public static Result build(CausalLm policy, Encoder encoder, List<Task> tasks, Options options, long seed,
                               ProgressListener progress) {
        if (tasks == null) throw new IllegalArgumentException("tasks must not be null");
        if (options == null) throw new IllegalArgumentException("options must not be null");
        int k = options.samplesPerPrompt();
        List<String> prompts = new ArrayList<>(tasks.size() * k);
        for (Task t : tasks)
            for (int j = 0; j < k; j++) prompts.add(t.prompt());
        List<Responses.Response> rs = Responses.generate(policy, encoder, prompts, options.batchSize(),
                options.maxNewTokens(), options.temperature(), seed, false, progress);
        Random rnd = new Random(seed ^ 0x5DEECE66DL);
        List<PreferencePair> pairs = new ArrayList<>();
        int mixed = 0, allCorrect = 0, allWrong = 0, noRejected = 0, fallback = 0;
        long correctSamples = 0;
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            List<String> good = new ArrayList<>(), bad = new ArrayList<>();
            int wrong = 0;
            for (int j = 0; j < k; j++) {
                Responses.Response r = rs.get(i * k + j);
                if (r.endedWithEos() && t.check(r.text())) good.add(r.text());
                else {
                    wrong++;
                    if (!r.text().isEmpty()) bad.add(r.text());
                }
            }
            correctSamples += good.size();
            if (good.isEmpty()) {
                allWrong++;
                if (options.goldWhenAllWrong() && !bad.isEmpty()) {
                    pairs.add(new PreferencePair(t.prompt(), t.answer(), pick(bad, rnd), t.origin() + ":gold-vs-sample"));
                    fallback++;
                }
            } else if (wrong == 0) {
                allCorrect++;
                if (options.corruptionWhenAllCorrect()) {
                    pairs.add(new PreferencePair(t.prompt(), pick(good, rnd), pick(t.corruptions(), rnd),
                            t.origin() + ":sample-vs-corruption"));
                    fallback++;
                }
            } else if (bad.isEmpty()) {
                noRejected++;
            } else {
                mixed++;
                if (options.pairsPerPrompt() == 1) {
                    pairs.add(new PreferencePair(t.prompt(), pick(good, rnd), pick(bad, rnd), t.origin() + ":sampled"));
                } else {
                    List<String> goodTexts = new ArrayList<>(new LinkedHashSet<>(good)), badTexts = new ArrayList<>(new LinkedHashSet<>(bad));
                    Collections.shuffle(badTexts, rnd);
                    for (int q = 0; q < Math.min(options.pairsPerPrompt(), badTexts.size()); q++)
                        pairs.add(new PreferencePair(t.prompt(), pick(goodTexts, rnd), badTexts.get(q), t.origin() + ":sampled"));
                }
            }
        }
        double acc = tasks.isEmpty() ? Double.NaN : (double) correctSamples / ((long) tasks.size() * k);
        return new Result(List.copyOf(pairs), tasks.size(), mixed, allCorrect, allWrong, noRejected, fallback, acc);
    }

    private static String pick(List<String> xs, Random rnd) {
        return xs.get(rnd.nextInt(xs.size()));
    }
}
