package dev.align4j.bench;

import dev.align4j.tensor.Collectives;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The time of an in-place F32 all-reduce (sum) of a CPU tensor over the ranks of an Open MPI job, at several sizes:
 * what a data-parallel step pays per gradient exchange. Rank 0 prints one {@code RESULT} line per size: the median
 * of {@code --reps} calls after {@code --warmup}, and the algorithm bandwidth (bytes / time).
 *
 * <pre>mpirun -np 2 --mca btl self,vader java -cp bench/target/benchmarks.jar dev.align4j.bench.AllReduceBench [--mib 1,16,100]
 * mpirun -np 2 --mca btl self,tcp --mca btl_tcp_if_include lo java -cp ... dev.align4j.bench.AllReduceBench</pre>
 */
public final class AllReduceBench {
    public static void main(String[] args) {
        Map<String, String> o = LlamaBenchSupport.options(args, Map.of("mib", "1,16,100", "reps", "5", "warmup", "2"));
        Collectives c = Collectives.world();
        if (!c.distributed()) throw new IllegalStateException("run it under mpirun -np N (N >= 2)");
        int reps = Integer.parseInt(o.get("reps")), warmup = Integer.parseInt(o.get("warmup"));
        for (String m : o.get("mib").split(",")) {
            long n = Long.parseLong(m.trim()) * (1L << 20) / 4;
            try (Scope s = new Scope()) {
                Tensor t = s.zeros(Device.cpu(), DType.F32, n);
                double[] ms = new double[reps];
                for (int i = 0; i < warmup + reps; i++) {
                    c.barrier();
                    long t0 = System.nanoTime();
                    c.allReduceSum(t);
                    double dt = (System.nanoTime() - t0) / 1e6;
                    if (i >= warmup) ms[i - warmup] = dt;
                }
                double med = LlamaBenchSupport.median(ms);
                if (c.rank() == 0) {
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("bench", "allreduce");
                    r.put("ranks", c.size());
                    r.put("mib", Long.parseLong(m.trim()));
                    r.put("ms", ms);
                    r.put("median_ms", med);
                    r.put("algbw_gb_s", 4.0 * n / (med / 1e3) / 1e9);
                    LlamaBenchSupport.emit(r);
                }
            }
        }
    }
}
