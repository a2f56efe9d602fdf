package brt4j.gpu;

import brt4j.backend.Backend;
import brt4j.tensor.Tensor;

/**
 * A tensor of a GPU backend: a shape over a {@link DeviceBuffer} of float32 values in device memory. Views share
 * the buffer (a view always covers the whole buffer, so kernels never need a base offset); the buffer goes back to
 * the backend's cache when the last handle on it is freed, or when none is reachable any more.
 */
public final class GpuTensor extends Tensor {
    final GpuBackend owner;
    final DeviceBuffer buf;
    private boolean freed;

    GpuTensor(GpuBackend owner, DeviceBuffer buf, int... shape) {
        super(shape);
        this.owner = owner;
        this.buf = buf;
        buf.retain();
    }

    @Override public Backend backend() { return owner; }

    /** The device address (CUDA) or cl_mem handle (OpenCL). */
    long handle() {
        if (freed) throw new IllegalStateException(owner.name() + ": tensor " + shapeString() + " was used after it was freed");
        return buf.handle;
    }

    void free() {
        if (freed) return;
        freed = true;
        buf.release();
    }
}
