package brt4j.backend.cpu;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

/**
 * A tensor of the CPU backend: float32 values in a plain array, shared by views of the same storage. {@link
 * CpuBackend#free} retires this handle; the array goes back to the backend's {@link ArrayPool} once every handle
 * on it (the tensor and its views) is freed, and using a freed handle throws instead of reading an array that
 * another tensor may own by then.
 *
 * <p>A tensor made from a reused array is zero only logically at first: the array is cleared when first read
 * ({@link #data}), unless the first op writes every element anyway ({@link #dataForOverwrite}: a product with
 * beta 0, an element-wise output), which then skips the clearing; a gradient's first accumulation can run as an
 * overwrite too ({@link #zeroPending}).
 */
final class FloatTensor extends Tensor {
    final CpuBackend owner;
    private final Storage storage;
    private boolean freed;

    /** An array and the number of live handles on it. */
    static final class Storage {
        final float[] data;
        int handles;
        boolean zeroPending;                            // logically all zeros; the array still holds old values

        Storage(float[] data, boolean zeroPending) {
            this.data = data;
            this.zeroPending = zeroPending;
        }
    }

    FloatTensor(CpuBackend owner, Storage storage, int... shape) {
        super(shape);
        this.owner = owner;
        this.storage = storage;
        storage.handles++;
    }

    @Override public Backend backend() { return owner; }

    /** The values, for an op that reads them (or writes only some). */
    float[] data() {
        checkLive();
        if (storage.zeroPending) {
            java.util.Arrays.fill(storage.data, 0f);
            storage.zeroPending = false;
        }
        return storage.data;
    }

    /** The array for an op that writes every element before reading any: a pending clear is skipped. */
    float[] dataForOverwrite() {
        checkLive();
        storage.zeroPending = false;
        return storage.data;
    }

    /** Throws if this handle was freed. */
    void checkLive() {
        if (freed) throw new IllegalStateException("cpu: tensor " + shapeString() + " was used after it was freed");
    }

    /** Whether the tensor is all zeros and its array not yet cleared: an accumulation into it may overwrite. */
    boolean zeroPending() { return storage.zeroPending; }

    Storage storage() { return storage; }

    /** Retires this handle (a second call is a no-op); returns the array when no handle on it is left, else null. */
    float[] release() {
        if (freed) return null;
        freed = true;
        return --storage.handles == 0 ? storage.data : null;
    }
}
