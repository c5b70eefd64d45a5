package dev.align4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.align4j.data.Encoder;
import dev.align4j.data.TokenizedPair;
import dev.align4j.data.tasks.Split;
import dev.align4j.data.tasks.Task;
import dev.align4j.data.tasks.TaskSuite;
import dev.align4j.eval.GoldEvaluator;
import dev.align4j.eval.RewardAccuracy;
import dev.align4j.io.AtomicFiles;
import dev.align4j.model.CausalLm;
import dev.align4j.model.RewardModel;
import dev.align4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code align4j eval}: a policy on held-out built-in tasks ({@link GoldEvaluator}: greedy gold accuracy per family,
 * calibration, EOS rate; sampled entropy and distinct-n), and/or a reward model's pair accuracy
 * ({@link RewardAccuracy}) on a pairs file or on gold-vs-corruption pairs of held-out tasks.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Evaluates a policy on held-out tasks and/or a reward model on pairs.",
                "--model M: greedy gold accuracy per family, ECE, EOS rate; sampled entropy and",
                "distinct-n. --reward-model RM: accuracy on --data FILE --format hh|oasst|pairs,",
                "or on gold-vs-corruption pairs of --tasks held-out tasks (default 200).",
                "--out DIR also writes DIR/eval.json."})
public final class EvalCommand extends BaseCommand {
    @Option(names = "--model", paramLabel = "MODEL", description = "policy to evaluate on the built-in tasks")
    Path modelPath;

    @Option(names = "--reward-model", paramLabel = "RM", description = "reward model to evaluate on pairs")
    Path rewardPath;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "default: inferred from the vocabulary")
    String tokenizer;

    @Mixin DataOptions data = new DataOptions();

    @Option(names = "--max-new", paramLabel = "N", description = "generation limit (default 16)")
    int maxNew = 16;

    @Option(names = "--samples", paramLabel = "M", description = "samples per prompt for entropy and distinct-n (default 4; 0: skip)")
    int samples = 4;

    @Option(names = "--sample-prompts", paramLabel = "N", description = "prompts sampled for entropy and distinct-n (default 32)")
    int samplePrompts = 32;

    @Option(names = "--batch", paramLabel = "N", description = "prompts (pairs) per batch (default 64)")
    int batch = 64;

    @Option(names = "--out", paramLabel = "DIR", description = "also write DIR/eval.json")
    Path out;

    @Option(names = "--split", paramLabel = "test|train", description = "the built-in tasks' split (default test: problem "
            + "instances no trainer draws; train: those the trainers draw from, to tell learning them from generalising)")
    String split = "test";

    @Override
    protected int run() throws Exception {
        if (modelPath == null && rewardPath == null) throw CliException.usage("give --model MODEL and/or --reward-model RM");
        if (data.data != null && rewardPath == null) throw CliException.usage("--data is for --reward-model (pairs)");
        if (data.data != null && data.format == null) throw CliException.usage("--data needs --format");
        int n = data.tasks != null ? data.tasks : 200;
        if (n < 1) throw CliException.usage("--tasks must be >= 1, got " + n);
        TaskSuite suite = Data.suite(data);
        long seed = seed(1);
        Split which = switch (split) {
            case "test" -> Split.TEST;
            case "train" -> Split.TRAIN;
            default -> throw CliException.usage("--split must be test or train, got '" + split + "'");
        };
        List<Task> test = suite.generate(n, seed + 4, which);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("split", split);
        if (modelPath != null) {
            try (CausalLm gpt = ModelPaths.loadGpt(modelPath, "--model", device())) {
                Tokenizer tok = ChatTokenizers.forModel(modelPath, "--model", tokenizer, gpt.config().vocabSize());
                Encoder enc = new Encoder(tok, gpt.config().nCtx());
                GoldEvaluator gold = new GoldEvaluator(enc, batch, maxNew);
                info("%d %s-split tasks of %s, model %s", test.size(), split, suite, ModelPaths.describe(gpt.config()));
                GoldEvaluator.Report r = gold.evaluate(gpt, test);
                json.putAll(r.metrics("gold/"));
                result("gold accuracy %.3f on %d tasks  ECE %.3f  EOS rate %.3f  confidence %.3f  response tokens %.2f",
                        r.accuracy(), r.n(), r.ece(), r.eosRate(), r.meanConfidence(), r.meanResponseTokens());
                result("%-10s %8s %6s", "family", "accuracy", "n");
                r.familyAccuracy().forEach((f, a) -> result("%-10s %8.3f %6d", f, a, r.familyCount().get(f)));
                if (samples > 0) {
                    if (samples < 2) throw CliException.usage("--samples must be 0 or >= 2, got " + samples);
                    GoldEvaluator.Diversity dv = gold.sample(gpt, test.subList(0, Math.min(samplePrompts, test.size())), samples, seed + 11);
                    json.putAll(dv.metrics("sample/"));
                    result("%s", dv);
                }
            }
        }
        if (rewardPath != null) {
            try (RewardModel rm = ModelPaths.loadRewardModel(rewardPath, "--reward-model", device())) {
                Tokenizer tok = ChatTokenizers.forModel(rewardPath, "--reward-model", tokenizer, rm.config().vocabSize());
                Encoder enc = new Encoder(tok, rm.config().nCtx());
                List<TokenizedPair> pairs = data.data != null ? Data.encodePairs(enc, Data.readPairs(this, data))
                        : Data.encodePairs(enc, TaskSuite.corruptedPairs(test, seed + 5));
                RewardAccuracy acc = RewardAccuracy.of(rm, pairs, batch, tok.padId());
                json.put("reward/accuracy", acc.accuracy());
                json.put("reward/margin", acc.meanMargin());
                result("reward model accuracy %.3f on %d pairs  (mean margin %.3f, chosen %.3f, rejected %.3f)", acc.accuracy(),
                        acc.n(), acc.meanMargin(), acc.meanChosen(), acc.meanRejected());
            }
        }
        if (out != null) {
            createFolder(out, "--out");
            Path f = out.resolve("eval.json");
            AtomicFiles.writeString(f, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json) + "\n");
            info("wrote %s", f);
        }
        return 0;
    }
}
