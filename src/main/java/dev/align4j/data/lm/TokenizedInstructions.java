package dev.align4j.data.lm;

import dev.align4j.data.TokenizedSft;
import java.util.List;

/**
 * SFT examples ({@link TokenizedSft}: tokens, 1 on the trained response tokens and EOS) as the instruction
 * data of mid-training ({@link MidTrainingMixture}), e.g. the built-in task suite encoded by
 * {@link dev.align4j.data.Encoder}.
 */
public final class TokenizedInstructions implements InstructionSource {
    private final List<TokenizedSft> examples;
    private final int padId;

    public TokenizedInstructions(List<TokenizedSft> examples, int padId) {
        if (examples == null || examples.isEmpty()) throw new IllegalArgumentException("examples must not be null or empty");
        for (int i = 0; i < examples.size(); i++)
            if (examples.get(i) == null) throw new IllegalArgumentException("examples[" + i + "] must not be null");
        if (padId < 0) throw new IllegalArgumentException("padId must be >= 0, got " + padId);
        this.examples = List.copyOf(examples);
        this.padId = padId;
    }

    @Override
    public int size() {
        return examples.size();
    }

    @Override
    public Example get(int index) {
        TokenizedSft e = examples.get(index);
        return new Example(e.tokens(), e.trained());
    }

    @Override
    public int padId() {
        return padId;
    }
}
