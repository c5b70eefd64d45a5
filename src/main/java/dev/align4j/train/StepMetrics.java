package dev.align4j.train;

/**
 * One optimizer step as {@link LmTrainer} logs it (one JSON line each in {@code metrics.jsonl}, keys in
 * snake_case): the 1-based {@code step}, its learning rate, the mean loss over every masked target of its
 * micro-batches, the gradient norm before clipping, the tokens processed ({@code batchSize·seqLen·gradAccum})
 * and those under the loss mask, throughput of the step (forward, backward, update; not eval or
 * checkpoint), the scheduled instruction share, and the validation loss (null when not evaluated).
 */
public record StepMetrics(long step, double lr, double loss, double gradNorm, long tokens, long maskedTokens,
                          double tokensPerS, double mixShare, Double evalLoss) {}
