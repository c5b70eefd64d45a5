package dev.align4j.tensor;

import java.util.Map;

/**
 * Collective operations over the processes of a data-parallel job: Open MPI on the CPU (native/mpi_shim.h; its C API
 * loaded at run time, so a single process needs no MPI at all). {@link #world()} is this process's: the MPI job's
 * {@code MPI_COMM_WORLD} when Open MPI's {@code mpirun} launched it (it sets {@code OMPI_COMM_WORLD_SIZE}), else a
 * job of one, on which every operation is the identity. Every rank must call the same operations in the same order
 * with the same sizes, as MPI requires. A failed call throws naming the rank; {@link #abort} ends every rank.
 *
 * <p>Tensors on the CPU are reduced in place at their own memory. Tensors on a GPU are reduced by NCCL (cuda/nccl_shim.cuh,
 * {@code libnccl.so.2} from the user's CUDA installation, {@code -D}{@value #NCCL_PROPERTY}{@code =PATH} for another): on
 * the first such call every rank loads it, rank 0 makes the ncclUniqueId, MPI carries it to the others, and each rank
 * makes its communicator on its tensor's GPU (one GPU per rank). Where any rank cannot (no NCCL, the emulated GPU),
 * every rank falls back to a host copy and MPI, and {@link #ncclUnavailableReason()} says why. Sums are MPI's or NCCL's:
 * the order in which ranks' values are added is the library's (for two ranks one addition, the same on both).
 */
public final class Collectives {
    /** The shared library loaded for MPI; Open MPI 3 to 5 all install it under this soname. */
    public static final String LIBRARY_PROPERTY = "align4j.mpi.library";
    static final String DEFAULT_LIBRARY = "libmpi.so.40";
    /** The NCCL library loaded for GPU tensors. */
    public static final String NCCL_PROPERTY = "align4j.nccl.library";
    static final int NCCL_ID_BYTES = 128;

    private static final Collectives SINGLE = new Collectives(0, 1, false);
    private static Collectives world;

    private final int rank, size;
    private final boolean mpi;
    /** The thread of the asynchronous operations (made on first use), and what it has not finished. */
    private java.util.concurrent.ExecutorService async;
    private final java.util.ArrayDeque<java.util.concurrent.Future<?>> pending = new java.util.ArrayDeque<>();
    private long asyncNanos;
    private volatile Thread commThread;
    /** NCCL's state: the native id of the device its communicator is on (-1: none), and why it is not used. */
    private int ncclDevice = -1;
    private String ncclWhy;

    private Collectives(int rank, int size, boolean mpi) {
        this.rank = rank;
        this.size = size;
        this.mpi = mpi;
    }

    /** A job of one process: rank 0 of 1, every operation the identity. */
    public static Collectives single() {
        return SINGLE;
    }

    /**
     * This process's job: MPI's world when launched by Open MPI's mpirun (loaded and initialised on the first call;
     * a library that cannot be loaded throws naming it and {@value #LIBRARY_PROPERTY}), else {@link #single()}.
     */
    public static synchronized Collectives world() {
        if (world == null) world = launchedByMpirun(System.getenv()) ? mpi() : SINGLE;
        return world;
    }

    static boolean launchedByMpirun(Map<String, String> env) {
        return env.containsKey("OMPI_COMM_WORLD_SIZE");
    }

