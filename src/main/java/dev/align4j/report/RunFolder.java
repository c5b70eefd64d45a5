package dev.align4j.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.align4j.io.StrictUtf8;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * A post-training run folder read back for the report (the schema the demo and {@code align4j post-train}
 * write): {@code summary.json} (per-stage evaluations, reward-model held-out accuracy, total seconds),
 * {@code samples.jsonl} (a few responses per stage) and {@code <stage>/metrics.jsonl} for each trainer.
 *
 * <p>Reading is tolerant of what a partial run leaves out: a missing stage folder, metrics file,
 * {@code summary.json} or {@code samples.jsonl} only means that part was not run. What IS there must parse: a
 * malformed line is an {@link IllegalArgumentException} naming {@code file:line}, invalid UTF-8 an IOException naming
 * the file, byte offset and line ({@link StrictUtf8}), because a report silently
 * built from half a file would misrepresent the run. Metric values are read as doubles; RunDirectory writes
 * non-finite values as the strings "NaN"/"Infinity", which are parsed back; nulls (an LM step without
 * evaluation) and other strings are left out of the step's map.
 */
public final class RunFolder {
    /** Trainer stages that may have a {@code <stage>/metrics.jsonl}, in pipeline order. */
    public static final List<String> TRAINING_STAGES = List.of("pretrain", "sft", "rm", "ppo", "ppo_overopt", "dpo", "simpo", "grpo");
    /** Evaluated policies, in the order the report lists them (summary.json may hold others; they follow). */
    public static final List<String> EVAL_STAGES = List.of("base", "pretrain", "sft", "ppo", "ppo_overopt", "dpo", "simpo", "grpo");

    public static final String SUMMARY = "summary.json";
    public static final String SAMPLES = "samples.jsonl";
    public static final String METRICS = "metrics.jsonl";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One evaluated policy: its summary.json entry as numbers (non-numeric entries dropped). */
    public record StageSummary(String stage, Map<String, Double> values) {
        public Optional<Double> get(String key) {
            return Optional.ofNullable(values.get(key));
        }

        /** Greedy gold accuracy. */
        public Optional<Double> goldGreedy() {
            return get("gold/accuracy");
        }

        /** Gold accuracy of sampled responses (GoldEvaluator.Diversity; the schema's older name is accepted). */
        public Optional<Double> goldSampled() {
            return get("sample/sample_accuracy").or(() -> get("sample/accuracy"));
        }

        /** Greedy gold accuracy per task family: {@code gold/accuracy/<f>} (or the schema's {@code gold/family/<f>}). */
        public Map<String, Double> familyAccuracy() {
            Map<String, Double> out = byPrefix("gold/accuracy/");
            out.putAll(byPrefix("gold/family/"));
            return out;
        }

        /** Greedy gold accuracy per family on the training split's arithmetic: {@code train_split/gold/accuracy/<f>}. */
        public Map<String, Double> trainSplitAccuracy() {
            return byPrefix("train_split/gold/accuracy/");
        }

        private Map<String, Double> byPrefix(String prefix) {
            Map<String, Double> out = new LinkedHashMap<>();
            for (var e : values.entrySet())
                if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
            return out;
        }
    }

    /**
     * summary.json's {@code reward_hacks}: of the held-out tasks PPO's families hold ({@code judged}), PPO's wrong
     * greedy answers, those the reward model scores above the right answer ({@code hacks}), how many of those PPO
     * changed from SFT's answer ({@code learned}), how many of those prompts GRPO answered right (−1 without GRPO),
     * and the first hacks.
     */
    public record Hacks(int judged, int ppoWrong, int hacks, int learned, int grpoRight, List<Hack> examples) {}

    /** One reward hack with every policy's answer to its prompt ({@code grpo} null without a GRPO stage). */
    public record Hack(String family, String prompt, String gold, String sft, String ppo, double rmPpo, double rmGold,
                       String grpo, boolean grpoCorrect) {}

    /** One line of samples.jsonl. */
    public record Sample(String stage, String prompt, String response, String gold, Boolean correct) {}

