package dev.align4j.tensor;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * The GEMM binding under {@code dev.align4j.kernels.Matmul}, which validates every argument first. One native
 * entry point, {@code a4j_gemm}: on the CPU it calls OpenBLAS (loaded by JavaCPP's presets, which bundle
 * libopenblas; only the BLAS part, not LAPACK) through the function addresses registered here
 * (native/gemm_cpu.h); on CUDA it calls cuBLAS, which the CUDA backend loads itself (cuda/gemm_cublas.cuh).
 * Row-major throughout.
 *
 * <p>OpenBLAS threads, set when OpenBLAS loads: the system property {@value #THREADS_PROPERTY}, else the
 * environment variable {@code OPENBLAS_NUM_THREADS}, else ONE; {@link #setCpuThreads(int)} changes it later. The
 * cores are used all the same: the native GEMM cuts a large product into one single-threaded OpenBLAS call per
 * OpenMP thread ({@code OMP_NUM_THREADS}, default one per core; native/gemm_cpu.h says why), so its result does
 * not depend on the thread count.
 */
public final class Blas {
    /** System property: number of OpenBLAS threads, applied when OpenBLAS is first loaded. */
    public static final String THREADS_PROPERTY = "align4j.blasThreads";

    private Blas() {}

    /**
     * Loads OpenBLAS once, or remembers why it could not be loaded. The presets are reached by reflection so
     * that this class compiles and loads without them (the failure then names the missing dependency); the
     * products themselves never go through reflection (a4j_gemm calls cblas_sgemm by address).
     */
    private static final class OpenBlas {
        static final String PRESETS = "org.bytedeco.openblas.global.openblas_nolapack";
        static Method setThreads;
        static Method getThreads;
        static final String FAILURE = load();

        private static String load() {
            try {
                Class<?> presets = Class.forName(PRESETS);
                Loader.load(presets);
                setThreads = presets.getMethod("blas_set_num_threads", int.class);
                getThreads = presets.getMethod("blas_get_num_threads");
                // Always set a count: the presets' blas_get_num_threads() answers -1 until a set has run.
                setThreads.invoke(null, defaultThreads());
                // The native GEMM calls OpenBLAS through this address (native/gemm_cpu.h): one JNI call per
                // batch, no Java objects per call.
                Pointer sgemm = Loader.addressof("cblas_sgemm");
                if (sgemm == null || sgemm.isNull()) return "OpenBLAS is loaded but cblas_sgemm was not found";
                Backend.check(NativeLib.a4j_cpu_blas_register(sgemm.address()), "registering OpenBLAS");
                // One-row products (decoding) read the weights once through cblas_sgemv (native/gemm_cpu.h);
                // -Dalign4j.blasGemv=false keeps them on cblas_sgemm.
                Pointer sgemv = Loader.addressof("cblas_sgemv");
                boolean gemv = Boolean.parseBoolean(System.getProperty("align4j.blasGemv", "true"));
                Backend.check(NativeLib.a4j_cpu_blas_register_gemv(gemv && sgemv != null && !sgemv.isNull()
                        ? sgemv.address() : 0), "registering OpenBLAS's sgemv");
                return null;
            } catch (ClassNotFoundException e) {
                return "OpenBLAS is not on the class path: the CPU GEMM needs org.bytedeco:openblas:0.3.31-1.5.13 and its "
                        + "linux-x86_64 natives jar";
            } catch (InvocationTargetException e) {
                return "OpenBLAS (org.bytedeco:openblas) could not be loaded: " + e.getCause();
            } catch (UnsatisfiedLinkError | ReflectiveOperationException | RuntimeException e) {
                return "OpenBLAS (org.bytedeco:openblas, linux-x86_64 natives) could not be loaded: " + e;
            }
        }

        /** The property, else OPENBLAS_NUM_THREADS, else 1 (the native GEMM threads large products itself). */
        private static int defaultThreads() {
            for (String v : new String[] {System.getProperty(THREADS_PROPERTY), System.getenv("OPENBLAS_NUM_THREADS")}) {
                if (v == null || v.isBlank()) continue;
                try {
                    int n = Integer.parseInt(v.trim().split(",")[0]);
                    if (n >= 1) return n;
                } catch (NumberFormatException e) {
                    // not a count: fall through to the next source
                }
            }
            return 1;
        }

        static void require() {
            if (FAILURE != null) throw new IllegalStateException(FAILURE);
        }

        static Object call(Method m, Object... args) {
            try {
                return m.invoke(null, args);
            } catch (InvocationTargetException e) {
                throw new IllegalStateException("OpenBLAS " + m.getName() + " failed: " + e.getCause(), e.getCause());
            } catch (IllegalAccessException e) {
                throw new IllegalStateException("OpenBLAS " + m.getName() + ": " + e, e);
            }
        }
    }

    /** Sets the number of OpenBLAS threads for this JVM (n ≥ 1). */
    public static void setCpuThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("OpenBLAS threads must be >= 1, got " + n);
        OpenBlas.require();
        OpenBlas.call(OpenBlas.setThreads, n);
    }

    /** The number of threads OpenBLAS uses. */
    public static int cpuThreads() {
        OpenBlas.require();
        return (Integer) OpenBlas.call(OpenBlas.getThreads);
    }

    /**
     * For b &lt; batch: C_b = alpha·op(A_b)·op(B_b) + beta·C_b, with op(A_b) M×K, op(B_b) K×N, C_b M×N, all
     * row-major and dense, A_b at element offset b·strideA of {@code a} (likewise B and C). The caller has
     * validated devices, dtypes, shapes and that every size fits a Java int. {@code tf32} allows TF32
     * tensor-core math on CUDA (ignored on the CPU).
     */
    public static void sgemm(Tensor a, Tensor b, Tensor c, boolean transA, boolean transB, long M, long N, long K,
                             float alpha, float beta, long batch, long strideA, long strideB, long strideC,
                             boolean tf32) {
        // Row-major leading dimensions: elements per stored row, at least 1 (BLAS rejects 0 even when empty).
        long lda = Math.max(1, transA ? M : K);
        long ldb = Math.max(1, transB ? K : N);
        long ldc = Math.max(1, N);
        Device device = c.device();
        // On CUDA too: a backend without cuBLAS (the emulated GPU) multiplies with the host's OpenBLAS.
        OpenBlas.require();
        Backend.check(NativeLib.a4j_gemm(device.nativeId(), transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a.address(),
                lda, strideA, b.address(), ldb, strideB, beta, c.address(), ldc, strideC, batch,
                tf32 ? NativeConstants.GEMM_TF32 : 0), "GEMM on " + device);
    }
}
