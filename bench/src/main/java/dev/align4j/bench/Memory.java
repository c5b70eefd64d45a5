package dev.align4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Host memory of this process from /proc/self/status: VmRSS now and VmHWM, its peak. Writing 5 to
 * /proc/self/clear_refs resets the peak to the current RSS (Linux ≥ 4.0), so the peak of one kernel call
 * can be measured; where that is not allowed the peak is the process's since start, which only overstates.
 * Native temporaries (malloc/cudaMallocHost of a large buffer is a fresh mmap) show in RSS on every call.
 */
final class Memory {
    private Memory() {}

    static long rssBytes() {
        return field("VmRSS:");
    }

    static long peakBytes() {
        return field("VmHWM:");
    }

    /** Resets VmHWM to the current RSS; false when the kernel does not allow it. */
    static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    /** Bytes by which RSS rose above its level before {@code body} while it ran (its first call: allocations show). */
    static long extraPeakBytes(Runnable body) {
        long before = rssBytes();
        boolean reset = resetPeak();
        body.run();
        long peak = peakBytes();
        return reset && before >= 0 && peak >= 0 ? Math.max(0, peak - before) : -1;
    }

    /**
     * Java heap bytes this thread allocated while {@code body} ran: the naive baseline's N×V temporaries
     * (RSS would show them only on the first call, before the heap holds the pages).
     */
    static long allocatedBytes(Runnable body) {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        if (!(mx instanceof com.sun.management.ThreadMXBean)) {
            body.run();
            return -1;
        }
        com.sun.management.ThreadMXBean sun = (com.sun.management.ThreadMXBean) mx;
        long before = sun.getCurrentThreadAllocatedBytes();
        body.run();
        return sun.getCurrentThreadAllocatedBytes() - before;
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024; // kB
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: unknown
        }
        return -1;
    }
}
