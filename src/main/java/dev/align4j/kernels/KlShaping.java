package dev.align4j.kernels;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.NativeConstants;
import dev.align4j.tensor.NativeKernels;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * PPO's per-token rewards over padded {@code [B, T]} rollouts: a KL penalty against the frozen reference on every
 * response token plus the reward model's score on the last one. With {@code d = logpOld − logpRef} and the
 * estimator k ∈ {k1 = d, k2 = d²/2, k3 = e^(−d) − 1 + d}:
 * <pre>
 *   kl[b,t]      = k(d[b,t])                on the mask, 0 off it
 *   rewards[b,t] = −β·kl[b,t]               on the mask, 0 off it
 *                + scores[b] − penalty      at the LAST masked token of row b (the EOS when one was generated)
 * </pre>
 * where {@code penalty = missingEosPenalty} when {@code tokens} is given, {@code eosId >= 0} and the last masked token
 * is not {@code eosId} (TRL's {@code missing_eos_penalty}), and 0 otherwise. {@code scores} may be null (no score).
 * <p>A row with no masked token has nowhere to put its score: its outputs are all 0, the score (and penalty) is
 * dropped, and {@link Result#rowsWithoutResponse()} counts such rows so that this never happens silently (the count
 * costs one small reduction of the mask and a read of B floats back to the host).
 * <p>Every input value must be finite, padding included (masked-out values are otherwise ignored). There is no
 * backward: in PPO the shaped rewards are constants of the rollout. T must be at most 2^24.
 */
public final class KlShaping {
    private KlShaping() {}

    /** The KL estimator of d = logpOld − logpRef (Schulman's k1, k2, k3). */
    public enum Estimator {
        /** d: unbiased, can be negative per token. */
        K1,
        /** d²/2: biased, low variance, ≥ 0. */
        K2,
        /** e^(−d) − 1 + d: unbiased, ≥ 0. */
        K3;

        /** The native KL_* constant of the same name. */
        final int code = NativeConstants.code("KL", this);
    }

    /**
     * Options. Defaults ({@link #defaults()}): β = 0.05, estimator K1, eosId = −1 (no EOS check),
     * missingEosPenalty = 0.
     *
     * @param beta              KL coefficient β, finite and >= 0
     * @param estimator         KL estimator
     * @param eosId             the EOS token id, or −1 for no check; when >= 0, {@code tokens} must be given
     * @param missingEosPenalty subtracted from the score of a row whose last response token is not eosId; finite, >= 0
     */
    public record Config(float beta, Estimator estimator, int eosId, float missingEosPenalty) {
        public static final float DEFAULT_BETA = 0.05f;

        public Config {
            Args.nonNegative("beta", beta);
            if (estimator == null) throw new IllegalArgumentException("estimator must not be null");
            if (eosId < -1) throw new IllegalArgumentException("eosId must be >= 0, or -1 for no EOS check, got " + eosId);
            Args.nonNegative("missingEosPenalty", missingEosPenalty);
        }

        public static Config defaults() {
            return new Config(DEFAULT_BETA, Estimator.K1, -1, 0.0f);
        }

        public Config withBeta(float beta) {
            return new Config(beta, estimator, eosId, missingEosPenalty);
        }

        public Config withEstimator(Estimator estimator) {
            return new Config(beta, estimator, eosId, missingEosPenalty);
        }

        /** EOS check: rows whose last response token is not {@code eosId} lose {@code penalty} from their score. */
        public Config withMissingEos(int eosId, float penalty) {
            return new Config(beta, estimator, eosId, penalty);
        }
    }

    /** Outputs {@code [B, T]}, and the number of rows with no masked token (their score was dropped). */
    public record Result(Tensor rewards, Tensor kl, int rowsWithoutResponse) implements AutoCloseable {
        @Override
        public void close() {
            rewards.close();
            kl.close();
        }
    }

    /** The float[] convenience result. */
    public record Shaped(float[] rewards, float[] kl, int rowsWithoutResponse) {}

    /** Into new tensors of {@code scope}. {@code scores [B]} and {@code tokens [B, T]} (int32) may be null. */
    public static Result compute(Scope scope, Tensor logpOld, Tensor logpRef, Tensor mask, Tensor scores, Tensor tokens,
                                 Config config) {
        Device device = Args.open("logpOld", logpOld);
        SeqReduce.rows("logpOld", logpOld);
        return Args.withOutputs(scope, device, new long[][] {logpOld.shape(), logpOld.shape()}, out -> {
            int empty = compute(logpOld, logpRef, mask, scores, tokens, config, out[0], out[1]);
            return new Result(out[0], out[1], empty);
        });
    }

    /** Into caller-provided {@code rewards} and {@code kl} ({@code [B, T]}); returns the rows without a response. */
    public static int compute(Tensor logpOld, Tensor logpRef, Tensor mask, Tensor scores, Tensor tokens, Config config,
                              Tensor rewards, Tensor kl) {
        Device device = Args.sameDevice(new String[] {"logpOld", "logpRef", "mask", "scores", "tokens", "rewards", "kl"},
                logpOld, logpRef, mask, scores, tokens, rewards, kl);
        long b = SeqReduce.rows("logpOld", logpOld);
        long t = logpOld.dim(1);
        Args.f32("logpOld", logpOld, false, b, t);
        Args.f32("logpRef", logpRef, false, b, t);
        Args.f32("mask", mask, false, b, t);
        Args.f32("scores", scores, true, b);
        Args.f32("rewards", rewards, false, b, t);
        Args.f32("kl", kl, false, b, t);
        if (tokens != null) {
            Args.dtype("tokens", tokens, DType.I32);
            Args.shape("tokens", tokens, b, t);
        }
        if (config == null) throw new IllegalArgumentException("config must not be null");
        if (config.eosId() >= 0 && tokens == null)
            throw new IllegalArgumentException("tokens must be given when eosId >= 0 (eosId = " + config.eosId() + ")");
        if (t > (1L << 24)) throw new IllegalArgumentException("logpOld: T = " + t + " exceeds 2^24");
        if (rewards == kl) throw new IllegalArgumentException("rewards and kl must be different tensors");
        Args.mask("mask", mask);
        Args.finiteValues("logpOld", logpOld);
        Args.finiteValues("logpRef", logpRef);
        if (scores != null) Args.finiteValues("scores", scores);
        if (tokens != null) Args.indices("tokens", tokens, 0, Integer.MAX_VALUE);
        NativeKernels.klShaping(device, logpOld, logpRef, mask, scores, tokens, b, t, config.beta(), config.estimator().code,
                config.eosId(), config.missingEosPenalty(), rewards, kl);
        return rowsWithoutResponse(mask, b, t);
    }

    /** Convenience on Java arrays (CPU), {@code [batch·T]} row-major; {@code scores [batch]} and tokens may be null. */
    public static Shaped compute(float[] logpOld, float[] logpRef, float[] mask, float[] scores, int[] tokens, int batch,
                                 Config config) {
        int t = SeqReduce.rowLength("logpOld", logpOld, batch);
        SeqReduce.sameLength("logpRef", logpRef, logpOld.length);
        SeqReduce.sameLength("mask", mask, logpOld.length);
        if (scores != null) SeqReduce.sameLength("scores", scores, batch);
        if (tokens != null && tokens.length != logpOld.length)
            throw new IllegalArgumentException("tokens has " + tokens.length + " values, expected " + logpOld.length);
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Result r = compute(s, s.of(cpu, logpOld, batch, t), s.of(cpu, logpRef, batch, t), s.of(cpu, mask, batch, t),
                    scores == null ? null : s.of(cpu, scores, batch), tokens == null ? null : s.of(cpu, tokens, batch, t),
                    config);
            return new Shaped(r.rewards().toFloatArray(), r.kl().toFloatArray(), r.rowsWithoutResponse());
        }
    }

    private static int rowsWithoutResponse(Tensor mask, long b, long t) {
        if (b == 0) return 0;
        float[] counts;
        try (Scope tmp = new Scope()) {
            Tensor sums = tmp.empty(mask.device(), DType.F32, b);
            Tensor n = tmp.empty(mask.device(), DType.F32, b);
            NativeKernels.seqReduceFwd(mask.device(), mask, mask, b, t, sums, n);
            counts = n.toFloatArray();
        }
        int empty = 0;
        for (float c : counts) if (c == 0.0f) empty++;
        return empty;
    }
}
