package dev.align4j.bench;

import dev.align4j.data.SequenceBatch;
import dev.align4j.data.SharedPrefixBatch;
import dev.align4j.model.CausalLm;
import dev.align4j.model.Llama;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * One GRPO-shaped micro-batch's forward and backward on a Llama-family model (random weights; a 4-layer, 256-wide
 * model with grouped heads unless the options change it): {@code --groups} prompts of 80–111 tokens, each with
 * {@code --g} completions of 8–32 tokens, run as the full rows and as a {@link SharedPrefixBatch} (each prompt once),
 * side by side in one process; prints the tokens each runs and the median seconds of {@code --iters} steps.
 *
 * <pre>java -Xmx2g -cp bench/target/benchmarks.jar dev.align4j.bench.SharedPrefixBench [--groups 8] [--g 8] [--iters 5]</pre>
 */
public final class SharedPrefixBench {
    public static void main(String[] args) {
        Map<String, String> o = LlamaBenchSupport.options(args, LlamaBenchSupport.withModelDefaults(Map.of("groups", "8", "g", "8",
                "iters", "5", "layers", "4", "hidden", "256", "heads", "8", "kv-heads", "2", "ffn", "768", "vocab", "2048")));
        int groups = Integer.parseInt(o.get("groups")), g = Integer.parseInt(o.get("g")), iters = Integer.parseInt(o.get("iters"));
        var c = LlamaBenchSupport.config(o);
        Random rnd = new Random(1);
        List<int[]> prompts = new ArrayList<>(), completions = new ArrayList<>();
        for (int k = 0; k < groups; k++) {
            int[] p = tokens(rnd, 80 + rnd.nextInt(32), c.vocabSize());
            for (int j = 0; j < g; j++) {
                prompts.add(p);
                completions.add(tokens(rnd, 8 + rnd.nextInt(25), c.vocabSize()));
            }
        }
        SharedPrefixBatch shared = SharedPrefixBatch.ofResponses(prompts, completions, null, 0);
        List<int[]> seqs = new ArrayList<>();
        List<float[]> masks = new ArrayList<>();
        for (int q = 0; q < prompts.size(); q++) {
            int[] p = prompts.get(q), x = completions.get(q), s = Arrays.copyOf(p, p.length + x.length);
            System.arraycopy(x, 0, s, p.length, x.length);
            float[] m = new float[s.length];
            Arrays.fill(m, p.length, s.length, 1f);
            seqs.add(s);
            masks.add(m);
        }
        SequenceBatch full = SequenceBatch.ofRows(seqs, masks, 0);
        try (CausalLm m = Llama.create(c, Device.cpu(), 1); Scope sc = new Scope()) {
            double[][] t = new double[2][iters];
            for (int i = -1; i < iters; i++)  // one warm-up round
                for (int mode = 0; mode < 2; mode++) {
                    SequenceBatch sb = mode == 0 ? full : shared.rows();
                    Tensor dlogp = sc.of(Device.cpu(), sb.mask(), sb.b(), sb.t());
                    long t0 = System.nanoTime();
                    m.zeroGrad();
                    if (mode == 0) m.forward(sb.inputs(), sb.targets(), sb.mask(), sb.b(), sb.t());
                    else m.forward(shared);
                    m.backward(dlogp);
                    if (i >= 0) t[mode][i] = (System.nanoTime() - t0) / 1e9;
                }
            double a = median(t[0]), b = median(t[1]);
            System.out.printf("full rows: %d tokens, %.3f s; shared prompts: %d tokens, %.3f s; %.2fx%n", (long) full.b() * full.t(), a,
                    shared.paddedTokens(), b, a / b);
        }
    }

    private static int[] tokens(Random rnd, int n, int v) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = rnd.nextInt(v);
        return x;
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
