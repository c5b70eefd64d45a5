package dev.align4j.tensor;

/**
 * What the benchmarks need from the tensor layer beyond the public API: filling a tensor piecewise (a
 * logits tensor of 16384×128256 floats is too big for one Java array) and waiting for a device. It lives
 * in the library's package (a split package on the class path, benchmarks only) so that the public API
 * stays as it is; if Tensor gains an offset copy and Device a synchronize(), this class can go.
 */
public final class BenchAccess {
    private BenchAccess() {}

    /** Copies {@code src[0, len)} into {@code t} at element {@code offset} (F32 tensors). */
    public static void copyIn(Tensor t, long offset, float[] src, int len) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException("copyIn: " + t.describe() + " is not F32");
        if (offset < 0 || len < 0 || len > src.length || offset + len > t.numel())
            throw new IndexOutOfBoundsException("copyIn: [" + offset + ", " + (offset + len) + ") outside " + t.describe());
        Backend.check(NativeLib.a4j_copy_in(t.device().nativeId(), t.address() + offset * 4, src, (long) len * 4),
                "copy to " + t.device());
    }

    /** Waits until every kernel queued on {@code device} has finished (a no-op on the CPU). */
    public static void synchronize(Device device) {
        Backend.check(NativeLib.a4j_synchronize(device.nativeId()), "synchronize " + device);
    }
}
