package dev.align4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link Collectives} in a job of one (what every process not launched by mpirun gets, MPI never loaded): every
 * operation is the identity, arguments are still checked. The MPI paths: dist.DataParallelTest.
 */
class CollectivesTest {
    @Test
    void aJobOfOneIsTheIdentity() {
        Collectives c = Collectives.single();
        assertEquals(0, c.rank());
        assertEquals(1, c.size());
        assertFalse(c.distributed());
        try (Scope s = new Scope()) {
            float[] x = {1.5f, -2f, 3e-8f};
            Tensor t = s.empty(Device.cpu(), DType.F32, 3).copyFrom(x);
            c.allReduceSum(t);
            c.allReduceSumAsync(t);
            c.drain();
            assertArrayEquals(x, t.toFloatArray());
            double[] d = {4, 5};
            double[] sum = c.allReduceSum(d);
            assertArrayEquals(d, sum);
            assertNotSame(d, sum);
            assertArrayEquals(new double[] {4, 5}, c.allReduceMax(d));
            byte[] mine = {1, 2, 3};
            byte[][] all = c.allGather(mine);
            assertEquals(1, all.length);
            assertArrayEquals(mine, all[0]);
            c.barrier();
            c.abort(3); // returns: nothing to end
            assertThrows(IllegalArgumentException.class, () -> c.allReduceSum(s.empty(Device.cpu(), DType.I32, 2)));
            assertThrows(IllegalArgumentException.class, () -> c.allReduceSumAsync(null));
        }
        assertTrue(c.toString().contains("single"));
    }

    @Test
    void mpirunIsRecognisedByItsEnvironment() {
        assertTrue(Collectives.launchedByMpirun(Map.of("OMPI_COMM_WORLD_SIZE", "2")));
        assertFalse(Collectives.launchedByMpirun(Map.of("PATH", "/usr/bin")));
    }
}
