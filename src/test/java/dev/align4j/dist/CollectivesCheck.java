package dev.align4j.dist;

import dev.align4j.tensor.Collectives;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;

/**
 * Run by {@link DataParallelTest} on every rank of {@code mpirun -np N}: the collectives against their definition.
 * Prints "collectives ok rank R of N" and exits 0, or throws (and the job fails).
 */
public final class CollectivesCheck {
    public static void main(String[] args) {
        Collectives c = Collectives.world();
        int r = c.rank(), n = c.size();
        if (n < 2) throw new AssertionError("not launched as a job of several processes: " + c);
        // F32 in place, larger than one MPI count would be in pieces only with 2^30 elements: a modest size here
        int len = 100_003;
        try (Scope s = new Scope()) {
            float[] x = new float[len];
            for (int i = 0; i < len; i++) x[i] = (r + 1) * 0.5f + i % 7;
            Tensor t = s.empty(Device.cpu(), DType.F32, len).copyFrom(x);
            c.allReduceSum(t);
            float[] y = t.toFloatArray();
            for (int i = 0; i < len; i++) {
                double want = 0;
                for (int k = 0; k < n; k++) want += (k + 1) * 0.5 + i % 7;
                if (Math.abs(y[i] - want) > 1e-4 * Math.abs(want)) throw new AssertionError("F32 sum [" + i + "] " + y[i] + " != " + want);
            }
        }
        double[] sum = c.allReduceSum(r, 1.0, r * 1e-9), max = c.allReduceMax(r, -r);
        if (sum[0] != n * (n - 1) / 2.0 || sum[1] != n || max[0] != n - 1 || max[1] != 0)
            throw new AssertionError("F64 sum/max: " + java.util.Arrays.toString(sum) + " " + java.util.Arrays.toString(max));
        c.barrier();
        System.out.println("collectives ok rank " + r + " of " + n);
    }
}
