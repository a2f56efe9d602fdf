package brt4j.backend.cpu;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

/**
 * A tensor of the CPU backend: float32 values in a plain array, shared by views of the same storage. {@link
 * CpuBackend#free} retires this handle; the array goes back to the backend's {@link ArrayPool} once every handle
 * on it (the tensor and its views) is freed, and using a freed handle throws instead of reading an array that
 * another tensor may own by then.
 */
final class FloatTensor extends Tensor {
    final CpuBackend owner;
    private final Storage storage;
    private boolean freed;

    /** An array and the number of live handles on it. */
    static final class Storage {
        final float[] data;
        int handles;

        Storage(float[] data) { this.data = data; }
    }

    FloatTensor(CpuBackend owner, Storage storage, int... shape) {
        super(shape);
        this.owner = owner;
        this.storage = storage;
        storage.handles++;
    }

    @Override public Backend backend() { return owner; }

    float[] data() {
        if (freed) throw new IllegalStateException("cpu: tensor " + shapeString() + " was used after it was freed");
        return storage.data;
    }

    Storage storage() { return storage; }

    /** Retires this handle (a second call is a no-op); returns the array when no handle on it is left, else null. */
    float[] release() {
        if (freed) return null;
        freed = true;
        return --storage.handles == 0 ? storage.data : null;
    }
}
