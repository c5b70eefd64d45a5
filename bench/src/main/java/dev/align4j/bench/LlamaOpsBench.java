package dev.align4j.bench;

import dev.align4j.kernels.AdamW;
import dev.align4j.kernels.AttentionPermute;
import dev.align4j.kernels.AttentionSoftmax;
import dev.align4j.kernels.Bias;
import dev.align4j.kernels.Embedding;
import dev.align4j.kernels.GradNorm;
import dev.align4j.kernels.LogProbs;
import dev.align4j.kernels.Matmul;
import dev.align4j.kernels.RmsNorm;
import dev.align4j.kernels.Rope;
import dev.align4j.kernels.SwiGlu;
import dev.align4j.model.LlamaConfig;
import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Where a Llama training step's time goes, op by op: the kernel calls of one decoder layer's forward and backward
 * (the sequence of {@code Llama.trunkForward}/{@code trunkBackward}, same kernels, same shapes, same GQA views),
 * of the LM head (unchunked: one [B·T, V] logits GEMM, log-probs forward and backward, two GEMMs back), the
 * embedding, zeroing the gradients, the gradient norm and AdamW, each timed alone (median of {@code --reps} after
 * one warm-up call; by default in process CPU time, which other work on a shared machine does not inflate — with one
 * thread that is the op's own time; {@code --clock wall} for wall-clock) and scaled by how often a step runs it
 * (× layers). Prints one table: per op its share of the
 * step, its time, and for GEMMs the GFLOP/s; the sum is the step as the ops see it, to set against
 * {@link LlamaTrainBench}'s measured step (the difference: the model's argument checks, cache effects between ops).
 *
 * <p>This is a replay, not a wrapper: it duplicates the model's op sequence for measurement only (the model has no
 * timing hooks). If Llama.java changes its sequence (e.g. the fused attention kernel), update {@link #layerOps}.
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.align4j.bench.LlamaOpsBench [--B 1] [--T 512] [--reps 3] [--clock cpu|wall]</pre>
 */
public final class LlamaOpsBench {
    /** An op: its name, the group it is reported under, how many times a step runs it, its FLOPs, its body. */
    record Op(String name, String group, int perStep, double flops, Runnable body) {}

    public static void main(String[] args) {
        Map<String, String> o = LlamaBenchSupport.options(args, LlamaBenchSupport.withModelDefaults(Map.of(
                "B", "1", "T", "512", "reps", "3", "device", "cpu", "clock", "cpu")));
        int b = Integer.parseInt(o.get("B")), t = Integer.parseInt(o.get("T")), reps = Integer.parseInt(o.get("reps"));
        Device dev = Device.parse(o.get("device"));
        LlamaConfig c = LlamaBenchSupport.config(o);
        boolean cpuClock = !o.get("clock").equals("wall") && dev.isCpu();
        // one thread: every kernel runs on this thread, whose own clock leaves out the JVM's JIT and GC threads
        java.util.function.LongSupplier clock = !cpuClock ? System::nanoTime
                : Matmul.cpuThreads() == 1 ? LlamaBenchSupport::threadCpuNanos : LlamaBenchSupport::cpuNanos;
        try (Scope s = new Scope()) {
            List<Op> ops = new ArrayList<>();
            layerOps(s, dev, c, b, t, ops);
            headOps(s, dev, c, b, t, ops);
            Map<String, double[]> byOp = new LinkedHashMap<>();
            double total = 0;
            for (Op op : ops) {
                op.body().run();
                BenchAccess.synchronize(dev);
                double[] ms = new double[reps];
                for (int r = 0; r < reps; r++) {
                    long t0 = clock.getAsLong();
                    op.body().run();
                    BenchAccess.synchronize(dev);
                    ms[r] = (clock.getAsLong() - t0) / 1e6;
                }
                double med = LlamaBenchSupport.median(ms);
                byOp.put(op.name(), new double[] {med, med * op.perStep()});
                total += med * op.perStep();
            }
            System.out.printf("%nLlama ops at B=%d, T=%d (%s), %s, %d OpenBLAS threads, median of %d, %s; step as the sum of"
                            + " its ops: %.0f ms%n%n", b, t, c.describe(), dev, dev.isCpu() ? Matmul.cpuThreads() : 0, reps,
                    !cpuClock ? "wall-clock time" : Matmul.cpuThreads() == 1 ? "CPU time of the calling thread (every kernel runs on it)"
                            : "process CPU time (all threads)", total);
            System.out.println("| op | group | × per step | ms per call | ms per step | share | GFLOP/s |");
            System.out.println("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
            Map<String, Double> groups = new LinkedHashMap<>();
            for (Op op : ops) {
                double[] m = byOp.get(op.name());
                groups.merge(op.group(), m[1], Double::sum);
                System.out.printf("| %s | %s | %d | %.2f | %.0f | %.1f%% | %s |%n", op.name(), op.group(), op.perStep(), m[0],
                        m[1], 100 * m[1] / total, op.flops() > 0 ? String.format("%.0f", op.flops() / m[0] / 1e6) : "");
            }
            System.out.println();
            System.out.println("| group | ms per step | share |");
            System.out.println("| --- | ---: | ---: |");
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("bench", "ops");
            r.put("impl", "align4j");
            r.put("B", b);
            r.put("T", t);
            r.put("clock", cpuClock ? "cpu" : "wall");
            r.put("total_ms", total);
            for (Map.Entry<String, Double> e : groups.entrySet()) {
                System.out.printf("| %s | %.0f | %.1f%% |%n", e.getKey(), e.getValue(), 100 * e.getValue() / total);
                r.put("group_ms." + e.getKey(), e.getValue());
            }
            LlamaBenchSupport.emit(r);
        }
    }

    /** A tensor of uniform values in [−scale, scale), filled piecewise (the flat parameter buffers exceed a small heap). */
    private static Tensor rnd(Scope s, Device dev, Random rnd, float scale, long... shape) {
        Tensor x = s.empty(dev, DType.F32, shape);
        float[] chunk = new float[1 << 20];
        for (long off = 0, n = x.numel(); off < n; off += chunk.length) {
            int len = (int) Math.min(chunk.length, n - off);
            for (int i = 0; i < len; i++) chunk[i] = scale * (2 * rnd.nextFloat() - 1);
            BenchAccess.copyIn(x, off, chunk, len);
        }
        return x;
    }

    /** One decoder layer, forward then backward, as Llama.trunkForward / trunkBackward run it (no biases, no q/k norm). */
    static void layerOps(Scope s, Device dev, LlamaConfig c, int b, int t, List<Op> ops) {
        Random r = new Random(5);
        long B = b, T = t, C = c.hiddenSize(), F = c.intermediateSize(), H = c.numHeads(), KV = c.numKvHeads();
        long D = c.headDim(), g = c.groupSize(), N = B * T, qd = H * D, kvd = KV * D;
        int L = c.numLayers();
        float eps = (float) c.rmsNormEps(), scale = (float) (1.0 / Math.sqrt(D));
        Tensor invFreq = s.of(dev, c.invFreq());
        // parameters and their gradients
        Tensor wIn = s.of(dev, ones((int) C)), wPost = s.of(dev, ones((int) C));
        Tensor wq = rnd(s, dev, r, 0.02f, qd, C), wk = rnd(s, dev, r, 0.02f, kvd, C), wv = rnd(s, dev, r, 0.02f, kvd, C);
        Tensor wo = rnd(s, dev, r, 0.02f, C, qd), wgu = rnd(s, dev, r, 0.02f, 2 * F, C), wd = rnd(s, dev, r, 0.02f, C, F);
        Tensor dwIn = s.zeros(dev, DType.F32, C), dwPost = s.zeros(dev, DType.F32, C);
        Tensor dwq = s.zeros(dev, DType.F32, qd, C), dwk = s.zeros(dev, DType.F32, kvd, C), dwv = s.zeros(dev, DType.F32, kvd, C);
        Tensor dwo = s.zeros(dev, DType.F32, C, qd), dwgu = s.zeros(dev, DType.F32, 2 * F, C), dwd = s.zeros(dev, DType.F32, C, F);
        // saved activations and scratch (Llama.State / Saved)
        Tensor h = rnd(s, dev, r, 1f, B, T, C), x1 = s.empty(dev, DType.F32, B, T, C), rstd1 = s.empty(dev, DType.F32, B, T);
        Tensor q = s.empty(dev, DType.F32, B, T, qd), k = s.empty(dev, DType.F32, B, T, kvd), v = s.empty(dev, DType.F32, B, T, kvd);
        Tensor qh = s.empty(dev, DType.F32, B, H, T, D), kh = s.empty(dev, DType.F32, B, KV, T, D);
        Tensor vh = s.empty(dev, DType.F32, B, KV, T, D), att = s.empty(dev, DType.F32, B * H, T, T);
        Tensor y = s.empty(dev, DType.F32, B, H, T, D), ym = s.empty(dev, DType.F32, B, T, qd), tmp = s.empty(dev, DType.F32, B, T, C);
        Tensor hmid = s.empty(dev, DType.F32, B, T, C), x2 = s.empty(dev, DType.F32, B, T, C), rstd2 = s.empty(dev, DType.F32, B, T);
        Tensor gu = s.empty(dev, DType.F32, B, T, 2 * F), act = s.empty(dev, DType.F32, B, T, F), out = s.empty(dev, DType.F32, B, T, C);
        Tensor dres = rnd(s, dev, r, 1e-3f, B, T, C), dx = s.empty(dev, DType.F32, B, T, C), dact = s.empty(dev, DType.F32, B, T, F);
        Tensor dgu = s.empty(dev, DType.F32, B, T, 2 * F), dym = s.empty(dev, DType.F32, B, T, qd), dy = s.empty(dev, DType.F32, B, H, T, D);
        Tensor datt = s.empty(dev, DType.F32, B * H, T, T), dqh = s.empty(dev, DType.F32, B, H, T, D);
        Tensor dkh = s.empty(dev, DType.F32, B, KV, T, D), dvh = s.empty(dev, DType.F32, B, KV, T, D);
        Tensor dq = s.empty(dev, DType.F32, B, T, qd), dk = s.empty(dev, DType.F32, B, T, kvd), dv = s.empty(dev, DType.F32, B, T, kvd);
        Tensor qg = qh.view(0, B * KV, g * T, D), kg = kh.view(0, B * KV, T, D), vg = vh.view(0, B * KV, T, D);
        Tensor attG = att.view(0, B * KV, g * T, T), dattG = datt.view(0, B * KV, g * T, T);
        Tensor dyg = dy.view(0, B * KV, g * T, D);
        double lin = 2.0 * N * C;  // FLOPs of x·Wᵀ per output column
        double attF = 2.0 * B * H * T * T * D;
        // forward
        ops.add(new Op("rmsnorm fwd (input)", "rmsnorm", L, 0, () -> RmsNorm.forward(h, wIn, eps, x1, rstd1)));
        ops.add(new Op("q_proj fwd x·Wqᵀ", "gemm linear", L, lin * qd, () -> Matmul.matmul(x1, wq, q, false, true, 1f, 0f)));
        ops.add(new Op("k_proj fwd", "gemm linear", L, lin * kvd, () -> Matmul.matmul(x1, wk, k, false, true, 1f, 0f)));
        ops.add(new Op("v_proj fwd", "gemm linear", L, lin * kvd, () -> Matmul.matmul(x1, wv, v, false, true, 1f, 0f)));
        ops.add(new Op("permute q,k,v to heads", "permute", L, 0, () -> {
            AttentionPermute.mergeBackward(q, qh);
            AttentionPermute.mergeBackward(k, kh);
            AttentionPermute.mergeBackward(v, vh);
        }));
        ops.add(new Op("rope fwd q,k", "rope", L, 0, () -> {
            Rope.forward(qh, invFreq, 0, qh);
            Rope.forward(kh, invFreq, 0, kh);
        }));
        ops.add(new Op("attn Q·Kᵀ (batched, GQA view)", "gemm attention", L, attF,
                () -> Matmul.matmulBatched(qg, kg, attG, false, true)));
        ops.add(new Op("attn softmax fwd [B·H,T,T]", "attention softmax", L, 0, () -> AttentionSoftmax.forward(att, scale, att)));
        ops.add(new Op("attn P·V", "gemm attention", L, attF,
                () -> Matmul.matmulBatched(attG, vg, y.view(0, B * KV, g * T, D), false, false)));
        ops.add(new Op("permute y to rows", "permute", L, 0, () -> AttentionPermute.merge(y, ym)));
        ops.add(new Op("o_proj fwd", "gemm linear", L, 2.0 * N * qd * C, () -> Matmul.matmul(ym, wo, tmp, false, true, 1f, 0f)));
        ops.add(new Op("residual add ×2", "residual", L, 0, () -> {
            Bias.residual(h, tmp, hmid);
            Bias.residual(hmid, tmp, out);
        }));
        ops.add(new Op("rmsnorm fwd (post-attn)", "rmsnorm", L, 0, () -> RmsNorm.forward(hmid, wPost, eps, x2, rstd2)));
        ops.add(new Op("gate|up fwd", "gemm linear", L, lin * 2 * F, () -> Matmul.matmul(x2, wgu, gu, false, true, 1f, 0f)));
        ops.add(new Op("swiglu fwd", "swiglu", L, 0, () -> SwiGlu.forward(gu, act)));
        ops.add(new Op("down fwd", "gemm linear", L, 2.0 * N * F * C, () -> Matmul.matmul(act, wd, tmp, false, true, 1f, 0f)));
        // backward
        ops.add(new Op("down bwd dW += dresᵀ·act", "gemm linear dW", L, 2.0 * N * F * C,
                () -> Matmul.matmul(dres, act, dwd, true, false, 1f, 1f)));
        ops.add(new Op("down bwd dact = dres·W", "gemm linear dX", L, 2.0 * N * F * C,
                () -> Matmul.matmul(dres, wd, dact, false, false, 1f, 0f)));
        ops.add(new Op("swiglu bwd", "swiglu", L, 0, () -> SwiGlu.backward(gu, dact, dgu)));
        ops.add(new Op("gate|up bwd dW += dguᵀ·x2", "gemm linear dW", L, lin * 2 * F,
                () -> Matmul.matmul(dgu, x2, dwgu, true, false, 1f, 1f)));
        ops.add(new Op("gate|up bwd dx = dgu·W", "gemm linear dX", L, lin * 2 * F,
                () -> Matmul.matmul(dgu, wgu, dx, false, false, 1f, 0f)));
        ops.add(new Op("rmsnorm bwd (post-attn)", "rmsnorm", L, 0,
                () -> RmsNorm.backward(dx, hmid, wPost, rstd2, dres, true, dwPost)));
        ops.add(new Op("o_proj bwd dW", "gemm linear dW", L, 2.0 * N * qd * C,
                () -> Matmul.matmul(dres, ym, dwo, true, false, 1f, 1f)));
        ops.add(new Op("o_proj bwd dX", "gemm linear dX", L, 2.0 * N * qd * C,
                () -> Matmul.matmul(dres, wo, dym, false, false, 1f, 0f)));
        ops.add(new Op("permute dy to heads", "permute", L, 0, () -> AttentionPermute.mergeBackward(dym, dy)));
        ops.add(new Op("attn dP = dY·Vᵀ", "gemm attention", L, attF, () -> Matmul.matmulBatched(dyg, vg, dattG, false, true)));
        ops.add(new Op("attn dV = Pᵀ·dY", "gemm attention", L, attF,
                () -> Matmul.matmulBatched(attG, dyg, dvh.view(0, B * KV, T, D), true, false)));
        ops.add(new Op("attn softmax bwd", "attention softmax", L, 0, () -> AttentionSoftmax.backward(att, datt, scale, datt)));
        ops.add(new Op("attn dQ = dS·K", "gemm attention", L, attF,
                () -> Matmul.matmulBatched(dattG, kg, dqh.view(0, B * KV, g * T, D), false, false)));
        ops.add(new Op("attn dK = dSᵀ·Q", "gemm attention", L, attF,
                () -> Matmul.matmulBatched(dattG, qg, dkh.view(0, B * KV, T, D), true, false)));
        ops.add(new Op("rope bwd dq,dk", "rope", L, 0, () -> {
            Rope.backward(dqh, invFreq, 0, dqh);
            Rope.backward(dkh, invFreq, 0, dkh);
        }));
        ops.add(new Op("permute dq,dk,dv to rows", "permute", L, 0, () -> {
            AttentionPermute.merge(dqh, dq);
            AttentionPermute.merge(dkh, dk);
            AttentionPermute.merge(dvh, dv);
        }));
        ops.add(new Op("q,k,v bwd dW ×3", "gemm linear dW", L, lin * (qd + 2 * kvd), () -> {
            Matmul.matmul(dq, x1, dwq, true, false, 1f, 1f);
            Matmul.matmul(dk, x1, dwk, true, false, 1f, 1f);
            Matmul.matmul(dv, x1, dwv, true, false, 1f, 1f);
        }));
        ops.add(new Op("q,k,v bwd dX ×3", "gemm linear dX", L, lin * (qd + 2 * kvd), () -> {
            Matmul.matmul(dq, wq, dx, false, false, 1f, 0f);
            Matmul.matmul(dk, wk, dx, false, false, 1f, 1f);
            Matmul.matmul(dv, wv, dx, false, false, 1f, 1f);
        }));
        ops.add(new Op("rmsnorm bwd (input)", "rmsnorm", L, 0, () -> RmsNorm.backward(dx, h, wIn, rstd1, dres, true, dwIn)));
    }

    /** Embedding, LM head (unchunked), zero_grad, gradient norm and AdamW over all the model's parameters. */
    static void headOps(Scope s, Device dev, LlamaConfig c, int b, int t, List<Op> ops) {
        Random r = new Random(6);
        long N = (long) b * t, C = c.hiddenSize(), V = c.vocabSize(), P = c.numParameters();
        Tensor wte = rnd(s, dev, r, 0.02f, V, C), dwte = s.zeros(dev, DType.F32, V, C);
        int[] tok = new int[(int) N], tgt = new int[(int) N];
        for (int i = 0; i < tok.length; i++) {
            tok[i] = r.nextInt((int) V);
            tgt[i] = r.nextInt((int) V);
        }
        Tensor tokens = s.of(dev, tok, b, t), targets = s.of(dev, tgt, b, t);
        Tensor mask = s.of(dev, ones((int) N), b, t), zeroPos = s.zeros(dev, DType.F32, t, C);
        Tensor hidden = rnd(s, dev, r, 1f, b, t, C), dhidden = s.empty(dev, DType.F32, b, t, C), x = s.empty(dev, DType.F32, b, t, C);
        Tensor logits = s.empty(dev, DType.F32, b, t, V), logp = s.empty(dev, DType.F32, b, t), lse = s.empty(dev, DType.F32, b, t);
        Tensor dlogp = s.of(dev, filled((int) N, -1f / N), b, t);
        double head = 2.0 * N * V * C;
        ops.add(new Op("embedding fwd (gather)", "embedding", 1, 0, () -> Embedding.forward(tokens, wte, zeroPos, x)));
        ops.add(new Op("LM head logits = h·Eᵀ", "gemm head", 1, head, () -> Matmul.matmul(hidden, wte, logits, false, true, 1f, 0f)));
        ops.add(new Op("log-probs fwd [N,V]", "log-probs", 1, 0, () -> LogProbs.forward(logits, targets, mask, 1f, logp, null, lse)));
        ops.add(new Op("log-probs bwd (dlogits in place)", "log-probs", 1, 0,
                () -> LogProbs.backward(logits, targets, mask, 1f, lse, null, dlogp, null, logits)));
        ops.add(new Op("LM head bwd dh = dlogits·E", "gemm head", 1, head,
                () -> Matmul.matmul(logits, wte, dhidden, false, false, 1f, 0f)));
        ops.add(new Op("LM head bwd dE += dlogitsᵀ·h", "gemm head", 1, head,
                () -> Matmul.matmul(logits, hidden, dwte, true, false, 1f, 1f)));
        ops.add(new Op("embedding bwd (scatter-add)", "embedding", 1, 0, () -> Embedding.backward(dhidden, tokens, dwte, null)));
        // the whole model's flat buffers
        Tensor params = rnd(s, dev, r, 0.02f, P), grads = rnd(s, dev, r, 1e-4f, P);
        Tensor m = s.zeros(dev, DType.F32, P), v = s.zeros(dev, DType.F32, P);
        Tensor normOut = s.zeros(dev, DType.F32, 2), normWork = s.empty(dev, DType.F64, GradNorm.workSize(P));
        AdamW.Config cfg = AdamW.Config.gpt2(3e-4f);
        long[] step = {0};
        ops.add(new Op("zero_grad (memset of the gradients)", "optimizer", 1, 0, () -> {
            Tensor scratch = m;  // the same bytes as the gradients; keeps the real gradients for AdamW
            scratch.zero();
        }));
        ops.add(new Op("grad norm + clip factor", "optimizer", 1, 0, () -> GradNorm.compute(grads, 1f, normWork, normOut)));
        ops.add(new Op("AdamW over all parameters", "optimizer", 1, 0,
                () -> AdamW.step(params, grads, m, v, cfg, ++step[0], 1f, normOut, null)));
    }

    private static float[] ones(int n) {
        return filled(n, 1f);
    }

    private static float[] filled(int n, float value) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, value);
        return x;
    }
}
