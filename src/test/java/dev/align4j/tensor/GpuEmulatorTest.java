package dev.align4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The emulated GPU's own tests (native/gpu_emu_test.cpp, built by native/build.sh): warp shuffles against
 * CUDA's documented results, block reductions at every block size, and kernels with deliberate bugs (barrier
 * divergence, a thread exiting before a barrier, shuffles outside the mask, a shared-memory race with and
 * without __syncthreads) that the emulator must report or expose. Each case prints one line per check.
 */
class GpuEmulatorTest {
    /** Maven's surefire sets basedir; the GPU bundle (tools/gpu-bundle.sh), which has no build tree, does not. */
    private static final String BASEDIR = System.getProperty("basedir");

    @ParameterizedTest
    @ValueSource(strings = {"shuffles", "reductions", "divergence", "warp_errors", "races"})
    void emulatorCase(String name) throws IOException, InterruptedException {
        Assumptions.assumeTrue(BASEDIR != null, "no build tree (the GPU bundle): the emulator is not part of it");
        Path binary = Path.of(BASEDIR, "target", "native", "gpu_emu_test");
        assertTrue(Files.isExecutable(binary), binary + " is missing: native/build.sh builds it");
        Process p = new ProcessBuilder(binary.toString(), name).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), name + " did not finish:\n" + out);
        assertEquals(0, p.exitValue(), name + " failed:\n" + out);
        assertTrue(out.contains("ok "), name + " checked nothing:\n" + out);
        assertTrue(!out.contains("FAIL"), out);
    }
}
