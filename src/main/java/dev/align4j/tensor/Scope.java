package dev.align4j.tensor;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Owns tensors: every tensor is allocated through a scope, and closing the scope frees those still open.
 * Use with try-with-resources. {@link #liveCount()} lets tests check that nothing leaks. Thread-safe.
 */
public final class Scope implements AutoCloseable {
    private static final java.util.concurrent.atomic.AtomicLong GLOBAL_LIVE = new java.util.concurrent.atomic.AtomicLong();

    private final Set<Tensor> live = new LinkedHashSet<>();
    private boolean closed;

    public Scope() {}

    /** An uninitialised tensor. */
    public Tensor empty(Device device, DType dtype, long... shape) {
        long[] dims = shape.clone();
        long bytes = Math.multiplyExact(Tensor.numel(dims), (long) dtype.bytes());
        synchronized (this) {
            if (closed) throw new IllegalStateException("scope is closed");
            long addr = NativeLib.a4j_malloc(device.nativeId(), bytes);
            if (addr == 0) {
                String msg = "allocating " + dtype + java.util.Arrays.toString(dims) + " on " + device + ": "
                        + NativeLib.a4j_last_error();
                throw new OutOfMemoryError(msg);
            }
            Tensor t = new Tensor(this, device, dtype, dims, addr);
            live.add(t);
            GLOBAL_LIVE.incrementAndGet();
            return t;
        }
    }

    /** A tensor of zeros. */
    public Tensor zeros(Device device, DType dtype, long... shape) {
        return empty(device, dtype, shape).zero();
    }

    /** An F32 tensor holding {@code data}; shape defaults to [data.length]. */
    public Tensor of(Device device, float[] data, long... shape) {
        return empty(device, DType.F32, shape.length == 0 ? new long[] {data.length} : shape).copyFrom(data);
    }

    /** An I32 tensor holding {@code data}; shape defaults to [data.length]. */
    public Tensor of(Device device, int[] data, long... shape) {
        return empty(device, DType.I32, shape.length == 0 ? new long[] {data.length} : shape).copyFrom(data);
    }

    /** Number of tensors of this scope that are still open. */
    public synchronized int liveCount() {
        return live.size();
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    synchronized void forget(Tensor t) {
        if (live.remove(t)) GLOBAL_LIVE.decrementAndGet();
    }

    /** Open tensors across all scopes of this JVM: a leak check compares it before and after a piece of work. */
    public static long globalLiveCount() {
        return GLOBAL_LIVE.get();
    }

    /** Closes every tensor still open; idempotent. */
    @Override
    public void close() {
        List<Tensor> open;
        synchronized (this) {
            if (closed) return;
            closed = true;
            open = new ArrayList<>(live);
        }
        RuntimeException first = null;
        for (Tensor t : open) {
            try {
                t.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
