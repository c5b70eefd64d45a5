package dev.align4j.kernels;

import dev.align4j.tensor.Blas;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Matrix products on BLAS: OpenBLAS on the CPU, cuBLAS on CUDA. Row-major semantics throughout (the
 * mapping onto column-major BLAS swaps the operands and never copies).
 *
 * <p>{@code C = alpha·op(A)·op(B) + beta·C}, op(X) = X or Xᵀ, op(A) M×K, op(B) K×N, C M×N, in FP32
 * with FP32 accumulation. As in BLAS, beta = 0 overwrites C without reading it (NaN in C does not
 * survive), and K = 0 or alpha = 0 gives C = beta·C without reading A or B. Inputs are not scanned for
 * NaN or infinities (that would cost a pass over every weight); they propagate as IEEE arithmetic says.
 *
 * <ul>
 *   <li>{@link #matmul}: 2-D. Every operand is viewed as a matrix whose rows are all its leading dims
 *       flattened, so a linear layer's activations [B, T, C] are a (B·T)×C matrix with no reshape.
 *   <li>{@link #matmulBatched}: [..., rows, cols] operands with identical leading (batch) dims, one
 *       product per batch entry: attention's Q·Kᵀ ([B, H, T, d] × [B, H, T, d]ᵀ) and P·V.
 * </ul>
 *
 * <p>CUDA: cuBLAS is loaded on the first CUDA product; when it is missing the call throws
 * {@link IllegalStateException} naming the library and where it was looked for. TF32 tensor-core math is
 * off by default (exact FP32 products); {@link #setAllowTf32(boolean)} allows it. CPU: OpenBLAS uses one
 * thread unless {@code OPENBLAS_NUM_THREADS} is set, and a large product is cut into one such call per OpenMP thread
 * (see {@link dev.align4j.tensor.Blas}); see {@link #setCpuThreads(int)}.
 */
public final class Matmul {
    private static volatile boolean allowTf32;

    private Matmul() {}

    /** C = A·B (2-D view of each operand, see the class comment). */
    public static void matmul(Tensor a, Tensor b, Tensor c) {
        matmul(a, b, c, false, false, 1f, 0f);
    }

    /**
     * C = alpha·op(A)·op(B) + beta·C on the 2-D views of the operands (rows = product of all dims but the
     * last): op(A) is M×K, op(B) K×N, and C must be M×N.
     */
    public static void matmul(Tensor a, Tensor b, Tensor c, boolean transA, boolean transB, float alpha, float beta) {
        Device device = check(a, b, c, alpha, beta, 2);
        long[] av = view2(a), bv = view2(b), cv = view2(c);
        long m = transA ? av[1] : av[0], k = transA ? av[0] : av[1];
        long kb = transB ? bv[1] : bv[0], n = transB ? bv[0] : bv[1];
        checkDims(a, b, c, transA, transB, m, k, kb, n, cv[0], cv[1], "");
        fitsInt(m, n, k, 1);
        Blas.sgemm(a, b, c, transA, transB, m, n, k, alpha, beta, 1, 0, 0, 0, allowTf32 && device.isCuda());
    }

    /** C_i = op(A_i)·op(B_i) for every batch index i. */
    public static void matmulBatched(Tensor a, Tensor b, Tensor c, boolean transA, boolean transB) {
        matmulBatched(a, b, c, transA, transB, 1f, 0f);
    }

    /**
     * C_i = alpha·op(A_i)·op(B_i) + beta·C_i for every batch index i: a, b and c have rank ≥ 3 and the same
     * leading dims (the batch, flattened), and their last two dims are the matrices: op(A_i) M×K, op(B_i)
     * K×N, C_i M×N.
     */
    public static void matmulBatched(Tensor a, Tensor b, Tensor c, boolean transA, boolean transB, float alpha,
                                     float beta) {
        Device device = check(a, b, c, alpha, beta, 3);
        long[] as = a.shape(), bs = b.shape(), cs = c.shape();
        long[] batchA = Arrays.copyOf(as, as.length - 2);
        if (!Arrays.equals(batchA, Arrays.copyOf(bs, bs.length - 2)) || !Arrays.equals(batchA, Arrays.copyOf(cs, cs.length - 2)))
            throw new IllegalArgumentException("matmulBatched: batch dims differ: a " + Arrays.toString(as) + ", b "
                    + Arrays.toString(bs) + ", c " + Arrays.toString(cs) + " (all dims but the last two must match)");
        long batch = 1;
        for (long d : batchA) batch *= d;
        long ar = a.dim(-2), ac = a.dim(-1), br = b.dim(-2), bc = b.dim(-1);
        long m = transA ? ac : ar, k = transA ? ar : ac;
        long kb = transB ? bc : br, n = transB ? br : bc;
        checkDims(a, b, c, transA, transB, m, k, kb, n, c.dim(-2), c.dim(-1), "Batched");
        fitsInt(m, n, k, batch);
        Blas.sgemm(a, b, c, transA, transB, m, n, k, alpha, beta, batch, ar * ac, br * bc, m * n,
                allowTf32 && device.isCuda());
    }

    /** Allows TF32 tensor-core math in CUDA products (about 10 mantissa bits per input); default false. */
    public static void setAllowTf32(boolean allow) {
        allowTf32 = allow;
    }

    public static boolean allowTf32() {
        return allowTf32;
    }

    /** OpenBLAS threads for the CPU products (default: 1, or OPENBLAS_NUM_THREADS). */
    public static void setCpuThreads(int n) {
        Blas.setCpuThreads(n);
    }

    public static int cpuThreads() {
        return Blas.cpuThreads();
    }

    private static Device check(Tensor a, Tensor b, Tensor c, float alpha, float beta, int minRank) {
        if (a == null || b == null || c == null)
            throw new IllegalArgumentException((a == null ? "a" : b == null ? "b" : "c") + " must not be null");
        Device device = Args.sameDevice(new String[] {"a", "b", "c"}, a, b, c);
        Args.dtype("a", a, DType.F32);
        Args.dtype("b", b, DType.F32);
        Args.dtype("c", c, DType.F32);
        String what = minRank == 2 ? "matmul" : "matmulBatched";
        if (a.rank() < minRank) throw new IllegalArgumentException(what + ": a must have rank >= " + minRank + ", got " + a.describe());
        if (b.rank() < minRank) throw new IllegalArgumentException(what + ": b must have rank >= " + minRank + ", got " + b.describe());
        if (c.rank() < minRank) throw new IllegalArgumentException(what + ": c must have rank >= " + minRank + ", got " + c.describe());
        if (c == a || c == b) throw new IllegalArgumentException(what + ": c must not be the same tensor as " + (c == a ? "a" : "b"));
        Args.finite("alpha", alpha);
        Args.finite("beta", beta);
        return device;
    }

    /** [rows, cols]: all leading dims flattened into rows. */
    private static long[] view2(Tensor t) {
        long cols = t.dim(-1);
        long rows = 1;
        for (int i = 0; i < t.rank() - 1; i++) rows *= t.dim(i);
        return new long[] {rows, cols};
    }

    private static void checkDims(Tensor a, Tensor b, Tensor c, boolean transA, boolean transB, long m, long k,
                                  long kb, long n, long cm, long cn, String suffix) {
        String ops = "op(a) = " + (transA ? "aᵀ" : "a") + ", op(b) = " + (transB ? "bᵀ" : "b") + "; a " + a.describe()
                + ", b " + b.describe() + ", c " + c.describe();
        if (k != kb)
            throw new IllegalArgumentException("matmul" + suffix + ": inner dims differ: op(a) is " + m + "×" + k
                    + " but op(b) is " + kb + "×" + n + " (" + ops + ")");
        if (cm != m || cn != n)
            throw new IllegalArgumentException("matmul" + suffix + ": c must be " + m + "×" + n + ", got " + cm + "×" + cn
                    + " (" + ops + ")");
    }

    private static void fitsInt(long m, long n, long k, long batch) {
        long max = Integer.MAX_VALUE;
        if (m > max || n > max || k > max || batch > max)
            throw new IllegalArgumentException("matmul: M = " + m + ", N = " + n + ", K = " + k + ", batch = " + batch
                    + ": each must be <= " + max + " (BLAS takes 32-bit sizes)");
    }
}
