package dev.align4j.cli;

import dev.align4j.model.LmConfig;
import dev.align4j.tensor.Device;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Whether a model fits, checked from its shape before anything is allocated, so that a size flag too large for the
 * machine is one line naming the flags and the sizes (exit 2) rather than a minute of work ending in an
 * OutOfMemoryError. Counted: the parameters and their gradients (off-heap, on the device), AdamW's two moments
 * and the activations of a (B, T) batch ({@link LmConfig#activationBytes(int, int, int)}) when training, and
 * the parameters once more in the Java heap (GPT-2 initialisation and checkpoint loading build them there).
 *
 * <p>Off-heap memory is compared with the physical memory less the Java heap already committed; the kernel's "free"
 * figure is not used because it leaves out the page cache, which the kernel gives back on demand. The heap part is
 * compared with the heap's maximum. A CUDA device's memory cannot be queried from Java here, so on CUDA only the heap
 * is checked.
 */
final class MemoryBudget {
    private MemoryBudget() {}

    /** Training {@code c} on batches of {@code b} x {@code t} tokens: the flags that chose them name the culprit. */
    static void requireTraining(LmConfig c, int b, int t, Device device, String modelFlags, String batchFlags) {
        long p = parameters(c, modelFlags);
        long state = 16 * p; // parameters, gradients, AdamW m and v: F32 each
        long acts = c.activationBytes(b, t, 0);
        long need = saturatingAdd(state, acts);
        String what = "training " + modelFlags + " with " + batchFlags + " needs " + bytes(need) + " (parameters, gradients and AdamW "
                + "moments " + bytes(state) + ", activations of " + b + " x " + t + " tokens " + bytes(acts) + ")";
        requireOffHeap(device, need, what, acts > state ? batchFlags : modelFlags);
        requireHeap(saturatingAdd(4 * p, saturatingTimes(16L * b, t)), what, modelFlags); // + the host batches
    }

    /** Creating or loading {@code c} (parameters and gradients), e.g. for generation or as a reference model. */
    static void requireModel(LmConfig c, Device device, String modelFlags) {
        long p = parameters(c, modelFlags);
        String what = "the model " + modelFlags + " needs " + bytes(8 * p) + " (" + p + " parameters and their gradients)";
        requireOffHeap(device, 8 * p, what, modelFlags);
        requireHeap(4 * p, what, modelFlags);
    }

    /** The parameter count; more than one Java array holds is refused (initialisation and loading use one). */
    private static long parameters(LmConfig c, String modelFlags) {
        long p = c.numParameters();
        if (p > Integer.MAX_VALUE - 8)
            throw CliException.usage("the model " + modelFlags + " has " + p + " parameters, more than the " + (Integer.MAX_VALUE - 8)
                    + " that one Java array holds; " + lower(modelFlags));
        return p;
    }

    private static void requireOffHeap(Device device, long need, String what, String culprits) {
        if (!device.isCpu()) return;
        long physical = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        long available = physical - Runtime.getRuntime().totalMemory();
        if (need > available)
            throw CliException.usage("not enough memory: " + what + ", more than the " + bytes(available) + " of physical memory "
                    + "outside the Java heap (" + bytes(physical) + " in all); " + lower(culprits));
    }

    /** Against the heap's maximum: what is in use now may be garbage, so only a need that can never fit is refused. */
    private static void requireHeap(long need, String what, String culprits) {
        long max = Runtime.getRuntime().maxMemory();
        if (need > max)
            throw CliException.usage("not enough memory in the Java heap: " + what + ", " + bytes(need) + " of it in the Java heap, more than its "
                    + "maximum of " + bytes(max) + "; " + lower(culprits) + " or raise -Xmx");
    }

    /** "--batch 16 --seq 128" -> "lower --batch or --seq"; "--model DIR" -> "choose a smaller --model". */
    private static String lower(String flags) {
        List<String> n = new ArrayList<>();
        String[] w = flags.split(" ");
        for (int i = 0; i + 1 < w.length; i += 2) {
            if (!w[i + 1].matches("\\d+")) return "choose a smaller " + w[i];
            if (!w[i].equals("--heads")) n.add(w[i]); // the heads split the width: fewer save no parameters
        }
        if (n.size() < 2) return "lower " + String.join("", n);
        return "lower " + String.join(", ", n.subList(0, n.size() - 1)) + " or " + n.get(n.size() - 1);
    }

    private static long saturatingTimes(long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    private static long saturatingAdd(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }

    /** 1536 -> "1.5 KiB". */
    static String bytes(long n) {
        if (n == Long.MAX_VALUE) return "more than 8 EiB";
        if (n < 1024) return n + " B";
        int unit = (63 - Long.numberOfLeadingZeros(n)) / 10;
        return String.format(Locale.ROOT, "%.1f %siB", n / Math.pow(1024, unit), "KMGTPE".charAt(unit - 1));
    }
}