    /** What summary.json holds ({@link #NONE} when there is no such file): its root and what is read from it. */
    private record Summary(JsonNode root, Map<String, Object> info, List<StageSummary> stages,
                           List<Map<String, Double>> bestOfN) {
        static final Summary NONE = new Summary(null, Map.of(), List.of(), List.of());

        boolean present() {
            return root != null;
        }

        static Summary read(Path file) throws IOException {
            if (!Files.isRegularFile(file)) return NONE;
            JsonNode root;
            try {
                root = JSON.readTree(StrictUtf8.read(file));
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
            }
            if (root == null || !root.isObject()) throw new IllegalArgumentException(file + ": expected a JSON object");
            Map<String, Object> info = new LinkedHashMap<>();
            List<StageSummary> stages = new ArrayList<>();
            readSummary(file, root, info, stages);
            List<Map<String, Double>> bestOfN = new ArrayList<>();
            JsonNode bon = root.path("best_of_n");
            if (!bon.isMissingNode() && !bon.isNull()) {
                if (!bon.isArray()) throw new IllegalArgumentException(file + ": \"best_of_n\" must be an array");
                for (Map<String, Double> n : numberObjects(file, "best_of_n", bon))
                    bestOfN.add(Collections.unmodifiableMap(n));
            }
            return new Summary(root, Collections.unmodifiableMap(info), List.copyOf(stages), List.copyOf(bestOfN));
        }
    }

    private final Path dir;
    private final Summary summary;
    private final Map<String, List<Map<String, Double>>> metrics;
    private final List<Sample> samples;

    private RunFolder(Path dir, Summary summary, Map<String, List<Map<String, Double>>> metrics, List<Sample> samples) {
        this.dir = dir;
        this.summary = summary;
        this.metrics = metrics;
        this.samples = samples;
    }

    /**
     * Reads {@code dir}. Throws IllegalArgumentException when {@code dir} is not a directory, holds neither
     * summary.json nor any stage's metrics.jsonl (not a run folder), or a file present is malformed (message
     * names the file and line).
     */
    public static RunFolder read(Path dir) throws IOException {
        if (dir == null) throw new IllegalArgumentException("run folder must not be null");
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + " is not a directory");

        Path summaryFile = dir.resolve(SUMMARY);
        Summary summary = Summary.read(summaryFile);
        Map<String, List<Map<String, Double>>> metrics = new LinkedHashMap<>();
        for (String stage : TRAINING_STAGES) {
            Path f = dir.resolve(stage).resolve(METRICS);
            if (Files.isRegularFile(f)) {
                List<Map<String, Double>> lines = readMetrics(f);
                if (!lines.isEmpty()) metrics.put(stage, lines);
            } else if (summary.present() && summary.root().path(stage).isArray() && !summary.root().path(stage).isEmpty()) {
                // the pipeline also copies PPO's step lines into summary.json: used when the folder is gone
                metrics.put(stage, numberObjects(summaryFile, stage, summary.root().path(stage)));
            }
        }
        if (!summary.present() && metrics.isEmpty())
            throw new IllegalArgumentException(dir + " is not a run folder: it has no " + SUMMARY + " and no <stage>/" + METRICS
                    + " (stages " + String.join(", ", TRAINING_STAGES) + ")");

