package dev.align4j.train;

import dev.align4j.data.DataPosition;
import dev.align4j.tensor.Seeds;
import java.util.Random;

/**
 * Draws example indices epoch by epoch: each epoch is a permutation of [0, n) seeded by (seed, epoch), so the
 * number of indices drawn so far ({@link #position()}) is the sampler's whole state and {@link #seek} resumes
 * exactly. With {@code shuffle = false} the order is 0, 1, ..., n − 1 every epoch.
 */
public final class EpochSampler implements DataPosition {
    private final int n;
    private final long seed;
    private final boolean shuffle;
    private long position;
    private long permEpoch = -1;
    private int[] perm;

    public EpochSampler(int n, long seed, boolean shuffle) {
        if (n < 1) throw new IllegalArgumentException("the data set is empty (n = " + n + ")");
        this.n = n;
        this.seed = seed;
        this.shuffle = shuffle;
    }

    /** The next {@code k} indices (crossing into the next epoch when needed). */
    public int[] next(int k) {
        int[] out = new int[k];
        for (int i = 0; i < k; i++) out[i] = at(position++);
        return out;
    }

    private int at(long pos) {
        long epoch = pos / n;
        int off = (int) (pos % n);
        if (!shuffle) return off;
        if (epoch != permEpoch) {
            perm = new int[n];
            for (int i = 0; i < n; i++) perm[i] = i;
            Random r = new Random(Seeds.mix(seed, epoch, 0x5A));
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int tmp = perm[i];
                perm[i] = perm[j];
                perm[j] = tmp;
            }
            permEpoch = epoch;
        }
        return perm[off];
    }

    public long position() {
        return position;
    }

    public void seek(long position) {
        if (position < 0) throw new IllegalArgumentException("position must be >= 0, got " + position);
        this.position = position;
    }

    /** Completed passes over the data (fractional). */
    public double epochs() {
        return (double) position / n;
    }

    public int size() {
        return n;
    }
}
