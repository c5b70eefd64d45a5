package dev.align4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.testing.GpuTest;
import org.junit.jupiter.api.Test;

class TensorTest {
    @Test
    void roundTripsAndScopeOwnership() {
        roundTrips(Device.cpu());
    }

    @GpuTest
    void roundTripsCuda() {
        roundTrips(Device.cuda(0));
    }

    static void roundTrips(Device d) {
        Tensor escaped;
        try (Scope s = new Scope()) {
            Tensor f = s.of(d, new float[] {1.5f, -2f, 3f, Float.NEGATIVE_INFINITY}, 2, 2);
            assertArrayEquals(new float[] {1.5f, -2f, 3f, Float.NEGATIVE_INFINITY}, f.toFloatArray());
            assertEquals(3f, f.getFloat(2));
            Tensor i = s.of(d, new int[] {7, -1, 42});
            assertArrayEquals(new int[] {7, -1, 42}, i.toIntArray());
            assertEquals(42, i.getInt(2));
            Tensor z = s.zeros(d, DType.F32, 3);
            assertArrayEquals(new float[3], z.toFloatArray());
            Tensor c = s.empty(d, DType.F32, 2, 2).copyFrom(f);
            assertArrayEquals(f.toFloatArray(), c.toFloatArray());
            Tensor empty = s.empty(d, DType.F32, 0, 5);
            assertEquals(0, empty.numel());
            assertEquals(0, empty.toFloatArray().length);
            assertEquals(5, s.liveCount());
            f.close();
            f.close(); // idempotent
            assertEquals(4, s.liveCount());
            assertThrows(IllegalStateException.class, f::toFloatArray);
            escaped = i;
        }
        assertTrue(escaped.isClosed(), "closing the scope closes its tensors");
        assertThrows(IllegalStateException.class, escaped::toIntArray);
    }

    @Test
    void badUseIsReported() {
        Device d = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor f = s.empty(d, DType.F32, 3);
            assertThrows(IllegalArgumentException.class, () -> f.copyFrom(new float[2]));
            assertThrows(IllegalArgumentException.class, () -> f.copyFrom(new int[3]));
            assertThrows(IllegalArgumentException.class, f::toIntArray);
            assertThrows(IndexOutOfBoundsException.class, () -> f.getFloat(3));
            assertThrows(IllegalArgumentException.class, () -> s.empty(d, DType.F32, 2, -1));
            assertThrows(ArithmeticException.class, () -> s.empty(d, DType.F32, Long.MAX_VALUE, 4));
        }
        Scope closed = new Scope();
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.empty(d, DType.F32, 1));
    }

    @Test
    void devicesParseAndCudaExplainsItself() {
        assertEquals(Device.cpu(), Device.parse("cpu"));
        Device.cpu().synchronize(); // a no-op that must not throw
        assertEquals("cpu", Device.cpu().toString());
        assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
        assertThrows(IllegalArgumentException.class, () -> Device.parse("cuda:x"));
        if (Device.cudaAvailable()) {
            assertTrue(Device.parse("cuda").isCuda());
        } else {
            String reason = Device.cudaUnavailableReason();
            assertNotNull(reason);
            assertFalse(reason.isBlank());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Device.cuda(0));
            assertTrue(e.getMessage().contains(reason), e.getMessage());
        }
        String old = System.getProperty(Device.PROPERTY);
        try {
            System.setProperty(Device.PROPERTY, "cpu");
            assertEquals(Device.cpu(), Device.fromSystemProperty());
        } finally {
            if (old == null) System.clearProperty(Device.PROPERTY);
            else System.setProperty(Device.PROPERTY, old);
        }
    }
}
