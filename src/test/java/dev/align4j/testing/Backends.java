package dev.align4j.testing;

import dev.align4j.tensor.Device;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.Extension;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestTemplateInvocationContext;
import org.junit.jupiter.api.extension.TestTemplateInvocationContextProvider;

/** The invocations of a {@link DeviceTest}: one per backend, each resolving the method's Device parameter. */
public final class Backends implements TestTemplateInvocationContextProvider {
    /** System property: run only the "cuda" invocations (the emulated-GPU pass of the build runs the CPU ones twice otherwise). */
    public static final String ONLY_CUDA = "align4j.onlyCuda";

    @Override
    public boolean supportsTestTemplate(ExtensionContext context) {
        return true;
    }

    @Override
    public Stream<TestTemplateInvocationContext> provideTestTemplateInvocationContexts(ExtensionContext context) {
        // The CUDA device is made only when the invocation runs, after CudaRequirement has let it through.
        TestTemplateInvocationContext cuda = on("cuda", () -> Device.cuda(0), List.of(new CudaRequirement()));
        return Boolean.getBoolean(ONLY_CUDA) ? Stream.of(cuda) : Stream.of(on("cpu", Device::cpu, List.of()), cuda);
    }

    private static TestTemplateInvocationContext on(String name, Supplier<Device> device, List<Extension> guards) {
        ParameterResolver resolver = new ParameterResolver() {
            @Override
            public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
                return p.getParameter().getType() == Device.class;
            }

            @Override
            public Object resolveParameter(ParameterContext p, ExtensionContext e) {
                return device.get();
            }
        };
        return new TestTemplateInvocationContext() {
            @Override
            public String getDisplayName(int invocationIndex) {
                return name;
            }

            @Override
            public List<Extension> getAdditionalExtensions() {
                return Stream.concat(guards.stream(), Stream.of(resolver)).toList();
            }
        };
    }
}
