package dev.align4j.data.lm;

import dev.align4j.tensor.Seeds;
import java.util.Arrays;

/**
 * Sequence {@code k} (a global count) of step {@code s} is an instruction example with probability
 * {@code mixture.share(s, total)}, otherwise a random text window; the coin, the window and the example are
 * counter-based draws on (seed, k) — separate streams — so the position {@code k} is the whole state.
 * An instruction example fills a row from its start: inputs are its tokens, targets the next tokens, the loss
 * mask its own mask on each target; past its end the row is padding (pad id, mask 0); a longer example is
 * truncated to {@code t + 1} tokens.
 */
final class MixedBatches implements BatchSource {
    private static final long COIN = 0, EXAMPLE = 2; // stream 1 is TokenStream's window draw

    private final TokenStream text;
    private final InstructionSource instructions;
    private final MidTrainingMixture mixture;
    private final long seed;
    private long position;

    MixedBatches(TokenStream text, InstructionSource instructions, MidTrainingMixture mixture, long seed) {
        if (text == null) throw new IllegalArgumentException("text must not be null");
        if (mixture == null) throw new IllegalArgumentException("mixture must not be null");
        if (instructions == null && mixture.stages().stream().anyMatch(s -> s.share() > 0))
            throw new IllegalArgumentException("the mixture has instruction shares but instructions is null");
        if (instructions != null && instructions.size() < 1) throw new IllegalArgumentException("instructions is empty");
        this.text = text;
        this.instructions = instructions;
        this.mixture = mixture;
        this.seed = seed;
    }

    /** The instruction share of 0-based step {@code step}. */
    @Override
    public double share(long step, long totalSteps) {
        return mixture.share(step, totalSteps);
    }

    @Override
    public Batch next(int b, int t, long step, long totalSteps) {
        double share = share(step, totalSteps);
        Batch out = new Batch(b, t, new int[b * t], new int[b * t], new float[b * t]);
        for (int i = 0; i < b; i++) {
            long k = position + i;
            if (share > 0 && Seeds.unit(seed, k, COIN) < share) {
                InstructionSource.Example ex = instructions.get((int) Seeds.below(seed, k, EXAMPLE, instructions.size()));
                fill(ex, t, out, i);
            } else {
                text.copyWindow(text.randomWindow(seed, k, t), t, out, i);
            }
        }
        position += b;
        return out;
    }

    private void fill(InstructionSource.Example ex, int t, Batch out, int row) {
        int o = row * t, n = ex.tokens().length, pad = instructions.padId();
        Arrays.fill(out.inputs(), o, o + t, pad);
        Arrays.fill(out.targets(), o, o + t, pad);
        for (int j = 0; j < t && j < n; j++) out.inputs()[o + j] = ex.tokens()[j];
        for (int j = 0; j < t && j + 1 < n; j++) {
            out.targets()[o + j] = ex.tokens()[j + 1];
            out.mask()[o + j] = ex.lossMask()[j + 1];
        }
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public void seek(long position) {
        if (position < 0) throw new IllegalArgumentException("position must be >= 0, got " + position);
        this.position = position;
    }
}
