package dev.align4j.train;

import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tokenizer.ByteTokenizer;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.Tokenizers;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Command line: train a GPT on a text file.
 * <pre>
 *   java dev.align4j.train.TrainLm --data input.txt --out runs/tiny [--device cpu|cuda] [--tokenizer byte|gpt2]
 *       [--layers 4] [--heads 4] [--embd 128] [--steps 2000] [--batch 16] [--seq 128] [--accum 1]
 *       [--lr 1e-3] [--min-lr 1e-4] [--warmup 100] [--weight-decay 0.1] [--clip 1.0]
 *       [--eval-every 100] [--eval-batches 10] [--checkpoint-every 500] [--seed 1337] [--val-fraction 0.1]
 *       [--log-every 10] [--resume]
 * </pre>
 * Training defaults are {@link LmTrainConfig#defaults()}; the model's context is {@code --seq}; the byte
 * tokenizer's vocabulary is padded to 320 (a multiple of 64). {@code --resume} continues the run in
 * {@code --out} from its latest checkpoint with the saved settings (the data must be the same file).
 * Set {@code OMP_WAIT_POLICY=PASSIVE} on CPU (see the README). Exit code 0 on success, 1 on failure, 2 for bad
 * arguments.
 */
public final class TrainLm {
    private TrainLm() {}

    private static final List<String> FLAGS = List.of("data", "out", "device", "tokenizer", "layers", "heads", "embd", "steps",
            "batch", "seq", "accum", "lr", "min-lr", "warmup", "weight-decay", "clip", "eval-every", "eval-batches",
            "checkpoint-every", "seed", "val-fraction", "log-every");

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Map<String, String> a = new HashMap<>();
        boolean resume = false;
        LmTrainConfig cfg;
        GptConfig model;
        Tokenizer tok;
        Device device;
        int logEvery;
        double valFraction;
        try {
            for (int i = 0; i < args.length; i++) {
                String f = args[i];
                if (f.equals("--resume")) {
                    resume = true;
                    continue;
                }
                if (!f.startsWith("--") || !FLAGS.contains(f.substring(2)))
                    throw new IllegalArgumentException("unknown argument '" + f + "' (flags: --" + String.join(", --", FLAGS) + ", --resume)");
                if (i + 1 >= args.length) throw new IllegalArgumentException(f + " needs a value");
                a.put(f.substring(2), args[++i]);
            }
            if (!a.containsKey("data") || !a.containsKey("out")) throw new IllegalArgumentException("--data and --out are required");
            LmTrainConfig d = LmTrainConfig.defaults();
            OptimConfig o = d.optim();
            double lr = dbl(a, "lr", o.lr());
            cfg = new LmTrainConfig(new Schedule(lng(a, "steps", d.steps()), lng(a, "eval-every", d.evalEvery()),
                    lng(a, "checkpoint-every", d.checkpointEvery()), lng(a, "seed", d.seed())),
                    new OptimConfig(lr, dbl(a, "min-lr", lr * LrSchedule.DEFAULT_MIN_LR_FRACTION), lng(a, "warmup", o.warmupSteps()),
                            dbl(a, "weight-decay", o.weightDecay()), o.beta1(), o.beta2(), o.eps(), dbl(a, "clip", o.gradClip())),
                    num(a, "batch", d.batchSize()), num(a, "seq", d.seqLen()), num(a, "accum", d.gradAccum()),
                    num(a, "eval-batches", d.evalBatches()));
            String tn = a.getOrDefault("tokenizer", "byte");
            tok = tn.equals("byte") ? ByteTokenizer.padded(64) : Tokenizers.byName(tn);
            model = new GptConfig(num(a, "layers", 4), num(a, "heads", 4), num(a, "embd", 128), cfg.seqLen(), tok.vocabSize());
            device = Device.parse(a.getOrDefault("device", "cpu"));
            logEvery = num(a, "log-every", 10);
            valFraction = dbl(a, "val-fraction", TextCorpus.DEFAULT_VAL_FRACTION);
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("train-lm: " + e.getMessage());
            return 2;
        }
        Path dir = Paths.get(a.get("out"));
        try {
            TextCorpus corpus = TextCorpus.read(Paths.get(a.get("data")), tok, valFraction);
            out.printf(Locale.ROOT, "train-lm: %d train / %d val tokens (%s), device %s%n", corpus.train().length(),
                    corpus.val().length(), tok.name(), device);
            LmTrainer t;
            if (resume) {
                // the data seed is the saved one; build the source after reading it
                LmTrainConfig saved = LmTrainer.savedConfig(dir);
                t = LmTrainer.resume(dir, BatchSource.text(corpus.train(), saved.seed()), corpus.val(), device);
            } else {
                t = LmTrainer.create(model, device, cfg, BatchSource.text(corpus.train(), cfg.seed()), corpus.val(), dir);
            }
            try (t) {
                out.printf(Locale.ROOT, "train-lm: %s, %d parameters, from step %d of %d%n", t.model().config(),
                        t.model().params().numel(), t.steps(), t.config().steps());
                while (t.steps() < t.config().steps()) {
                    StepMetrics m = StepMetrics.of(t.step());
                    if (m.step() % logEvery == 0 || m.evalLoss() != null || m.step() == t.config().steps())
                        out.printf(Locale.ROOT, "step %d  lr %.3e  loss %.4f  grad_norm %.3f  %.0f tok/s%s%n", m.step(), m.lr(),
                                m.loss(), m.gradNorm(), m.tokensPerS(), m.evalLoss() == null ? "" : String.format(Locale.ROOT, "  eval %.4f", m.evalLoss()));
                }
                out.println("train-lm: done; checkpoint " + t.lastCheckpoint());
            }
            return 0;
        } catch (IOException | RuntimeException e) {
            err.println("train-lm: " + e);
            return 1;
        }
    }

    private static int num(Map<String, String> a, String k, int d) {
        return a.containsKey(k) ? parse(k, () -> Integer.parseInt(a.get(k))) : d;
    }

    private static long lng(Map<String, String> a, String k, long d) {
        return a.containsKey(k) ? parse(k, () -> Long.parseLong(a.get(k))) : d;
    }

    private static double dbl(Map<String, String> a, String k, double d) {
        return a.containsKey(k) ? parse(k, () -> Double.parseDouble(a.get(k))) : d;
    }

    private static <T> T parse(String k, java.util.function.Supplier<T> p) {
        try {
            return p.get();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + k + ": not a number");
        }
    }
}
