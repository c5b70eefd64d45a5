package dev.align4j.tensor;

import java.util.Arrays;

/**
 * A dense, row-major array in native memory (host memory for the CPU, device memory for CUDA), owned by a
 * {@link Scope}. Closing a tensor, or its scope, frees the memory; any use after that throws
 * {@link IllegalStateException}. Created only through a scope.
 */
public final class Tensor implements AutoCloseable {
    private final Scope scope;
    private final Device device;
    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private long address;
    private boolean closed;
    /** For a view: the owning tensor, whose memory this one shares (null for an owner). */
    private final Tensor parent;
    /** For a view: its first element's byte offset into the parent's memory. */
    private final long offsetBytes;

    Tensor(Scope scope, Device device, DType dtype, long[] shape, long address) {
        this.scope = scope;
        this.device = device;
        this.dtype = dtype;
        this.shape = shape;
        this.numel = numel(shape);
        this.address = address;
        this.parent = null;
        this.offsetBytes = 0;
    }

    private Tensor(Tensor owner, long offsetBytes, long[] shape) {
        this.scope = owner.scope;
        this.device = owner.device;
        this.dtype = owner.dtype;
        this.shape = shape;
        this.numel = numel(shape);
        this.parent = owner;
        this.offsetBytes = offsetBytes;
    }

    /**
     * A view of {@code numel(shape)} consecutive elements starting at element {@code offsetElements}: it shares
     * this tensor's memory (writes through either show in both), is not registered with the scope, and frees
     * nothing when closed. It becomes unusable when this tensor (the owner) is closed. Views of views refer to
     * the same owner. This is how a model's parameters live in one allocation with named views.
     */
    public Tensor view(long offsetElements, long... shape) {
        long[] dims = shape.clone();
        long n = numel(dims);
        if (isClosed()) throw new IllegalStateException("tensor " + describe() + " is closed");
        if (offsetElements < 0 || offsetElements > numel || n > numel - offsetElements)
            throw new IndexOutOfBoundsException("view of " + n + " elements at offset " + offsetElements + " exceeds "
                    + describe());
        Tensor owner = parent == null ? this : parent;
        return new Tensor(owner, offsetBytes + offsetElements * dtype.bytes(), dims);
    }

