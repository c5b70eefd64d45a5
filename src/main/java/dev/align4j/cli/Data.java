package dev.align4j.cli;

import dev.align4j.data.Datasets;
import dev.align4j.data.Encoder;
import dev.align4j.data.PreferencePair;
import dev.align4j.data.ReadOptions;
import dev.align4j.data.ReadResult;
import dev.align4j.data.SftExample;
import dev.align4j.data.TokenizedPair;
import dev.align4j.data.TokenizedSft;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.model.CausalLm;
import dev.align4j.rl.SampledPairs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** Reading, splitting and encoding the commands' data. */
final class Data {
    private Data() {}

    /** The two parts of a held-out split. */
    record Split2<T>(List<T> train, List<T> eval) {}

    static ReadOptions readOptions(DataOptions d) {
        ReadOptions o = d.skipBad ? ReadOptions.skippingBad() : ReadOptions.defaults();
        return d.maxRecords > 0 ? o.withMaxRecords(d.maxRecords) : o;
    }

    static List<SftExample> readSft(BaseCommand cmd, Path file, String format, DataOptions d) throws IOException {
        BaseCommand.requireFile(file, "--data");
        Datasets.SftFormat f = Datasets.SftFormat.parse(format);
        ReadResult<SftExample> r = Datasets.readSft(file, f, readOptions(d));
        report(cmd, r, d.skipBad);
        if (r.items().isEmpty()) throw CliException.usage("--data " + file + ": no examples (" + r.report() + ")");
        return r.items();
    }

    static List<PreferencePair> readPairs(BaseCommand cmd, DataOptions d) throws IOException {
        BaseCommand.requireFile(d.data, "--data");
        Datasets.PairFormat f = Datasets.PairFormat.parse(d.format);
        ReadResult<PreferencePair> r = Datasets.readPairs(d.data, f, readOptions(d));
        report(cmd, r, d.skipBad);
        if (r.items().isEmpty()) throw CliException.usage("--data " + d.data + ": no preference pairs (" + r.report() + ")");
        return r.items();
    }

    /** With --skip-bad the counts always show (also under --quiet: they say what was left out). */
    private static void report(BaseCommand cmd, ReadResult<?> r, boolean skipBad) {
        if (skipBad) cmd.out().println(cmd.name() + ": read " + r.report());
        else cmd.info("read %s", r.report());
    }

    static TaskSuite suite(DataOptions d) {
        TaskSuite s = TaskSuite.level(d.level);
        return d.families == null || d.families.isEmpty() ? s : s.only(d.families.toArray(new String[0]));
    }

    /** {@code n} train-split tasks and {@code round(n·holdout)} (at least 1 when holdout > 0) test-split ones. */
    static Split2<Task> tasks(DataOptions d, int n, double holdout, long seed) {
        TaskSuite s = suite(d);
        List<Task> train = s.generate(n, seed + 1, Split.TRAIN);
        List<Task> eval = holdout > 0 ? s.generate(Math.max(1, (int) Math.round(n * holdout)), seed + 2, Split.TEST) : List.of();
        return new Split2<>(train, eval);
    }

    /** A seeded shuffle of {@code items}, the last {@code round(n·holdout)} (at least 1 when holdout > 0 and n > 1) held out. */
    static <T> Split2<T> split(List<T> items, double holdout, long seed) {
        List<T> all = new ArrayList<>(items);
        if (holdout <= 0 || all.size() < 2) return new Split2<>(all, List.of());
        Collections.shuffle(all, new Random(seed));
        int k = Math.min(all.size() - 1, Math.max(1, (int) Math.round(all.size() * holdout)));
        return new Split2<>(List.copyOf(all.subList(0, all.size() - k)), List.copyOf(all.subList(all.size() - k, all.size())));
    }

    static List<TokenizedSft> encodeSft(Encoder enc, List<SftExample> xs) {
        List<TokenizedSft> out = new ArrayList<>(xs.size());
        for (SftExample x : xs) {
            try {
                out.addAll(enc.encodeAll(x));
            } catch (IllegalArgumentException e) { // a chat template that cannot render or locate a reply
                throw CliException.usage(e.getMessage());
            }
        }
        return out;
    }

    static List<TokenizedPair> encodePairs(Encoder enc, List<PreferencePair> xs) {
        List<TokenizedPair> out = new ArrayList<>(xs.size());
        for (PreferencePair x : xs) out.add(enc.encode(x));
        return out;
    }

    /**
     * Preference pairs: from --data (split by --holdout), or with --tasks sampled from {@code policy} and ranked by
     * the gold checker ({@link SampledPairs}, both fallbacks on, so a prompt whose samples are all right or all wrong
     * still gives a pair), the held-out ones from test-split tasks.
     */
    static Split2<TokenizedPair> pairs(BaseCommand cmd, DataOptions d, double holdout, long seed, CausalLm policy, Encoder enc,
                                       int samples, int pairsPerPrompt, int maxNew) throws IOException {
        d.requireSource();
        if (d.data != null) {
            Split2<PreferencePair> s = split(readPairs(cmd, d), holdout, seed);
            return new Split2<>(encodePairs(enc, s.train()), encodePairs(enc, s.eval()));
        }
        Split2<Task> t = tasks(d, d.tasks, holdout, seed);
        if (pairsPerPrompt < 1) throw CliException.usage("--pairs-per-prompt must be >= 1, got " + pairsPerPrompt);
        SampledPairs.Options o = new SampledPairs.Options(samples, 1.0, maxNew, 64, true, true, pairsPerPrompt);
        SampledPairs.Result train = SampledPairs.build(policy, enc, t.train(), o, seed + 3);
        cmd.info("pairs sampled from the policy: %s", train);
        List<TokenizedPair> eval = List.of();
        if (!t.eval().isEmpty()) {
            SampledPairs.Result held = SampledPairs.build(policy, enc, t.eval(), o, seed + 4);
            cmd.info("held-out pairs: %s", held);
            eval = encodePairs(enc, held.pairs());
        }
        if (train.pairs().isEmpty()) throw CliException.usage("no preference pairs could be formed: " + train);
        return new Split2<>(encodePairs(enc, train.pairs()), eval);
    }

    static List<SftExample> toSft(List<Task> tasks) {
        return TaskSuite.toSft(tasks);
    }

    /** Encoder limit: {@code maxTokens} when given (at most the context), else the model's context. */
    static int maxTokens(Integer maxTokens, int nCtx) {
        if (maxTokens == null) return nCtx;
        if (maxTokens < 4 || maxTokens > nCtx)
            throw CliException.usage("--max-tokens must be in [4, " + nCtx + "] (the model's context), got " + maxTokens);
        return maxTokens;
    }
}
