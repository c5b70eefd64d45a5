package dev.align4j.kernels;

import dev.align4j.tensor.Device;
import dev.align4j.testing.DeviceTest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiConsumer;

/**
 * Draws at least 1,000 random cases per run across every kernel family (random shapes, masks, options,
 * hard values), each checked against its double-precision reference by the family's own fuzzCase. The
 * seed is fresh every run and printed in any failure; -Dalign4j.fuzzSeed=S replays it.
 */
class FuzzTest {
    private static final int CASES_PER_FAMILY = 150;

    private static List<BiConsumer<Random, Device>> families() {
        List<BiConsumer<Random, Device>> f = new ArrayList<>();
        f.add(LogProbsTest::fuzzCase);
        f.add(PolicyLossTest::fuzzCase);
        f.add(PolicyLossGrpoTest::fuzzCase);
        f.add(ValueLossTest::fuzzCase);
        f.add(PreferenceLossTest::fuzzCase);
        f.add(RewardLossTest::fuzzCase);
        f.add(SeqReduceTest::fuzzCase);
        f.add(KlShapingTest::fuzzCase);
        f.add(GaeTest::fuzzCase);
        f.add(WhitenTest::fuzzCase);
        f.add(GroupAdvantageTest::fuzzCase);
        f.add(LayerNormTest::fuzzCase);
        f.add(RmsNormTest::fuzzCase);
        f.add(GeluTest::fuzzCase);
        f.add(SwiGluTest::fuzzCase);
        f.add(AttentionSoftmaxTest::fuzzCase);
        f.add(MatmulTest::fuzzCase);
        f.add(EmbeddingTest::fuzzCase);
        f.add(BiasTest::fuzzCase);
        f.add(AdamWTest::fuzzCase);
        f.add(GradNormTest::fuzzCase);
        f.add(AttentionPermuteTest::fuzzCase);
        f.add(RopeTest::fuzzCase);
        f.add(FlashAttentionTest::fuzzCase);
        return f;
    }

    @DeviceTest
    void run(Device device) {
        long seed = Long.getLong("align4j.fuzzSeed", System.nanoTime());
        Random r = new Random(seed);
        List<BiConsumer<Random, Device>> families = families();
        int cases = Math.max(1000, CASES_PER_FAMILY * families.size());
        for (int i = 0; i < cases; i++) {
            BiConsumer<Random, Device> family = families.get(i % families.size());
            try {
                family.accept(r, device);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("fuzz seed " + seed + ", case " + i + " (" + device + "): " + e.getMessage(), e);
            }
        }
    }
}
