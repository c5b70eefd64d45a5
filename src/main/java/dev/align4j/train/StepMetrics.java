package dev.align4j.train;

/**
 * One optimizer step as {@link LmTrainer} logs it (one JSON line each in {@code metrics.jsonl}, keys in
 * snake_case): the 1-based {@code step}, its learning rate, the mean loss over every masked target of its
 * micro-batches, the gradient norm before clipping, the tokens processed ({@code batchSize·seqLen·gradAccum})
 * and those under the loss mask, throughput of the step (forward, backward, update; not eval or
 * checkpoint), the scheduled instruction share, and the validation loss (null when not evaluated).
 */
public record StepMetrics(long step, double lr, double loss, double gradNorm, long tokens, long maskedTokens,
                          double tokensPerS, double mixShare, Double evalLoss) {
    /** The metrics line {@link LmTrainer#step()} returns. */
    public static StepMetrics of(java.util.Map<String, Object> m) {
        return new StepMetrics(((Number) m.get("step")).longValue(), (Double) m.get("lr"), (Double) m.get("loss"),
                (Double) m.get("grad_norm"), ((Number) m.get("tokens")).longValue(), ((Number) m.get("masked_tokens")).longValue(),
                (Double) m.get("tokens_per_s"), (Double) m.get("mix_share"), (Double) m.get("eval_loss"));
    }
}
