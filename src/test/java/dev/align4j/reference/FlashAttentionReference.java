package dev.align4j.reference;

/**
 * Causal (grouped-query) attention in double precision, written from the definition with the whole score row
 * materialised: q [B, H, Tq, D], k and v [B, Hkv, S, D] (slots [0, Tk) read), query head h reads kv head
 * h / (H / Hkv), query i sees the keys keyStart[b] <= j <= Tk − Tq + i (keyStart null: 0).
 * <pre>
 *   s_ij = scale·q_i·k_j,  lse_i = log Σ_j exp(s_ij),  P_ij = exp(s_ij − lse_i),  o_i = Σ_j P_ij·v_j
 * </pre>
 * A query with no visible key: o_i = 0, lse_i = −inf. The backward is the chain rule of those lines, from an upstream
 * dO: dP_ij = dO_i·v_j, dS_ij = P_ij·(dP_ij − Σ_j' P_ij'·dP_ij'), dq_i = scale·Σ_j dS_ij·k_j, dk_j = scale·Σ_i dS_ij·q_i
 * (summed over the query heads of a group), dv_j = Σ_i P_ij·dO_i; 0 on the slots no query reads.
 */
public final class FlashAttentionReference {
    private FlashAttentionReference() {}

    /** The problem: sizes, inputs as doubles (so that finite differences can perturb them), mask and scale. */
    public record Problem(int b, int h, int hkv, int tq, int tk, int slots, int d, double[] q, double[] k, double[] v,
                          int[] keyStart, double scale) {
        int keyStart(int bi) {
            return keyStart == null ? 0 : keyStart[bi];
        }

        int kvRow(int bi, int hi, int j) {
            return ((bi * hkv + hi / (h / hkv)) * slots + j) * d;
        }

        int qRow(int bi, int hi, int i) {
            return ((bi * h + hi) * tq + i) * d;
        }
    }

    public static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    /** out [B, H, Tq, D] and lse [B, H, Tq]. */
    public record Forward(double[] out, double[] lse) {}

    public static Forward forward(Problem p) {
        double[] out = new double[p.b * p.h * p.tq * p.d], lse = new double[p.b * p.h * p.tq];
        double[] s = new double[Math.max(1, p.tk)];
        for (int bi = 0; bi < p.b; bi++)
            for (int hi = 0; hi < p.h; hi++)
                for (int i = 0; i < p.tq; i++) {
                    int lo = p.keyStart(bi), hiKey = p.tk - p.tq + i, qr = p.qRow(bi, hi, i), row = (bi * p.h + hi) * p.tq + i;
                    if (lo > hiKey) {
                        lse[row] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = lo; j <= hiKey; j++) {
                        s[j] = p.scale * dot(p.q, qr, p.k, p.kvRow(bi, hi, j), p.d);
                        m = Math.max(m, s[j]);
                    }
                    double sum = 0;
                    for (int j = lo; j <= hiKey; j++) sum += Math.exp(s[j] - m);
                    lse[row] = m + Math.log(sum);
                    for (int j = lo; j <= hiKey; j++) {
                        double pj = Math.exp(s[j] - lse[row]);
                        int vr = p.kvRow(bi, hi, j);
                        for (int x = 0; x < p.d; x++) out[qr + x] += pj * p.v[vr + x];
                    }
                }
        return new Forward(out, lse);
    }

    /** Σ dO·o: the objective whose gradients {@link #backward} computes (for finite differences). */
    public static double objective(Problem p, float[] dout) {
        double[] o = forward(p).out();
        double l = 0;
        for (int i = 0; i < o.length; i++) l += dout[i] * o[i];
        return l;
    }

    /** dq [B, H, Tq, D], dk and dv [B, Hkv, S, D]. */
    public record Grads(double[] dq, double[] dk, double[] dv) {}

    public static Grads backward(Problem p, float[] dout) {
        double[] dq = new double[p.q.length], dk = new double[p.k.length], dv = new double[p.v.length];
        double[] lse = forward(p).lse();
        double[] pr = new double[Math.max(1, p.tk)], dp = new double[Math.max(1, p.tk)];
        for (int bi = 0; bi < p.b; bi++)
            for (int hi = 0; hi < p.h; hi++)
                for (int i = 0; i < p.tq; i++) {
                    int lo = p.keyStart(bi), hiKey = p.tk - p.tq + i, qr = p.qRow(bi, hi, i), row = (bi * p.h + hi) * p.tq + i;
                    if (lo > hiKey) continue;
                    double dot = 0;
                    for (int j = lo; j <= hiKey; j++) {
                        int kr = p.kvRow(bi, hi, j);
                        pr[j] = Math.exp(p.scale * dot(p.q, qr, p.k, kr, p.d) - lse[row]);
                        double g = 0;
                        for (int x = 0; x < p.d; x++) g += dout[qr + x] * p.v[kr + x];
                        dp[j] = g;
                        dot += pr[j] * g;
                    }
                    for (int j = lo; j <= hiKey; j++) {
                        int kr = p.kvRow(bi, hi, j);
                        double ds = pr[j] * (dp[j] - dot) * p.scale;
                        for (int x = 0; x < p.d; x++) {
                            dq[qr + x] += ds * p.k[kr + x];
                            dk[kr + x] += ds * p.q[qr + x];
                            dv[kr + x] += pr[j] * dout[qr + x];
                        }
                    }
                }
        return new Grads(dq, dk, dv);
    }

    private static double dot(double[] a, int ao, double[] b, int bo, int n) {
        double s = 0;
        for (int x = 0; x < n; x++) s += a[ao + x] * b[bo + x];
        return s;
    }
}