        List<Sample> samples = Files.isRegularFile(dir.resolve(SAMPLES)) ? readSamples(dir.resolve(SAMPLES)) : List.of();
        return new RunFolder(dir, summary, Collections.unmodifiableMap(metrics), List.copyOf(samples));
    }

    /** {@link #numbers} of each element of the array {@code field}, which must all be objects (1-based in errors). */
    private static List<Map<String, Double>> numberObjects(Path file, String field, JsonNode array) {
        List<Map<String, Double>> out = new ArrayList<>();
        for (JsonNode n : array) {
            if (!n.isObject())
                throw new IllegalArgumentException(file + ": " + field + "[" + (out.size() + 1) + "] is not an object");
            out.add(numbers(n));
        }
        return out;
    }

    private static void readSummary(Path file, JsonNode root, Map<String, Object> info, List<StageSummary> stages) {
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            var e = it.next();
            JsonNode v = e.getValue();
            if (v.isNumber()) info.put(e.getKey(), v.asDouble());
            else if (v.isTextual() || v.isBoolean()) info.put(e.getKey(), v.asText());
        }
        // a seed may also sit in a config object
        JsonNode cfgSeed = root.path("config").path("seed");
        if (!info.containsKey("seed") && cfgSeed.isNumber()) info.put("seed", cfgSeed.asDouble());

        JsonNode st = root.path("stages");
        if (st.isMissingNode() || st.isNull()) return;
        if (!st.isArray()) throw new IllegalArgumentException(file + ": \"stages\" must be an array");
        int i = 0;
        for (JsonNode s : st) {
            i++;
            if (!s.isObject() || !s.path("stage").isTextual())
                throw new IllegalArgumentException(file + ": stages[" + i + "] must be an object with a \"stage\" name");
            stages.add(new StageSummary(s.get("stage").asText(), Collections.unmodifiableMap(numbers(s))));
        }
    }

    /** Every line of a metrics.jsonl as numbers; blank lines skipped. */
    static List<Map<String, Double>> readMetrics(Path file) throws IOException {
        List<Map<String, Double>> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : StrictUtf8.readLines(file)) {
            lineNo++;
            if (line.isBlank()) continue;
            out.add(Collections.unmodifiableMap(numbers(object(file, lineNo, line))));
        }
        return out;
    }

    static List<Sample> readSamples(Path file) throws IOException {
        List<Sample> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : StrictUtf8.readLines(file)) {
            lineNo++;
            if (line.isBlank()) continue;
            JsonNode n = object(file, lineNo, line);
            JsonNode c = n.path("correct");
            out.add(new Sample(n.path("stage").asText(""), n.path("prompt").asText(""), n.path("response").asText(""),
                    n.path("gold").asText(""), c.isBoolean() ? c.asBoolean() : null));
        }
        return out;
    }

    private static JsonNode object(Path file, int lineNo, String line) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ":" + lineNo + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException(file + ":" + lineNo + ": expected a JSON object");
        return n;
    }

    private static Map<String, Double> numbers(JsonNode o) {
        Map<String, Double> m = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = o.fields();
        while (it.hasNext()) {
            var e = it.next();
            JsonNode v = e.getValue();
            if (v.isNumber()) m.put(e.getKey(), v.asDouble());
            else if (v.isTextual()) {
                switch (v.asText()) {
                    case "NaN" -> m.put(e.getKey(), Double.NaN);
                    case "Infinity" -> m.put(e.getKey(), Double.POSITIVE_INFINITY);
                    case "-Infinity" -> m.put(e.getKey(), Double.NEGATIVE_INFINITY);
                    default -> { }
                }
            } else if (v.isBoolean()) m.put(e.getKey(), v.asBoolean() ? 1.0 : 0.0);
        }
        return m;
    }

    public Path dir() {
        return dir;
    }

    /** True when summary.json was there (evaluations, run info). */
    public boolean hasSummary() {
        return summary.present();
    }

    /** summary.json's top-level scalars (numbers as Double, strings and booleans as String). */
    public Map<String, Object> info() {
        return summary.info();
    }

    public Optional<Double> infoNumber(String key) {
        return summary.info().get(key) instanceof Double d ? Optional.of(d) : Optional.empty();
    }

    /** Evaluated policies: the known ones in {@link #EVAL_STAGES} order, then any others in file order. */
    public List<StageSummary> stages() {
        List<StageSummary> out = new ArrayList<>();
        for (String s : EVAL_STAGES) stage(s).ifPresent(out::add);
        for (StageSummary s : summary.stages()) if (!EVAL_STAGES.contains(s.stage())) out.add(s);
        return out;
    }

    public Optional<StageSummary> stage(String name) {
        return summary.stages().stream().filter(s -> s.stage().equals(name)).findFirst();
    }

    /** The step lines of a trainer stage; empty when the stage was not run. */
    public List<Map<String, Double>> metrics(String stage) {
        return metrics.getOrDefault(stage, List.of());
    }

    /** summary.json's best-of-n curve (one map per n: n, kl, gold, proxy); empty when absent. */
    public List<Map<String, Double>> bestOfN() {
        return summary.bestOfN();
    }

    public boolean ran(String stage) {
        return !metrics(stage).isEmpty();
    }

    /**
     * (step, value) of every line of {@code stage} holding a finite {@code key}; x is the line's {@code step}
     * (its 1-based index when a line has none).
     */
    public double[][] series(String stage, String key) {
        List<Map<String, Double>> lines = metrics(stage);
        double[] x = new double[lines.size()], y = new double[lines.size()];
        int n = 0;
        for (int i = 0; i < lines.size(); i++) {
            Double v = lines.get(i).get(key);
            if (v == null || !Double.isFinite(v)) continue;
            x[n] = lines.get(i).getOrDefault("step", (double) (i + 1));
            y[n++] = v;
        }
        return new double[][] {java.util.Arrays.copyOf(x, n), java.util.Arrays.copyOf(y, n)};
    }

    /** (x, y) pairs from lines of {@code stage} where both keys are finite (e.g. gold against KL). */
    public double[][] pairs(String stage, String xKey, String yKey) {
        List<Map<String, Double>> lines = metrics(stage);
        double[] x = new double[lines.size()], y = new double[lines.size()];
        int n = 0;
        for (Map<String, Double> l : lines) {
            Double a = l.get(xKey), b = l.get(yKey);
            if (a == null || b == null || !Double.isFinite(a) || !Double.isFinite(b)) continue;
            x[n] = a;
            y[n++] = b;
        }
        return new double[][] {java.util.Arrays.copyOf(x, n), java.util.Arrays.copyOf(y, n)};
    }

    /** Every task family any stage reports, sorted. */
    public List<String> families() {
        TreeSet<String> f = new TreeSet<>();
        for (StageSummary s : summary.stages()) f.addAll(s.familyAccuracy().keySet());
        return List.copyOf(f);
    }

    /** Every family any stage reports on the training split ({@link StageSummary#trainSplitAccuracy}), sorted. */
    public List<String> trainSplitFamilies() {
        TreeSet<String> f = new TreeSet<>();
        for (StageSummary s : summary.stages()) f.addAll(s.trainSplitAccuracy().keySet());
        return List.copyOf(f);
    }

    public List<Sample> samples() {
        return samples;
    }

    /** summary.json's reward-hacking table, when the run had one. */
    public Optional<Hacks> hacks() {
        JsonNode h = summary.present() ? summary.root().path("reward_hacks") : null;
        if (h == null || h.isMissingNode() || h.isNull()) return Optional.empty();
        String where = dir.resolve(SUMMARY) + ": reward_hacks";
        if (!h.isObject() || !h.path("examples").isArray()) throw new IllegalArgumentException(where + " must be an object with an examples array");
        List<Hack> ex = new ArrayList<>();
        for (JsonNode e : h.get("examples")) {
            for (String k : List.of("family", "prompt", "gold", "sft", "ppo"))
                if (!e.path(k).isTextual()) throw new IllegalArgumentException(where + ".examples[" + (ex.size() + 1) + "] has no text \"" + k + "\"");
            for (String k : List.of("rm_ppo", "rm_gold"))
                if (!e.path(k).isNumber()) throw new IllegalArgumentException(where + ".examples[" + (ex.size() + 1) + "] has no number \"" + k + "\"");
            ex.add(new Hack(e.get("family").asText(), e.get("prompt").asText(), e.get("gold").asText(), e.get("sft").asText(),
                    e.get("ppo").asText(), e.get("rm_ppo").asDouble(), e.get("rm_gold").asDouble(),
                    e.path("grpo").isTextual() ? e.get("grpo").asText() : null, e.path("grpo_correct").asBoolean(false)));
        }
        return Optional.of(new Hacks(h.path("judged").asInt(), h.path("ppo_wrong").asInt(), h.path("hacks").asInt(),
                h.path("learned").asInt(), h.path("grpo_right_on_hacks").asInt(-1), List.copyOf(ex)));
    }
}
