package dev.align4j.kernels;

import static dev.align4j.kernels.SeqReduceTest.assertThrowsNaming;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.align4j.reference.MatmulReference;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import dev.align4j.testing.Close;
import dev.align4j.testing.DeviceTest;
import dev.align4j.testing.GpuTest;
import dev.align4j.testing.Rand;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MatmulTest {
    /** Sizes that break GEMM kernels: empty, one, odd, just past a multiple of 32 / 64. */
    static final int[] SIZES = {0, 1, 7, 33, 65};
    /** (alpha, beta): plain product, scaled product, accumulate, subtract-accumulate, alpha = 0 (C = beta·C). */
    static final float[][] SCALARS = {{1f, 0f}, {-0.7f, 0f}, {1.3f, 0.5f}, {0.6f, -1f}, {0f, 0.5f}, {1f, 1f}};

    @DeviceTest
    void check(Device device) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int c = 0;
        for (int m : SIZES)
            for (int n : SIZES)
                for (int k : SIZES)
                    for (int t = 0; t < 4; t++) {
                        float[] ab = SCALARS[c++ % SCALARS.length];
                        runCase(rnd, device, new long[0], m, n, k, (t & 1) != 0, (t & 2) != 0, ab[0], ab[1],
                                "seed " + seed);
                    }
        // Batched: attention-like and odd batch shapes, including an empty batch.
        long[][] batches = {{1}, {3}, {2, 3}, {0}, {2, 0, 2}};
        for (long[] batch : batches)
            for (int t = 0; t < 4; t++) {
                float[] ab = SCALARS[c++ % SCALARS.length];
                runCase(rnd, device, batch, 33, 7, 16, (t & 1) != 0, (t & 2) != 0, ab[0], ab[1], "seed " + seed);
                runCase(rnd, device, batch, 65, 65, 1, (t & 1) != 0, (t & 2) != 0, ab[0], ab[1], "seed " + seed);
                runCase(rnd, device, batch, 7, 33, 0, (t & 1) != 0, (t & 2) != 0, ab[0], ab[1], "seed " + seed);
            }
        // A few rows times Wᵀ (a decode step of a batch), odd sizes around the vector widths.
        for (int m : new int[] {2, 3, 4, 5, 9, 32, 64})
            for (int n : new int[] {1, 3, 4, 5, 17})
                for (int k : new int[] {8, 16, 17, 31, 100}) {
                    float[] ab = SCALARS[c++ % SCALARS.length];
                    runCase(rnd, device, new long[0], m, n, k, false, true, ab[0], ab[1], "seed " + seed);
                }
        runCase(rnd, device, new long[] {2}, 32, 257, 129, false, true, 1f, 0f, "seed " + seed);
        // Large enough for OpenBLAS's multi-threaded, blocked path (and several cuBLAS tiles).
        runCase(rnd, device, new long[0], 300, 257, 129, false, true, 1f, 0f, "seed " + seed);
        runCase(rnd, device, new long[0], 129, 300, 257, true, false, 0.5f, 2f, "seed " + seed);
        runCase(rnd, device, new long[] {4}, 130, 64, 130, false, false, 1f, 0f, "seed " + seed);
        // Over 64 MFLOP: four slabs of C's rows (384 = 6 units of 64 spread 1, 2, 1, 2), then of its columns.
        runCase(rnd, device, new long[0], 384, 200, 450, false, true, 1f, 0f, "seed " + seed);
        runCase(rnd, device, new long[0], 100, 390, 900, true, false, 0.5f, 2f, "seed " + seed);
        leadingDimsFlatten(rnd, device, "seed " + seed);
    }

    public static void fuzzCase(Random rnd, Device device) {
        int m = rnd.nextInt(40), n = rnd.nextInt(40), k = rnd.nextInt(40);
        long[] batch = rnd.nextBoolean() ? new long[0] : new long[] {1 + rnd.nextInt(3)};
        float[] ab = SCALARS[rnd.nextInt(SCALARS.length)];
        runCase(rnd, device, batch, m, n, k, rnd.nextBoolean(), rnd.nextBoolean(), ab[0], ab[1], "fuzz");
    }

    /**
     * One product against the double reference. batch = [] uses {@link Matmul#matmul}, otherwise
     * {@link Matmul#matmulBatched} with that batch shape. With beta = 0, C starts as NaN (it must not be
     * read); otherwise random.
     */
    static void runCase(Random rnd, Device device, long[] batch, int m, int n, int k, boolean transA, boolean transB,
                        float alpha, float beta, String seed) {
        int nb = 1;
        for (long d : batch) nb *= (int) d;
        float[] a = Rand.normal(rnd, nb * m * k, 1.0);
        float[] b = Rand.normal(rnd, nb * k * n, 1.0);
        float[] c0 = beta == 0 ? Rand.filled(nb * m * n, Float.NaN) : Rand.normal(rnd, nb * m * n, 1.0);
        double[][] ref = MatmulReference.compute(a, b, c0, nb, m, n, k, transA, transB, alpha, beta);
        String tag = seed + " batch " + Arrays.toString(batch) + " M=" + m + " N=" + n + " K=" + k + " transA="
                + transA + " transB=" + transB + " alpha=" + alpha + " beta=" + beta + " on " + device;
        try (Scope s = new Scope()) {
            Tensor at = s.of(device, a, cat(batch, transA ? k : m, transA ? m : k));
            Tensor bt = s.of(device, b, cat(batch, transB ? n : k, transB ? k : n));
            Tensor ct = s.of(device, c0, cat(batch, m, n));
            if (batch.length == 0) Matmul.matmul(at, bt, ct, transA, transB, alpha, beta);
            else Matmul.matmulBatched(at, bt, ct, transA, transB, alpha, beta);
            assertCloseScaled(tag, ref, ct.toFloatArray(), k);
        }
    }

    /** fp32 rounding: a few ulps of the sum of |terms|, growing like √K (blocked, FMA-based summation). */
    static void assertCloseScaled(String tag, double[][] ref, float[] got, int k) {
        double eps = Math.ulp(1.0f);
        for (int i = 0; i < got.length; i++)
            Close.assertClose(tag + " c[" + i + "]", ref[0][i], got[i], 4 * eps * Math.sqrt(k + 1.0) * ref[1][i] + 1e-30, 0);
    }

    /** matmul views [..., cols] operands as matrices: [2, 3, 5]·[5, 4] and the weight-gradient form xᵀ·dy. */
    static void leadingDimsFlatten(Random rnd, Device device, String seed) {
        float[] x = Rand.normal(rnd, 30, 1), w = Rand.normal(rnd, 20, 1), dy = Rand.normal(rnd, 24, 1);
        try (Scope s = new Scope()) {
            Tensor xt = s.of(device, x, 2, 3, 5);
            Tensor y = s.empty(device, DType.F32, 2, 3, 4);
            Matmul.matmul(xt, s.of(device, w, 5, 4), y);
            assertCloseScaled(seed + " [2,3,5]·[5,4]", MatmulReference.compute(x, w, null, 1, 6, 4, 5, false, false, 1, 0),
                    y.toFloatArray(), 5);
            Tensor dw = s.empty(device, DType.F32, 5, 4);
            Matmul.matmul(xt, s.of(device, dy, 2, 3, 4), dw, true, false, 1, 0);
            assertCloseScaled(seed + " [2,3,5]ᵀ·[2,3,4]", MatmulReference.compute(x, dy, null, 1, 5, 4, 6, true, false, 1, 0),
                    dw.toFloatArray(), 6);
        }
    }

    @Test
    void exactSmallProduct() {
        try (Scope s = new Scope()) {
            Device cpu = Device.cpu();
            Tensor c = s.empty(cpu, DType.F32, 2, 2);
            Matmul.matmul(s.of(cpu, new float[] {1, 2, 3, 4, 5, 6}, 2, 3), s.of(cpu, new float[] {7, 8, 9, 10, 11, 12}, 3, 2), c);
            assertEquals(Arrays.toString(new float[] {58, 64, 139, 154}), Arrays.toString(c.toFloatArray()));
        }
    }

    @Test
    void threadsCanBeSet() {
        int before = Matmul.cpuThreads();
        assertTrue(before >= 1, "OpenBLAS threads " + before);
        try {
            Matmul.setCpuThreads(1);
            assertEquals(1, Matmul.cpuThreads());
            runCase(new Random(7), Device.cpu(), new long[0], 200, 200, 200, false, false, 1, 0, "one thread");
        } finally {
            Matmul.setCpuThreads(before);
        }
        assertThrowsNaming("threads", () -> Matmul.setCpuThreads(0));
    }

    @Test
    void badInputs() {
        Device cpu = Device.cpu();
        try (Scope s = new Scope()) {
            Tensor a = s.zeros(cpu, DType.F32, 3, 4);
            Tensor b = s.zeros(cpu, DType.F32, 4, 5);
            Tensor c = s.zeros(cpu, DType.F32, 3, 5);
            assertThrowsNaming("a must not be null", () -> Matmul.matmul(null, b, c));
            assertThrowsNaming("b must not be null", () -> Matmul.matmul(a, null, c));
            assertThrowsNaming("c must not be null", () -> Matmul.matmul(a, b, null));
            assertThrowsNaming("a must be F32", () -> Matmul.matmul(s.zeros(cpu, DType.I32, 3, 4), b, c));
            assertThrowsNaming("b must be F32", () -> Matmul.matmul(a, s.zeros(cpu, DType.F64, 4, 5), c));
            assertThrowsNaming("c must be F32", () -> Matmul.matmul(a, b, s.zeros(cpu, DType.I32, 3, 5)));
            assertThrowsNaming("a must have rank", () -> Matmul.matmul(s.zeros(cpu, DType.F32, 4), b, c));
            assertThrowsNaming("inner dims", () -> Matmul.matmul(a, s.zeros(cpu, DType.F32, 5, 5), c));
            assertThrowsNaming("inner dims", () -> Matmul.matmul(a, b, c, true, false, 1, 0));
            assertThrowsNaming("c must be 3×5", () -> Matmul.matmul(a, b, s.zeros(cpu, DType.F32, 5, 3)));
            assertThrowsNaming("c must be 3×4", () -> Matmul.matmul(a, s.zeros(cpu, DType.F32, 4, 4), s.zeros(cpu, DType.F32, 4, 3)));
            Tensor sq = s.zeros(cpu, DType.F32, 4, 4);
            assertThrowsNaming("c must not be the same tensor as a", () -> Matmul.matmul(sq, sq, sq));
            assertThrowsNaming("alpha", () -> Matmul.matmul(a, b, c, false, false, Float.NaN, 0));
            assertThrowsNaming("beta", () -> Matmul.matmul(a, b, c, false, false, 1, Float.POSITIVE_INFINITY));
            Tensor closed = s.zeros(cpu, DType.F32, 3, 4);
            closed.close();
            assertThrowsNaming("a (", () -> Matmul.matmul(closed, b, c));

            Tensor qa = s.zeros(cpu, DType.F32, 2, 3, 4);
            Tensor qb = s.zeros(cpu, DType.F32, 2, 4, 5);
            Tensor qc = s.zeros(cpu, DType.F32, 2, 3, 5);
            Matmul.matmulBatched(qa, qb, qc, false, false);
            assertThrowsNaming("b must have rank >= 3", () -> Matmul.matmulBatched(qa, b, qc, false, false));
            assertThrowsNaming("batch dims differ", () -> Matmul.matmulBatched(qa, s.zeros(cpu, DType.F32, 3, 4, 5), qc, false, false));
            assertThrowsNaming("batch dims differ", () -> Matmul.matmulBatched(qa, qb, s.zeros(cpu, DType.F32, 1, 2, 3, 5), false, false));
            assertThrowsNaming("inner dims", () -> Matmul.matmulBatched(qa, qb, qc, false, true));
            assertThrowsNaming("c must be 3×5", () -> Matmul.matmulBatched(qa, qb, s.zeros(cpu, DType.F32, 2, 5, 3), false, false));
        }
    }

    @GpuTest
    void mixedDevicesRejected() {
        try (Scope s = new Scope()) {
            Tensor a = s.zeros(Device.cpu(), DType.F32, 3, 4);
            Tensor b = s.zeros(Device.cuda(0), DType.F32, 4, 5);
            Tensor c = s.zeros(Device.cpu(), DType.F32, 3, 5);
            assertThrowsNaming("b is on cuda:0", () -> Matmul.matmul(a, b, c));
        }
    }

    /** TF32 on the GPU: still close at TF32's precision (10-bit mantissa inputs), and off again afterwards. */
    @GpuTest
    void cudaTf32() {
        Matmul.setAllowTf32(true);
        try (Scope s = new Scope()) {
            Random rnd = new Random(System.nanoTime());
            int m = 129, n = 65, k = 257;
            float[] a = Rand.normal(rnd, m * k, 1), b = Rand.normal(rnd, k * n, 1);
            Tensor c = s.empty(Device.cuda(0), DType.F32, m, n);
            Matmul.matmul(s.of(Device.cuda(0), a, m, k), s.of(Device.cuda(0), b, k, n), c);
            double[][] ref = MatmulReference.compute(a, b, null, 1, m, n, k, false, false, 1, 0);
            float[] got = c.toFloatArray();
            for (int i = 0; i < got.length; i++)
                Close.assertClose("tf32 c[" + i + "]", ref[0][i], got[i], 4 * Math.pow(2, -11) * ref[1][i], 0);
        } finally {
            Matmul.setAllowTf32(false);
        }
    }

    private static long[] cat(long[] batch, long rows, long cols) {
        long[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = rows;
        s[batch.length + 1] = cols;
        return s;
    }
}
