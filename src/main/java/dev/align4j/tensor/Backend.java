package dev.align4j.tensor;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;

/**
 * Loads the native library once, loads the CUDA backend when it is asked for, and turns native error codes
 * into exceptions. The CUDA backend (libalign4j_cuda.so, a resource beside the JNI library) links cudart
 * statically, so loading it never fails for want of libcudart; with no driver or no GPU it reports zero
 * devices and the reason.
 */
final class Backend {
    private static final String CUDA_RESOURCE = "linux-x86_64/libalign4j_cuda.so";
    /** System property: path of a libalign4j_cuda.so to use instead of the one in the jar. */
    static final String CUDA_LIBRARY_PROPERTY = "align4j.cudaLibrary";

    private static volatile boolean cudaProbed;
    private static int cudaCount;
    private static String cudaReason = "not probed";

    private Backend() {}

    static synchronized int cudaDeviceCount() {
        if (!cudaProbed) {
            cudaProbed = true;
            try {
                Path lib = locateCudaLibrary();
                if (lib == null) {
                    cudaReason = "this build has no CUDA backend (nvcc was not on PATH when align4j was built, or it was built with "
                            + "-Dalign4j.cuda=0, as ./align4j builds on a machine without a GPU)";
                } else if (NativeLib.a4j_cuda_load(lib.toString()) != 0) {
                    cudaReason = NativeLib.a4j_last_error();
                } else {
                    cudaCount = NativeLib.a4j_cuda_device_count();
                    if (cudaCount == 0) cudaReason = "no usable CUDA device: " + cudaLastError();
                }
            } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
                cudaReason = "cannot load the CUDA backend: " + e;
            }
        }
        return cudaCount;
    }

    static synchronized String cudaUnavailableReason() {
        cudaDeviceCount();
        return cudaReason;
    }

    private static String cudaLastError() {
        String s = NativeLib.a4j_last_error();
        return s == null || s.isEmpty() ? "no driver or no device" : s;
    }

    private static Path locateCudaLibrary() throws IOException {
        String override = System.getProperty(CUDA_LIBRARY_PROPERTY);
        if (override != null && !override.isBlank()) return Paths.get(override);
        URL url = NativeLib.class.getResource(CUDA_RESOURCE);
        if (url == null) return null;
        if (url.getProtocol().equals("file")) {
            try {
                return Paths.get(url.toURI());
            } catch (URISyntaxException e) {
                throw new IOException(e);
            }
        }
        // Inside a jar: dlopen needs a file.
        Path tmp = Files.createTempFile("libalign4j_cuda", ".so");
        tmp.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        return tmp;
    }

    /** Throws when a native call returned an error code. */
    static void check(int rc, String what) {
        if (rc == NativeConstants.OK) return;
        String msg = what + " failed: " + NativeLib.a4j_last_error();
        switch (rc) {
            case NativeConstants.ERR_ARGUMENT:
                throw new IllegalArgumentException(msg);
            case NativeConstants.ERR_OUT_OF_MEMORY:
                throw new OutOfMemoryError(msg);
            default:
                throw new IllegalStateException(msg);
        }
    }

    /**
     * The address of kernel argument {@code name} for a launch on {@code device}, after checking what the C signature
     * asks of every pointer: the tensor is open, on that device, of {@code dtype}. A null tensor is a null pointer
     * (the kernels' nullable arguments).
     */
    static long pointer(Device device, DType dtype, String name, Tensor t) {
        if (t == null) return 0L;
        if (!t.device().equals(device))
            throw new IllegalArgumentException(name + " is on " + t.device() + ", expected " + device);
        if (t.dtype() != dtype) throw new IllegalArgumentException(name + " is " + t.dtype() + ", expected " + dtype);
        return t.address();
    }
}
