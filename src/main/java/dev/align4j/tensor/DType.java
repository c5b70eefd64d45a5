package dev.align4j.tensor;

/** Element types of a {@link Tensor}. Kernels compute in F32; I32 holds token ids; F64 and I64 are scratch. */
public enum DType {
    F32(4),
    I32(4),
    F64(8),
    I64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }
}