    private static Collectives mpi() {
        String lib = System.getProperty(LIBRARY_PROPERTY, DEFAULT_LIBRARY);
        Backend.check(NativeLib.a4j_mpi_load(lib), "loading Open MPI (" + lib + "; set -D" + LIBRARY_PROPERTY + "=PATH for another)");
        Collectives c = new Collectives(NativeLib.a4j_mpi_rank(), NativeLib.a4j_mpi_size(), true);
        Runtime.getRuntime().addShutdownHook(new Thread(NativeLib::a4j_mpi_finalize, "mpi-finalize"));
        return c;
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    /** More than one process. */
    public boolean distributed() {
        return size > 1;
    }

    /** Whether item {@code k} of a list dealt out round-robin (k, k + N, ... to rank k) is this rank's. */
    public boolean owns(long k) {
        return k % size == rank;
    }

    /** The last of {@code n} items dealt out round-robin that is this rank's, or −1: where its last backward runs. */
    public int lastOwned(int n) {
        for (int k = n - 1; k >= 0; k--) if (owns(k)) return k;
        return -1;
    }

    /** The rows {@code 0..n-1} of this rank when whole groups of {@code groupSize} consecutive rows are dealt out. */
    public int[] ownedGroupRows(int n, int groupSize) {
        int[] out = new int[n];
        int m = 0;
        for (int i = 0; i < n; i++) if (owns(i / groupSize)) out[m++] = i;
        return java.util.Arrays.copyOf(out, m);
    }

    /**
     * {@link #allReduceSum(Tensor)} on this job's communication thread: returns at once. Asynchronous operations run in
     * the order issued, and every later synchronous operation first waits for them ({@link #drain}), so the ranks, which
     * issue the same operations in the same order, always meet in the same collective. {@code t} must not be touched
     * until then. A job of one does nothing.
     */
    public void allReduceSumAsync(Tensor t) {
        requireFloat(t);
        if (!mpi) return;
        synchronized (pending) {
            if (async == null) {
                async = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                    Thread th = new Thread(r, "mpi-comm");
                    th.setDaemon(true);
                    commThread = th;
                    return th;
                });
            }
            pending.add(async.submit(() -> {
                long t0 = System.nanoTime();
                reduceTensor(t);
                synchronized (pending) {
                    asyncNanos += System.nanoTime() - t0;
                }
            }));
        }
    }

    /**
     * Whether GPU tensors on {@code device} go through NCCL, setting it up on the first call (every rank calls it at the
     * same point: the first all-reduce of a GPU tensor). Every rank agrees: one rank's failure makes all use the host.
     */
    private synchronized boolean nccl(Device device) {
        if (ncclDevice == device.nativeId()) return true;
        if (ncclWhy != null) return false;
        String lib = System.getProperty(NCCL_PROPERTY, "libnccl.so.2");
        String why = null;
        byte[] id = new byte[NCCL_ID_BYTES];
        if (NativeLib.a4j_nccl_load(lib) != NativeConstants.OK) why = "loading " + lib + ": " + NativeLib.a4j_last_error();
        else if (rank == 0 && NativeLib.a4j_nccl_unique_id(id) != NativeConstants.OK) why = "ncclGetUniqueId: " + NativeLib.a4j_last_error();
        if (!agree(why)) return false;
        id = allGather(rank == 0 ? id : new byte[0])[0];
        if (NativeLib.a4j_nccl_init(device.nativeId(), size, rank, id) != NativeConstants.OK)
            why = "ncclCommInitRank on " + device + ": " + NativeLib.a4j_last_error();
        if (!agree(why)) return false;
        ncclDevice = device.nativeId();
        Runtime.getRuntime().addShutdownHook(new Thread(NativeLib::a4j_nccl_destroy, "nccl-destroy"));
        return true;
    }

    /** True when no rank has a reason not to; else records the first reason (this rank's, or that another failed). */
    private boolean agree(String why) {
        double failed = reduceNow(new double[] {why == null ? 0 : 1}, 1)[0];
        if (failed == 0) return true;
        ncclWhy = why != null ? why : "another rank could not set up NCCL";
        return false;
    }

    /** Why GPU tensors go through the host rather than NCCL (null: NCCL is used, or was not needed yet). */
    public synchronized String ncclUnavailableReason() {
        return ncclWhy;
    }

    /** Waits for every asynchronous operation issued so far; a failed one throws here. */
    public void drain() {
        if (Thread.currentThread() == commThread) return; // an asynchronous operation's own collectives: in order already
        while (true) {
            java.util.concurrent.Future<?> f;
            synchronized (pending) {
                f = pending.poll();
            }
            if (f == null) return;
            try {
                f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof RuntimeException r) throw r;
                if (c instanceof Error er) throw er;
                throw new IllegalStateException(c);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for an all-reduce", e);
            }
        }
    }

    /** Nanoseconds the asynchronous operations have spent, in total (for the overlap's measurement). */
    public long asyncNanos() {
        synchronized (pending) {
            return asyncNanos;
        }
    }

    /** {@code t} (F32 or F64) becomes the sum of every rank's {@code t} (same shape on every rank). */
    public void allReduceSum(Tensor t) {
        drain();
        reduceTensor(t);
    }

    private static void requireFloat(Tensor t) {
        if (t == null) throw new IllegalArgumentException("t must not be null");
        if (t.dtype() != DType.F32 && t.dtype() != DType.F64)
            throw new IllegalArgumentException("allReduceSum: F32 or F64 tensors, got " + t.describe());
    }

    private synchronized void reduceTensor(Tensor t) {
        requireFloat(t);
        if (!mpi) return;
        int dtype = t.dtype() == DType.F32 ? 0 : 1;
        if (t.device().isCpu()) {
            Backend.check(NativeLib.a4j_mpi_allreduce(t.address(), t.numel(), dtype, 0), "allReduceSum of " + t.describe() + " on rank " + rank);
            return;
        }
        if (nccl(t.device())) {
            Backend.check(NativeLib.a4j_nccl_allreduce(t.device().nativeId(), t.address(), t.numel(), dtype),
                    "NCCL allReduceSum of " + t.describe() + " on rank " + rank);
            return;
        }
        try (Scope s = new Scope()) { // through the host (no NCCL: ncclUnavailableReason)
            Tensor host = s.empty(Device.cpu(), t.dtype(), t.numel());
            if (dtype == 0) host.copyFrom(t.toFloatArray());
            else host.copyFrom(t.toDoubleArray());
            Backend.check(NativeLib.a4j_mpi_allreduce(host.address(), host.numel(), dtype, 0), "allReduceSum of " + t.describe() + " on rank " + rank);
            if (dtype == 0) t.copyFrom(host.toFloatArray());
            else t.copyFrom(host.toDoubleArray());
        }
    }

    /** The element-wise sum of every rank's {@code x} (a new array; {@code x} unchanged). */
    public double[] allReduceSum(double... x) {
        return reduce(x, 0);
    }

    /** The element-wise maximum of every rank's {@code x}. */
    public double[] allReduceMax(double... x) {
        return reduce(x, 1);
    }

    private double[] reduce(double[] x, int op) {
        drain();
        return reduceNow(x, op);
    }

    private synchronized double[] reduceNow(double[] x, int op) {
        if (x == null) throw new IllegalArgumentException("x must not be null");
        if (!mpi || x.length == 0) return x.clone();
        try (Scope s = new Scope()) {
            Tensor host = s.empty(Device.cpu(), DType.F64, x.length).copyFrom(x);
            Backend.check(NativeLib.a4j_mpi_allreduce(host.address(), x.length, 1, op), "all-reduce of " + x.length + " values on rank " + rank);
            return host.toDoubleArray();
        }
    }

    /**
     * Every rank's {@code mine}, by rank (a job of one: a copy of it): how the ranks share what each computed for its
     * own rows. One length exchange, then one broadcast per rank.
     */
    public byte[][] allGather(byte[] mine) {
        if (mine == null) throw new IllegalArgumentException("mine must not be null");
        if (!mpi) return new byte[][] {mine.clone()};
        double[] lengths = new double[size];
        lengths[rank] = mine.length;
        lengths = allReduceSum(lengths);
        byte[][] out = new byte[size][];
        for (int r = 0; r < size; r++) {
            out[r] = r == rank ? mine.clone() : new byte[(int) lengths[r]];
            broadcast(out[r], r);
        }
        return out;
    }

    /** {@code buf} of rank {@code root}, on every rank (same length everywhere). */
    private void broadcast(byte[] buf, int root) {
        if (buf.length == 0) return;
        drain();
        int[] packed = new int[(buf.length + 3) / 4];
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(packed.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.put(buf).rewind();
        bb.asIntBuffer().get(packed);
        try (Scope s = new Scope()) {
            Tensor t = s.empty(Device.cpu(), DType.I32, packed.length).copyFrom(packed);
            synchronized (this) {
                Backend.check(NativeLib.a4j_mpi_bcast(t.address(), buf.length, root), "broadcast from rank " + root + " on rank " + rank);
            }
            int[] back = t.toIntArray();
            java.nio.ByteBuffer ob = java.nio.ByteBuffer.allocate(back.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ob.asIntBuffer().put(back);
            ob.get(buf);
        }
    }

    /** Waits until every rank has called it. */
    public void barrier() {
        drain();
        synchronized (this) {
            if (mpi) Backend.check(NativeLib.a4j_mpi_barrier(), "barrier on rank " + rank);
        }
    }

    /**
     * Ends every rank of the job with {@code code} (MPI_Abort; Open MPI's mpirun then stops the others): what a rank
     * that fails must do, so that the others do not wait for it forever. In a job of one it returns.
     */
    public void abort(int code) {
        if (mpi) NativeLib.a4j_mpi_abort(code);
    }

    @Override
    public String toString() {
        return mpi ? "MPI rank " + rank + " of " + size : "single process";
    }
}
