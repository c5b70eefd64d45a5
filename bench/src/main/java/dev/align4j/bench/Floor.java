package dev.align4j.bench;

import dev.align4j.tensor.BenchAccess;
import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.stream.IntStream;

/**
 * The memory floor, measured in the same run as the kernels: how fast this machine can merely move the
 * bytes a kernel must move. On the CPU, by every core over long[] chunks (C2 does not vectorise a plain sum
 * reduction, so it sums 8 bytes at a time into 8 independent accumulators; the bits moved are what count): a sum (read only: the forward's floor) or an in-place increment (read + write of
 * the same buffer: the in-place backward's floor; on some machines it streams faster than a pure read, so a
 * read floor would flatter the backward). On a GPU, a device-to-device copy, which reads and writes
 * (bandwidth = 2·bytes/time), for both. The buffer is as large as the kernel's
 * input up to {@code align4j.bench.floorCapMB} (default 2048): far beyond any cache, a bigger one measures
 * the same bandwidth and would only double the memory a huge shape needs.
 */
final class Floor implements AutoCloseable {
    static final long CAP_BYTES = Long.getLong("align4j.bench.floorCapMB", 2048) << 20;
    private static final int CHUNK_LONGS = 1 << 21; // 16 MiB per chunk: enough pieces to balance the cores

    private final Device device;
    private final long bytes;
    private final long[][] host;   // CPU
    private final Scope scope;    // GPU
    private final Tensor src, dst; // GPU
    private volatile long sink;

    /** A floor buffer of min(bytes, cap) on {@code device}. */
    Floor(Device device, long bytes) {
        this.device = device;
        this.bytes = Math.max(8, Math.min(bytes, CAP_BYTES)) / 8 * 8;
        if (device.isCpu()) {
            long longs = this.bytes / 8;
            int chunks = (int) ((longs + CHUNK_LONGS - 1) / CHUNK_LONGS);
            host = new long[chunks][];
            IntStream.range(0, chunks).parallel().forEach(c -> {
                int n = (int) Math.min(CHUNK_LONGS, longs - (long) c * CHUNK_LONGS);
                long[] a = new long[n];
                java.util.Arrays.fill(a, c + 1); // touch every page
                host[c] = a;
            });
            scope = null;
            src = dst = null;
        } else {
            host = null;
            scope = new Scope();
            src = scope.zeros(device, DType.F32, this.bytes / 4);
            dst = scope.empty(device, DType.F32, this.bytes / 4);
        }
    }

    /** Bytes of the buffer actually used. */
    long bytes() {
        return bytes;
    }

    /** One pass: a parallel read (or, with {@code write}, update) of the buffer on the CPU, a device copy on a GPU. */
    void pass(boolean write) {
        if (host != null && write) {
            IntStream.range(0, host.length).parallel().forEach(c -> increment(host[c]));
        } else if (host != null) {
            sink += IntStream.range(0, host.length).parallel().mapToLong(c -> sum(host[c])).sum();
        } else {
            dst.copyFrom(src);
            BenchAccess.synchronize(device);
        }
    }

    /** Bytes of memory traffic one pass moves (reads, plus the writes of an update or of the GPU copy). */
    long trafficBytes(boolean write) {
        return host != null && !write ? bytes : 2 * bytes;
    }

    /** Measured bandwidth in GB/s (10⁹ bytes/s) of the median pass. */
    double gbPerSecond(boolean write, int warmup, int reps) {
        double ms = Timing.medianMs(warmup, reps, () -> pass(write));
        return trafficBytes(write) / (ms * 1e6);
    }

    private static void increment(long[] a) {
        for (int i = 0; i < a.length; i++) a[i] += 1;
    }

    private static long sum(long[] a) {
        long s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = 0;
        for (; i + 7 < a.length; i += 8) {
            s0 += a[i];
            s1 += a[i + 1];
            s2 += a[i + 2];
            s3 += a[i + 3];
            s4 += a[i + 4];
            s5 += a[i + 5];
            s6 += a[i + 6];
            s7 += a[i + 7];
        }
        for (; i < a.length; i++) s0 += a[i];
        return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
    }

    @Override
    public void close() {
        if (scope != null) scope.close();
    }
}
