package brt4j.gpu;

import java.lang.ref.Cleaner;

/**
 * A block of device memory from {@link GpuBackend}'s caching allocator, shared by the tensors that view it. When the
 * last tensor lets go (explicitly, or by becoming unreachable, through a {@link Cleaner}) the block is queued for
 * reuse; the backend takes queued blocks back on its own thread, so no device call ever runs on the cleaner's.
 *
 * <p>Two pieces of bookkeeping let the backend skip work (see {@link GpuBackend}): {@link #pendingZero} (a zeros
 * tensor whose fill has not run yet: the first full overwrite makes it unnecessary) and {@link #version} (bumped by
 * every write), against which the bf16 copy that the mixed-precision products read is kept: it is cast again only
 * after the values changed, and goes back to the cache with this block.
 */
public final class DeviceBuffer {
    private static final Cleaner CLEANER = Cleaner.create();

    final long handle;
    final long bytes;
    private int refs;
    private final Release release;
    private final Cleaner.Cleanable cleanable;
    /** Bumped by every write: a kernel argument the kernel may write, a product's output, a copy, an upload, a fill. */
    int version;
    /** All zeros, but the fill has not been queued: it runs before the first read, or never when a full write comes first. */
    boolean pendingZero;
    /** The version the bf16 shadow holds, and how many values it covers. */
    int shadowVersion = -1;
    long shadowValues;

    /** Runs once: the block, and its bf16 shadow if it has one, go back to the allocator. */
    private static final class Release implements Runnable {
        final GpuBackend.Allocator allocator;
        final long handle, bytes;
        volatile DeviceBuffer shadow;

        Release(GpuBackend.Allocator allocator, long handle, long bytes) {
            this.allocator = allocator;
            this.handle = handle;
            this.bytes = bytes;
        }

        @Override public void run() {
            allocator.returned(handle, bytes);
            DeviceBuffer s = shadow;
            if (s != null) s.recycle();
        }
    }

    DeviceBuffer(GpuBackend.Allocator allocator, long handle, long bytes) {
        this.handle = handle;
        this.bytes = bytes;
        this.release = new Release(allocator, handle, bytes);
        this.cleanable = CLEANER.register(this, release);
    }

    /** The device address (CUDA) or cl_mem handle (OpenCL). */
    public long handle() { return handle; }

    /** Its size in bytes (the allocator's rounded size, at least what was asked for). */
    public long bytes() { return bytes; }

    DeviceBuffer shadow() { return release.shadow; }

    void shadow(DeviceBuffer s) { release.shadow = s; }

    void retain() { refs++; }

    void release() {
        if (--refs == 0) cleanable.clean();
    }

    /** For scratch buffers that no tensor holds: back to the cache now. */
    public void recycle() { cleanable.clean(); }
}
