package dev.align4j.rl.reward;

/**
 * A reward function failed or returned something that is not a score (null, a wrong count, NaN, ±∞): the evaluation
 * stops instead of averaging over it. The message names the function and the sample ({@link RewardSample#describe}).
 */
public final class RewardException extends RuntimeException {
    private final String function;
    private final int sampleIndex;

    public RewardException(String function, int sampleIndex, String message, Throwable cause) {
        super(message, cause);
        this.function = function;
        this.sampleIndex = sampleIndex;
    }

    /** The failing function's name. */
    public String function() {
        return function;
    }

    /** {@link RewardSample#index} of the sample named, or −1 when the failure concerns no single sample. */
    public int sampleIndex() {
        return sampleIndex;
    }
}
