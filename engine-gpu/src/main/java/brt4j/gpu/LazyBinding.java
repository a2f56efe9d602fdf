package brt4j.gpu;

import java.util.function.Supplier;

/**
 * A native binding (driver, NVRTC, cuBLAS, NCCL, OpenCL) loaded on first use and then shared. A load that throws
 * (no such library: a {@link GpuException} listing where it looked) leaves nothing behind, so the next call tries
 * again and says the same thing, instead of a class-initialisation error.
 */
public final class LazyBinding<T> {
    private final Supplier<T> load;
    private volatile T value;

    public LazyBinding(Supplier<T> load) { this.load = load; }

    public T get() {
        T v = value;
        if (v == null) {
            synchronized (this) {
                if (value == null) value = load.get();
                v = value;
            }
        }
        return v;
    }
}
