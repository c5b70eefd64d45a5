package dev.align4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class SequenceBatchTest {
    static final int PAD = 99;

    @Test
    void rowsAreRightPaddedWithTheMaskOnTargets() {
        SequenceBatch sb = SequenceBatch.ofResponses(List.of(new int[] {1, 2}, new int[] {5}), List.of(new int[] {3, 4}, new int[] {6, 7, 8}),
                PAD);
        assertEquals(2, sb.b());
        assertEquals(4, sb.t());
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, sb.inputs());
        assertArrayEquals(new int[] {2, 3, 4, PAD, 6, 7, 8, PAD}, sb.targets());
        assertArrayEquals(new float[] {0, 1, 1, 0, 1, 1, 1, 0}, sb.mask());
        assertArrayEquals(new int[] {2, 2}, sb.lastIndex());
        assertArrayEquals(new int[] {3, 3}, sb.endIndex());
        assertArrayEquals(new float[] {2, 3}, sb.lengths());
        assertEquals(5, sb.maskedTokens());
        SequenceBatch short1 = SequenceBatch.ofResponses(List.of(new int[] {1}), List.of(new int[] {2}), PAD);
        assertArrayEquals(new int[] {1, 2}, short1.inputs());
        assertArrayEquals(new int[] {2, PAD}, short1.targets());
        assertArrayEquals(new int[] {1}, short1.endIndex());
        double[] sums = sb.rowSums(new float[] {9, 1, 2, 9, 3, 4, 5, 9});
        assertArrayEquals(new double[] {3, 12}, sums);
    }

    @Test
    void rowsArePaddedToTheirOwnLongestAndChunkedByLength() {
        // lengths 5, 2, 4, 3 (prompt + response)
        SequenceBatch sb = SequenceBatch.ofResponses(List.of(new int[] {1, 2}, new int[] {3}, new int[] {4, 5}, new int[] {6}),
                List.of(new int[] {7, 8, 9}, new int[] {10}, new int[] {11, 12}, new int[] {13, 14}), PAD);
        assertEquals(5, sb.t());
        SequenceBatch sub = sb.rows(new int[] {3, 1});
        assertEquals(2, sub.b());
        assertEquals(3, sub.t(), "the longer of the two rows");
        assertArrayEquals(new int[] {6, 13, 14, 3, 10, PAD}, sub.inputs());
        assertArrayEquals(new int[] {13, 14, PAD, 10, PAD, PAD}, sub.targets());
        assertArrayEquals(new float[] {1, 1, 0, 1, 0, 0}, sub.mask());
        assertArrayEquals(new int[] {1, 0}, sub.lastIndex());
        assertArrayEquals(new int[] {2, 1}, sub.endIndex());
        assertArrayEquals(new float[] {2, 1}, sub.lengths());
        int[][] chunks = sb.lengthChunks(3);
        assertArrayEquals(new int[] {1, 3, 2}, chunks[0], "shortest first");
        assertArrayEquals(new int[] {0}, chunks[1]);
        assertArrayEquals(new int[][] {{0, 3}}, sb.lengthChunks(new int[] {0, 3}, 8), "one chunk: the given order");
        assertArrayEquals(new int[][] {{3}, {0}}, sb.lengthChunks(new int[] {0, 3}, 1));
        assertThrows(IllegalArgumentException.class, () -> sb.rows(new int[] {4}));
        assertThrows(IllegalArgumentException.class, () -> sb.rows(new int[0]));
        assertThrows(IllegalArgumentException.class, () -> sb.lengthChunks(0));
    }

    @Test
    void pairsPutChosenRowsFirst() {
        TokenizedPair p = new TokenizedPair(new int[] {1}, new int[] {2, 3}, new int[] {4});
        TokenizedPair q = new TokenizedPair(new int[] {5, 6}, new int[] {7}, new int[] {8, 9});
        SequenceBatch sb = SequenceBatch.ofPairs(List.of(p, q), PAD);
        assertEquals(4, sb.b());
        assertArrayEquals(new float[] {2, 1, 1, 2}, sb.lengths());
        assertEquals(2, sb.inputs()[0 * sb.t() + 1]);
        assertEquals(7, sb.inputs()[1 * sb.t() + 2]);
        assertEquals(4, sb.inputs()[2 * sb.t() + 1]);
        assertEquals(8, sb.inputs()[3 * sb.t() + 2]);
    }

    @Test
    void badRowsAreNamed() {
        assertThrows(IllegalArgumentException.class, () -> SequenceBatch.ofResponses(List.of(), List.of(), PAD));
        assertThrows(IllegalArgumentException.class, () -> SequenceBatch.ofResponses(List.of(new int[0]), List.of(new int[] {1}), PAD));
        assertThrows(IllegalArgumentException.class, () -> SequenceBatch.ofRows(List.of(new int[] {1, 2}), List.of(new float[] {0, 2}), PAD));
    }
}
