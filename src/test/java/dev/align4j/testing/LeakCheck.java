package dev.align4j.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.align4j.tensor.Scope;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Registered for every test (META-INF/services + junit-platform.properties): the number of open tensors in
 * the JVM must be the same after a test as before it, so every scope a test opens ends empty and no kernel
 * leaves a temporary behind.
 */
public final class LeakCheck implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LeakCheck.class);

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(NS).put("live", Scope.globalLiveCount());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        long before = context.getStore(NS).get("live", Long.class);
        assertEquals(before, Scope.globalLiveCount(), "open tensors after " + context.getDisplayName() + " (leak)");
    }
}
