package dev.align4j.data.lm;

import java.util.List;

/**
 * Mid-training (lecture 1.2.1): the share of instruction data in each step's batch, raised in the late phase
 * while the learning rate decays. A list of stages {@code (from, share)}: from fraction {@code from} of the
 * run's steps on (inclusive), each sequence is an instruction example with probability {@code share}. The
 * first stage must start at 0; fractions strictly increase; shares lie in [0, 1].
 * <p>{@link #DEFAULT}: 0 for the first 70% of steps, then 10% (70–80%), 30% (80–90%), 50% (last 10%).
 */
public record MidTrainingMixture(List<Stage> stages) {
    /** From fraction {@code from} of the steps, a share {@code share} of instruction data. */
    public record Stage(double from, double share) {
        public Stage {
            if (!(from >= 0 && from < 1)) throw new IllegalArgumentException("stage from must be in [0, 1), got " + from);
            if (!(share >= 0 && share <= 1)) throw new IllegalArgumentException("stage share must be in [0, 1], got " + share);
        }
    }

    /** 0% → 10% at 70% of the steps → 30% at 80% → 50% at 90%. */
    public static final MidTrainingMixture DEFAULT = of(0.0, 0.0, 0.7, 0.1, 0.8, 0.3, 0.9, 0.5);

    /** Text only (share 0 throughout). */
    public static final MidTrainingMixture NONE = of(0.0, 0.0);

    public MidTrainingMixture {
        if (stages == null || stages.isEmpty()) throw new IllegalArgumentException("stages must not be empty");
        stages = List.copyOf(stages);
        if (stages.get(0).from() != 0) throw new IllegalArgumentException("the first stage must start at 0, got " + stages.get(0).from());
        for (int i = 1; i < stages.size(); i++)
            if (!(stages.get(i).from() > stages.get(i - 1).from()))
                throw new IllegalArgumentException("stage " + i + " starts at " + stages.get(i).from() + ", not after stage " + (i - 1));
    }

    /** Pairs {@code from0, share0, from1, share1, ...}. */
    public static MidTrainingMixture of(double... fromShare) {
        if (fromShare.length == 0 || fromShare.length % 2 != 0)
            throw new IllegalArgumentException("expected (from, share) pairs, got " + fromShare.length + " numbers");
        Stage[] s = new Stage[fromShare.length / 2];
        for (int i = 0; i < s.length; i++) s[i] = new Stage(fromShare[2 * i], fromShare[2 * i + 1]);
        return new MidTrainingMixture(List.of(s));
    }

    /** The share of 0-based step {@code step} of {@code totalSteps}: the stage containing {@code step / totalSteps}. */
    public double share(long step, long totalSteps) {
        if (totalSteps < 1) throw new IllegalArgumentException("totalSteps must be >= 1, got " + totalSteps);
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        double f = (double) step / totalSteps;
        double share = stages.get(0).share();
        for (Stage s : stages) if (f >= s.from()) share = s.share();
        return share;
    }
}
