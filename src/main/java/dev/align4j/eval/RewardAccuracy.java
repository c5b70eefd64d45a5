package dev.align4j.eval;

import dev.align4j.data.TokenizedPair;
import dev.align4j.model.RewardModel;
import java.util.List;

/**
 * Held-out accuracy of a reward model: the share of preference pairs whose chosen response scores strictly higher
 * than the rejected one (a tie counts as wrong, as in {@link dev.align4j.kernels.RewardLoss}), with the mean
 * margin r⁺ − r⁻ and the mean rewards. Scores come from {@link RewardModel#scorePairs} ({@code batchSize} pairs
 * per forward); nothing is trained.
 */
public record RewardAccuracy(double accuracy, double meanMargin, double meanChosen, double meanRejected, int n) {

    /**
     * Evaluates {@code model} on {@code pairs}. {@code padId} pads the rows (any id in the vocabulary: padding
     * follows the real tokens and never changes a score).
     */
    public static RewardAccuracy of(RewardModel model, List<TokenizedPair> pairs, int batchSize, int padId) {
        if (model == null) throw new IllegalArgumentException("model must not be null");
        if (pairs == null || pairs.isEmpty()) throw new IllegalArgumentException("pairs must not be empty");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        int v = model.config().vocabSize();
        if (padId < 0 || padId >= v) throw new IllegalArgumentException("padId " + padId + " is outside the vocabulary [0, " + v + ")");
        RewardModel.PairScores s = model.scorePairs(pairs, batchSize, padId);
        int n = pairs.size(), right = 0;
        double margin = 0, chosen = 0, rejected = 0;
        for (int i = 0; i < n; i++) {
            if (s.chosen()[i] > s.rejected()[i]) right++;
            margin += (double) s.chosen()[i] - s.rejected()[i];
            chosen += s.chosen()[i];
            rejected += s.rejected()[i];
        }
        return new RewardAccuracy((double) right / n, margin / n, chosen / n, rejected / n, n);
    }
}
