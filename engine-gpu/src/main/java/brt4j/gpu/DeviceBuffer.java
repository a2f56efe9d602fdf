package brt4j.gpu;

import java.lang.ref.Cleaner;

/**
 * A block of device memory from {@link GpuBackend}'s caching allocator, shared by the tensors that view it. When the
 * last tensor lets go (explicitly, or by becoming unreachable, through a {@link Cleaner}) the block is queued for
 * reuse; the backend takes queued blocks back on its own thread, so no device call ever runs on the cleaner's.
 */
public final class DeviceBuffer {
    private static final Cleaner CLEANER = Cleaner.create();

    final long handle;
    final long bytes;
    private int refs;
    private final Cleaner.Cleanable cleanable;

    DeviceBuffer(GpuBackend.Allocator allocator, long handle, long bytes) {
        this.handle = handle;
        this.bytes = bytes;
        long h = handle, b = bytes;
        this.cleanable = CLEANER.register(this, () -> allocator.returned(h, b));
    }

    /** The device address (CUDA) or cl_mem handle (OpenCL). */
    public long handle() { return handle; }

    void retain() { refs++; }

    void release() {
        if (--refs == 0) cleanable.clean();
    }

    /** For scratch buffers that no tensor holds: back to the cache now. */
    public void recycle() { cleanable.clean(); }
}
