package dev.align4j.bench;

import dev.align4j.tensor.DType;
import dev.align4j.tensor.Device;
import dev.align4j.tensor.Scope;
import dev.align4j.tensor.Tensor;
import java.util.function.Supplier;

/**
 * A family's inputs and preallocated outputs on one device, all owned by one scope. The tensors are made
 * through {@link #input} and {@link #output}: when one cannot be made (the device is out of memory), the
 * scope is closed before the exception leaves the constructor, since no caller gets a case to close.
 */
abstract class BenchCase implements AutoCloseable {
    final Device device;
    private final Scope scope = new Scope();
    /** Results folded in here so that the JIT cannot drop a call whose value is otherwise unused. */
    float sink;

    BenchCase(Device device) {
        this.device = device;
    }

    final Tensor input(float[] host, long... shape) {
        return guarded(() -> scope.of(device, host, shape));
    }

    final Tensor input(int[] host, long... shape) {
        return guarded(() -> scope.of(device, host, shape));
    }

    final Tensor output(long... shape) {
        return output(DType.F32, shape);
    }

    final Tensor output(DType dtype, long... shape) {
        return guarded(() -> scope.empty(device, dtype, shape));
    }

    private Tensor guarded(Supplier<Tensor> make) {
        try {
            return make.get();
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
    }

    @Override
    public void close() {
        scope.close();
    }
}
