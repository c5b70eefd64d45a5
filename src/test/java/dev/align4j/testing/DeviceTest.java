package dev.align4j.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestTemplate;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A test run once per backend, its {@link dev.align4j.tensor.Device} as the method's parameter: "cpu" always,
 * and "cuda" (device 0) under the rule of {@link GpuTest}: skipped with the reason when no CUDA device is
 * visible, a failure with {@code -Dalign4j.requireCuda=true}. With {@code -Dalign4j.onlyCuda=true} (the emulated-GPU
 * run of the build) only "cuda" runs.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@TestTemplate
@Tag("device")
@ExtendWith(Backends.class)
public @interface DeviceTest {}
