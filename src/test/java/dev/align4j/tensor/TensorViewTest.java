package dev.align4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.testing.GpuTest;
import org.junit.jupiter.api.Test;

class TensorViewTest {
    @Test
    void cpu() {
        check(Device.cpu());
    }

    @GpuTest
    void cuda() {
        check(Device.cuda(0));
    }

    static void check(Device device) {
        try (Scope s = new Scope()) {
            Tensor t = s.of(device, new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
            int live = s.liveCount();
            Tensor v = t.view(2, 2, 3);
            assertEquals(live, s.liveCount(), "a view is not a scope allocation");
            assertTrue(v.isView());
            assertFalse(t.isView());
            assertArrayEquals(new long[] {2, 3}, v.shape());
            assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7}, v.toFloatArray());
            assertEquals(4f, v.getFloat(2));
            // writes through the view show in the owner and vice versa
            v.copyFrom(new float[] {-2, -3, -4, -5, -6, -7});
            assertArrayEquals(new float[] {0, 1, -2, -3, -4, -5, -6, -7, 8, 9}, t.toFloatArray());
            // a view of a view is offset from the owner
            Tensor w = v.view(3, 2);
            assertArrayEquals(new float[] {-5, -6}, w.toFloatArray());
            w.zero();
            assertArrayEquals(new float[] {0, 1, -2, -3, -4, 0, 0, -7, 8, 9}, t.toFloatArray());
            // copies between views of one buffer
            t.view(0, 2).copyFrom(t.view(8, 2));
            assertArrayEquals(new float[] {8, 9}, t.view(0, 2).toFloatArray());
            // empty views at either end are fine; past the end is not
            assertEquals(0, t.view(10, 0).numel());
            assertThrows(IndexOutOfBoundsException.class, () -> t.view(9, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> t.view(-1, 1));
            // closing a view frees nothing
            w.close();
            assertTrue(w.isClosed());
            assertThrows(IllegalStateException.class, w::toFloatArray);
            assertEquals(8f, t.getFloat(0));
            // closing the owner closes every view
            t.close();
            assertTrue(v.isClosed());
            assertThrows(IllegalStateException.class, v::toFloatArray);
            assertThrows(IllegalStateException.class, () -> t.view(0, 1));
        }
    }
}
