package dev.align4j.testing;

import dev.align4j.tensor.Device;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Skips a {@link GpuTest} without CUDA, or fails it when {@code align4j.requireCuda} is true. */
public final class CudaRequirement implements BeforeEachCallback {
    public static final String PROPERTY = "align4j.requireCuda";

    @Override
    public void beforeEach(ExtensionContext context) {
        if (Device.cudaAvailable()) return;
        String reason = "no CUDA device: " + Device.cudaUnavailableReason();
        if (Boolean.getBoolean(PROPERTY)) Assertions.fail(reason + " (and -D" + PROPERTY + "=true)");
        Assumptions.abort(reason);
    }
}
