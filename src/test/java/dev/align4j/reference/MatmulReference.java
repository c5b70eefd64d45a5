package dev.align4j.reference;

/**
 * Row-major batched matrix product in double, literally: for each batch b, C[i][j] = alpha·Σ_k op(A)[i][k]·
 * op(B)[k][j] + beta·C0[i][j], with op(A)[i][k] = transA ? A[k][i] : A[i][k] (likewise B), and beta = 0
 * meaning "C0 is not read" (BLAS). Also returns, per element, the scale Σ_k |op(A)[i][k]·op(B)[k][j]|·|alpha|
 * + |beta·C0[i][j]| against which a float product's rounding error is judged.
 */
public final class MatmulReference {
    private MatmulReference() {}

    /** Returns {C, scale}; a is [batch, M×K or K×M], b [batch, K×N or N×K], c0 [batch, M×N] (null when beta = 0). */
    public static double[][] compute(float[] a, float[] b, float[] c0, int batch, int m, int n, int k, boolean transA,
                                     boolean transB, float alpha, float beta) {
        double[] c = new double[batch * m * n];
        double[] scale = new double[batch * m * n];
        for (int p = 0; p < batch; p++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double sum = 0, abs = 0;
                    for (int q = 0; q < k; q++) {
                        double x = transA ? a[p * m * k + q * m + i] : a[p * m * k + i * k + q];
                        double y = transB ? b[p * k * n + j * k + q] : b[p * k * n + q * n + j];
                        sum += x * y;
                        abs += Math.abs(x * y);
                    }
                    int o = p * m * n + i * n + j;
                    double prior = beta == 0 ? 0 : (double) beta * c0[o];
                    c[o] = (double) alpha * sum + prior;
                    scale[o] = Math.abs(alpha) * abs + Math.abs(prior);
                }
        return new double[][] {c, scale};
    }
}