    /** True for a tensor made by {@link #view}. */
    public boolean isView() {
        return parent != null;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) throw new IllegalArgumentException("shape[" + i + "] = " + shape[i] + " is negative");
            n = Math.multiplyExact(n, shape[i]);
        }
        return n;
    }

    public Device device() {
        return device;
    }

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long numel() {
        return numel;
    }

    public long byteSize() {
        return numel * dtype.bytes();
    }

    public Scope scope() {
        return scope;
    }

    public boolean isClosed() {
        synchronized (this) {
            if (closed) return true;
        }
        return parent != null && parent.isClosed();
    }

    /** The native address, for the binding layer only; throws when closed (for a view: when it or its owner is). */
    long address() {
        if (parent != null) {
            synchronized (this) {
                if (closed) throw new IllegalStateException("tensor " + describe() + " is closed");
            }
            return parent.address() + offsetBytes;
        }
        synchronized (this) {
            if (closed) throw new IllegalStateException("tensor " + describe() + " is closed");
            return address;
        }
    }

    /** Copies {@code data} (exactly numel() values) into this F32 tensor. */
    public Tensor copyFrom(float[] data) {
        return copyIn(DType.F32, data, data.length, NativeLib::a4j_copy_in);
    }

    /** Copies {@code data} (exactly numel() values) into this I32 tensor. */
    public Tensor copyFrom(int[] data) {
        return copyIn(DType.I32, data, data.length, NativeLib::a4j_copy_in);
    }

    /** Copies {@code data} (exactly numel() values) into this F64 tensor. */
    public Tensor copyFrom(double[] data) {
        return copyIn(DType.F64, data, data.length, NativeLib::a4j_copy_in);
    }

    /** Copies another tensor of the same dtype, element count and device into this one. */
    public Tensor copyFrom(Tensor src) {
        if (src.dtype != dtype || src.numel != numel || !src.device.equals(device))
            throw new IllegalArgumentException("copyFrom: source " + src.describe() + " does not match " + describe());
        Backend.check(NativeLib.a4j_copy(device.nativeId(), address(), src.address(), byteSize()), "copy on " + device);
        return this;
    }

    /** Sets every element to zero. */
    public Tensor zero() {
        Backend.check(NativeLib.a4j_memset0(device.nativeId(), address(), byteSize()), "zero on " + device);
        return this;
    }

    public float[] toFloatArray() {
        return copyOut(DType.F32, new float[arrayLength()], 0, numel, NativeLib::a4j_copy_out);
    }

    public int[] toIntArray() {
        return copyOut(DType.I32, new int[arrayLength()], 0, numel, NativeLib::a4j_copy_out);
    }

    public double[] toDoubleArray() {
        return copyOut(DType.F64, new double[arrayLength()], 0, numel, NativeLib::a4j_copy_out);
    }

    public long[] toLongArray() {
        return copyOut(DType.I64, new long[arrayLength()], 0, numel, NativeLib::a4j_copy_out);
    }

    /** One F32 element (a device round trip on CUDA: for messages and tests, not loops). */
    public float getFloat(long index) {
        checkIndex(index);
        return copyOut(DType.F32, new float[1], index, 1, NativeLib::a4j_copy_out)[0];
    }

    /** One I32 element (a device round trip on CUDA: for messages and tests, not loops). */
    public int getInt(long index) {
        checkIndex(index);
        return copyOut(DType.I32, new int[1], index, 1, NativeLib::a4j_copy_out)[0];
    }

    /** One of NativeLib's a4j_copy_in overloads (float[], int[], ...). */
    private interface CopyIn<A> {
        int copy(int device, long dst, A src, long bytes);
    }

    /** One of NativeLib's a4j_copy_out overloads (float[], int[], double[], long[]). */
    private interface CopyOut<A> {
        int copy(int device, A dst, long src, long bytes);
    }

    /** Copies all of {@code data} ({@code length} values) in; the tensor must be of {@code type} and that size. */
    private <A> Tensor copyIn(DType type, A data, int length, CopyIn<A> copyIn) {
        requireType(type);
        requireLength(length);
        Backend.check(copyIn.copy(device.nativeId(), address(), data, byteSize()), "copy to " + device);
        return this;
    }

    /** Copies {@code count} elements from element {@code first} on into {@code out}; the tensor must be {@code type}. */
    private <A> A copyOut(DType type, A out, long first, long count, CopyOut<A> copyOut) {
        requireType(type);
        long size = type.bytes();
        Backend.check(copyOut.copy(device.nativeId(), out, address() + first * size, count * size), "copy from " + device);
        return out;
    }

    private void checkIndex(long index) {
        if (index < 0 || index >= numel)
            throw new IndexOutOfBoundsException("index " + index + " outside " + describe());
    }

    private int arrayLength() {
        if (numel > Integer.MAX_VALUE - 8)
            throw new IllegalStateException(describe() + " has too many elements for a Java array");
        return (int) numel;
    }

    private void requireType(DType t) {
        if (dtype != t) throw new IllegalArgumentException("tensor " + describe() + " is " + dtype + ", not " + t);
    }

    private void requireLength(int length) {
        if (length != numel)
            throw new IllegalArgumentException("data has " + length + " values, tensor " + describe() + " has " + numel);
    }

    /** Frees the memory now (a view only marks itself closed); idempotent. */
    @Override
    public void close() {
        long addr;
        synchronized (this) {
            if (closed) return;
            if (parent != null) {
                closed = true;
                return;
            }
            closed = true;
            addr = address;
            address = 0;
        }
        scope.forget(this);
        Backend.check(NativeLib.a4j_free(device.nativeId(), addr), "free on " + device);
    }

    /** e.g. {@code F32[4, 32000]@cpu}. */
    public String describe() {
        return dtype + Arrays.toString(shape) + "@" + device;
    }

    @Override
    public String toString() {
        return "Tensor " + describe() + (isView() ? " (view)" : "") + (isClosed() ? " (closed)" : "");
    }
}
