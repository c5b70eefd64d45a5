package dev.align4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.testing.GpuTest;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * NCCL through the CUDA backend (cuda/nccl_shim.cuh), as far as each machine allows: without a GPU or without NCCL
 * every entry point fails naming why (and {@link Collectives} then uses the host); on a GPU with NCCL (the GPU
 * bundle, when a device is lent) a communicator of one rank is made and its all-reduce is the identity. The
 * 2-rank path needs two GPUs and mpirun together, which no machine here has: never run.
 */
class NcclTest {
    @Test
    void withoutNcclEveryEntryPointSaysWhy() {
        int rc = NativeLib.a4j_nccl_load("libnccl-that-does-not-exist.so.2");
        assertNotEquals(NativeConstants.OK, rc);
        String why = NativeLib.a4j_last_error();
        assertTrue(why.contains("CUDA backend") || why.contains("libnccl-that-does-not-exist"), why);
        rc = NativeLib.a4j_nccl_allreduce(1, 0, 1, 0);
        assertNotEquals(NativeConstants.OK, rc);
        assertTrue(!NativeLib.a4j_last_error().isEmpty());
        assertEquals(NativeConstants.OK, NativeLib.a4j_nccl_destroy(), "destroying no communicator is a no-op");
    }

    @GpuTest
    void oneRankCommunicatorReducesToItself() {
        Device gpu = Device.cuda(0);
        String lib = System.getProperty(Collectives.NCCL_PROPERTY, "libnccl.so.2");
        int rc = NativeLib.a4j_nccl_load(lib);
        Assumptions.assumeTrue(rc == NativeConstants.OK, "no NCCL here: " + NativeLib.a4j_last_error());
        byte[] id = new byte[Collectives.NCCL_ID_BYTES];
        Backend.check(NativeLib.a4j_nccl_unique_id(id), "ncclGetUniqueId");
        Backend.check(NativeLib.a4j_nccl_init(gpu.nativeId(), 1, 0, id), "ncclCommInitRank");
        try (Scope s = new Scope()) {
            float[] x = new float[1000];
            for (int i = 0; i < x.length; i++) x[i] = i * 0.25f - 7;
            Tensor t = s.empty(gpu, DType.F32, x.length).copyFrom(x);
            Backend.check(NativeLib.a4j_nccl_allreduce(gpu.nativeId(), t.address(), t.numel(), 0), "ncclAllReduce");
            assertArrayEquals(x, t.toFloatArray(), "the sum over one rank");
        } finally {
            Backend.check(NativeLib.a4j_nccl_destroy(), "ncclCommDestroy");
        }
    }
}
