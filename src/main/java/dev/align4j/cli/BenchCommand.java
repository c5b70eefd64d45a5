package dev.align4j.cli;

import dev.align4j.kernels.AdamW;
import dev.align4j.kernels.LogProbs;
import dev.align4j.model.GenerationConfig;
import dev.align4j.model.Generator;
import dev.align4j.model.CausalLm;
import dev.align4j.model.LmAdamW;
import dev.align4j.model.GptConfig;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.Locale;
import java.util.SplittableRandom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code align4j bench}: a quick in-process look at speed on the chosen device — the log-prob kernel at B×T×V, and
 * a GPT's forward, training step and generation — printed as a table. Not a rigorous benchmark (no forks, few
 * iterations): the JMH benchmarks in {@code bench/} are.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Quick timings of kernels and a GPT training step on a device.",
                "Sizes (layers x width, context, vocabulary, batch): tiny 2x64 ctx 64 V 320 B 8;",
                "small 4x128 ctx 128 V 320 B 16; medium 6x384 ctx 256 V 320 B 8;",
                "gpt2 12x768 ctx 1024 V 50257 B 4 (slow on a CPU). For real numbers: bench/ (JMH)."})
public final class BenchCommand extends BaseCommand {
    @Option(names = "--size", paramLabel = "SIZE", description = "tiny, small (default), medium or gpt2")
    String size = "small";

    @Option(names = "--iters", paramLabel = "N", description = "timed iterations per row (default 5, after 1 warm-up)")
    int iters = 5;

    /** A benchmark size. */
    record Size(GptConfig model, int batch) {}

    static Size size(String name) {
        return switch (name) {
            case "tiny" -> new Size(new GptConfig(2, 2, 64, 64, 320), 8);
            case "small" -> new Size(new GptConfig(4, 4, 128, 128, 320), 16);
            case "medium" -> new Size(new GptConfig(6, 6, 384, 256, 320), 8);
            case "gpt2" -> new Size(GptConfig.gpt2(), 4);
            default -> throw CliException.usage("--size: expected tiny, small, medium or gpt2, got '" + name + "'");
        };
    }

    @Override
    protected int run() throws Exception {
        Size s = size(size);
        if (iters < 1) throw CliException.usage("--iters must be >= 1, got " + iters);
        Device d = device();
        GptConfig c = s.model();
        int b = s.batch(), t = c.nCtx(), v = c.vocabSize();
        result("align4j bench on %s, size %s: %s, batch %d", d, size, ModelPaths.describe(c), b);
        result("| %-34s | %-16s | %10s | %12s |", "what", "shape", "ms / iter", "tokens / s");
        result("|%s|%s|%s|%s|", "-".repeat(36), "-".repeat(18), "-".repeat(12), "-".repeat(14));
        SplittableRandom rnd = new SplittableRandom(seed(1));
        int[] tokens = new int[b * t], targets = new int[b * t];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(v);
            targets[i] = rnd.nextInt(v);
        }
        String shape = b + "x" + t + "x" + v;
        try (Scope scope = new Scope()) {
            float[] host = new float[b * t * v];
            for (int i = 0; i < host.length; i++) host[i] = (float) rnd.nextGaussian();
            Tensor logits = scope.of(d, host, b, t, v);
            Tensor labels = scope.of(d, targets, b, t);
            Tensor logp = scope.empty(d, dev.align4j.tensor.DType.F32, b, t);
            Tensor lse = scope.empty(d, dev.align4j.tensor.DType.F32, b, t);
            row("LogProbs.forward", shape, (long) b * t, () -> LogProbs.forward(logits, labels, null, 1f, logp, null, lse), d);
        }
        try (CausalLm gpt = CausalLm.create(c, d, seed(1)); LmAdamW opt = new LmAdamW(gpt)) {
            String gs = b + "x" + t;
            row("GPT forward (loss)", gs, (long) b * t, () -> gpt.forward(tokens, targets, null, b, t), d);
            AdamW.Config ac = new AdamW.Config(1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f);
            row("GPT training step (fwd+bwd+AdamW)", gs, (long) b * t, () -> {
                gpt.zeroGrad();
                gpt.forward(tokens, targets, null, b, t);
                gpt.backward();
                opt.step(ac, 1f);
            }, d);
            int prompt = Math.min(8, t / 2), gen = Math.min(32, t - prompt);
            int[][] prompts = new int[b][];
            for (int i = 0; i < b; i++) prompts[i] = java.util.Arrays.copyOfRange(tokens, i * t, i * t + prompt);
            GenerationConfig gc = new GenerationConfig(gen, 1.0, 0, 1.0, -1, 0, 1);
            row("generate (KV cache, sampling)", b + "x(" + prompt + "+" + gen + ")", (long) b * gen,
                    () -> Generator.generate(gpt, prompts, gc), d);
        }
        return 0;
    }

    private void row(String what, String shape, long tokens, Runnable body, Device d) {
        body.run(); // warm-up: allocations, JIT
        d.synchronize();
        long t0 = System.nanoTime();
        for (int i = 0; i < iters; i++) body.run();
        d.synchronize();
        double ms = (System.nanoTime() - t0) * 1e-6 / iters;
        result("| %-34s | %-16s | %10.2f | %12s |", what, shape, ms, String.format(Locale.ROOT, "%.0f", tokens / (ms * 1e-3)));
    }
}
