package dev.align4j.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A test that needs a CUDA device: it runs when one is visible and is skipped (with the reason) otherwise.
 * With {@code -Dalign4j.requireCuda=true} the skip becomes a failure, so a GPU run cannot pass by skipping.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@Test
@Tag("gpu")
@ExtendWith(CudaRequirement.class)
public @interface GpuTest {
    /** Tag of the GPU tests that the emulated-GPU pass of the build leaves out (too slow there; see pom.xml). */
    String EMULATOR_SLOW = "emulator-slow";
}
