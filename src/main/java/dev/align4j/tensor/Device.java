package dev.align4j.tensor;

import java.util.Locale;
import java.util.Objects;

/**
 * Where tensors live and kernels run: the CPU (always available) or a CUDA GPU. The CUDA backend is only
 * used when asked for, by {@link #cuda(int)}, {@link #parse(String)} or the system property
 * {@code align4j.device}; when it cannot be used, asking for it fails with the reason, never a silent
 * fallback to the CPU.
 */
public final class Device {
    /** System property naming the default device: {@code cpu}, {@code cuda} or {@code cuda:K}. */
    public static final String PROPERTY = "align4j.device";

    private static final Device CPU = new Device(-1);

    private final int cudaIndex; // -1 for the CPU

    private Device(int cudaIndex) {
        this.cudaIndex = cudaIndex;
    }

    /** The CPU backend. */
    public static Device cpu() {
        return CPU;
    }

    /**
     * CUDA device {@code index}.
     *
     * @throws IllegalStateException with the reason when the CUDA backend is unavailable or has no such device
     */
    public static Device cuda(int index) {
        if (index < 0) throw new IllegalArgumentException("cuda device index must be >= 0, got " + index);
        int count = Backend.cudaDeviceCount();
        if (count == 0) throw new IllegalStateException("CUDA is unavailable: " + Backend.cudaUnavailableReason());
        if (index >= count)
            throw new IllegalStateException("cuda:" + index + " does not exist: " + count + " CUDA device(s) visible");
        return new Device(index);
    }

    /** The number of usable CUDA devices (0 without the backend, a driver or a GPU). */
    public static int cudaDeviceCount() {
        return Backend.cudaDeviceCount();
    }

    /** True when at least one CUDA device can be used. */
    public static boolean cudaAvailable() {
        return Backend.cudaDeviceCount() > 0;
    }

    /** Why CUDA cannot be used, or null when it can. */
    public static String cudaUnavailableReason() {
        return cudaAvailable() ? null : Backend.cudaUnavailableReason();
    }

    /** Parses {@code cpu}, {@code cuda} (= {@code cuda:0}) or {@code cuda:K}. */
    public static Device parse(String spec) {
        Objects.requireNonNull(spec, "device");
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) return cpu();
        if (s.equals("cuda") || s.equals("gpu")) return cuda(0);
        if (s.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(s.substring(5)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("device: bad CUDA index in '" + spec + "'");
            }
        }
        throw new IllegalArgumentException("device: expected cpu, cuda or cuda:K, got '" + spec + "'");
    }

    /** The device named by the system property {@value #PROPERTY}, or the CPU when it is not set. */
    public static Device fromSystemProperty() {
        String spec = System.getProperty(PROPERTY);
        return spec == null || spec.isBlank() ? cpu() : parse(spec);
    }

    public boolean isCpu() {
        return cudaIndex < 0;
    }

    public boolean isCuda() {
        return cudaIndex >= 0;
    }

    /**
     * Waits until the work queued on this device has finished (kernel launches on CUDA are asynchronous;
     * copies back to the host wait by themselves). A no-op on the CPU. For timing, not for correctness.
     */
    public void synchronize() {
        Backend.check(NativeLib.a4j_synchronize(nativeId()), "synchronize " + this);
    }

    /** The id used by the native layer: 0 for the CPU, 1 + k for cuda:k. */
    int nativeId() {
        return cudaIndex + 1;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device && ((Device) o).cudaIndex == cudaIndex;
    }

    @Override
    public int hashCode() {
        return cudaIndex;
    }

    @Override
    public String toString() {
        return isCpu() ? "cpu" : "cuda:" + cudaIndex;
    }
}
