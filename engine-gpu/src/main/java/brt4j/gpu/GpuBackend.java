package brt4j.gpu;

import brt4j.backend.AdafactorSpec;
import brt4j.backend.Backend;
import brt4j.backend.Backend.Attn;
import brt4j.backend.Backend.AttnGrads;
import brt4j.backend.Sliding;
import brt4j.backend.T5Buckets;
import brt4j.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Stream;

/**
 * Every op of the {@link Backend} seam on a GPU, written once over a few device primitives (allocate, copy, launch a
 * kernel of kernels/*.cl, matrix product) that {@link brt4j.gpu.cuda.CudaBackend} and
 * {@link brt4j.gpu.opencl.OpenClBackend} provide. Tensors stay on the device; only what the seam returns to the host
 * (sums of squares, losses, downloads) is read back, and the host arrays the seam hands in (token ids, targets,
 * reset flags) are copied over as small int buffers.
 *
 * <p>Work is queued in order on one queue (CUDA's default stream, one in-order OpenCL queue), so a scratch buffer
 * can go back to the cache as soon as the kernels that use it are queued.
 *
 * <p>Work that is not done (a training step is thousands of small launches, so each one saved counts):
 * <ul>
 * <li>Lazy zeros. {@link #zeros} and {@code fill(t, 0)} only mark the buffer ({@link DeviceBuffer#pendingZero});
 * the fill is queued just before something reads it. An op that writes its whole output without reading it
 * ({@link #overwrite}) drops the mark instead; an accumulating op whose target is still pending zeros runs in its
 * overwrite mode (a product with beta 0, a kernel's {@code accumulate = 0}).
 * <li>bf16 operands. The mixed-precision products read a bf16 copy of each operand kept with its buffer
 * ({@link #bf16}); it is cast again only when the buffer's {@link DeviceBuffer#version} moved, which every write
 * bumps (kernel arguments the kernel may write, as {@link Kernels#writes} reads them off the sources; product
 * outputs; copies; uploads; fills). So a weight is cast once per optimizer step and an activation once, however
 * many products read it.
 * <li>One AdamW launch a step. {@link #doAdamW} only collects the update; the updates go out together (one
 * {@code k_adamw_multi} over a table of device pointers on CUDA, one k_adamw each on OpenCL) before anything else
 * touches the device: every launch, product, copy, read and sync calls {@link #flushAdamW} first.
 * </ul>
 */
public abstract class GpuBackend extends Backend {
    /** Work-group size of the element and row kernels (ops.cl's RED). */
    protected static final int LOCAL = 256;
    private static final int DMAX = 128;
    private static final int PARTIALS = 512;

    private final Allocator allocator = new Allocator();
    private final Map<String, DeviceBuffer> bucketTables = new HashMap<>();
    private final Map<String, Integer> farFroms = new HashMap<>();
    private DeviceBuffer scalars, partials, dummy;
    private final Arena hostArena = Arena.ofShared();
    private MemorySegment staging = MemorySegment.NULL;
    private long launches;

    // ---------------------------------------------------------------- what a platform provides

    /** Raw device allocation; returns 0 when the device is out of memory. */
    protected abstract long rawAlloc(long bytes);
    protected abstract void rawFree(long handle);
    protected abstract void rawWrite(long handle, MemorySegment src, long bytes);
    protected abstract void rawRead(long handle, MemorySegment dst, long bytes);
    protected abstract void rawCopy(long src, long dst, long bytes);
    /**
     * A small host-to-device copy queued like a kernel (the host does not wait for the device to get there); src may
     * be reused as soon as this returns. Default: {@link #rawWrite}. Token ids, targets and reset flags go this way,
     * so that uploading them does not stall the host in the middle of a step.
     */
    protected void rawWriteQueued(long handle, MemorySegment src, long bytes) { rawWrite(handle, src, bytes); }
    /** Free and total device memory in bytes, for the out-of-memory message. */
    protected abstract long[] memoryInfo();
    /**
     * Launches a kernel over groups (gx, gy, gz) of (lx, ly) work-items. Arguments: {@link GpuTensor} or
     * {@link DeviceBuffer} (a device pointer), Integer, Float, Long. Called by {@link #launch} only, which keeps
     * the buffers' bookkeeping.
     */
    protected abstract void enqueue(String kernel, int gx, int gy, int gz, int lx, int ly, Object... args);
    /** Queues writing zeros over the whole block (k_fill here; a driver memset where the platform has one). */
    protected void zeroFill(DeviceBuffer b) {
        long n = b.bytes / 4;
        enqueue("k_fill", (int) ((n + LOCAL - 1) / LOCAL), 1, 1, LOCAL, 1, b, (int) n, 0f);
    }
    /** Row-major batched c = alpha op(a) op(b) + beta c (see {@link Backend#matmul}). */
    protected abstract void gemm(int batch, int m, int n, int k, GpuTensor a, boolean ta, GpuTensor b, boolean tb,
                                 GpuTensor c, float alpha, float beta);
    /**
     * The general matrix product the blocked attention needs, like cublasGemmStridedBatchedEx in row-major terms:
     * for each batch item z, c[z] = alpha op(a[z]) op(b[z]) + beta c[z], with a[z] at element offset offA + z strideA
     * and rows lda apart (likewise b, c). Operands are {@link GpuTensor}s or {@link DeviceBuffer}s; with
     * {@code bf16} a and b hold bf16 halves (see {@link #productsInBf16}), c is float32, or bf16 too with {@code c16}.
     */
    protected abstract void gemmEx(int batch, int m, int n, int k, float alpha, Object a, long offA, int lda, long strideA,
                                   boolean ta, Object b, long offB, int ldb, long strideB, boolean tb, float beta, Object c,
                                   long offC, int ldc, long strideC, boolean bf16, boolean c16);
    /**
     * Several {@link #gemmEx} items that share everything but their offsets (offA[i], offB[i], offC[i]) and whose
     * outputs do not overlap, so they may run at once: attention's blocks. Default: one after another; CUDA makes one
     * pointer-array batched product of them.
     */
    protected void gemmItems(int batch, int m, int n, int k, Object a, long[] offA, int lda, long strideA, boolean ta,
                             Object b, long[] offB, int ldb, long strideB, boolean tb, float beta, Object c, long[] offC,
                             int ldc, long strideC, boolean bf16, boolean c16) {
        for (int i = 0; i < offA.length; i++) {
            gemmEx(batch, m, n, k, 1f, a, offA[i], lda, strideA, ta, b, offB[i], ldb, strideB, tb, beta, c, offC[i], ldc, strideC,
                    bf16, c16);
        }
    }
    /** Independent products of one shape (see {@link Backend#matmulGroup}). Default: one after another. */
    protected void gemmGroup(int m, int n, int k, List<GpuTensor> a, boolean ta, List<GpuTensor> b, boolean tb,
                             List<GpuTensor> c, float alpha, float beta) {
        for (int i = 0; i < a.size(); i++) gemm(1, m, n, k, a.get(i), ta, b.get(i), tb, c.get(i), alpha, beta);
    }
    /** Whether matrix products take bf16 operands (the CUDA backend in bf16 mode). */
    protected boolean productsInBf16() { return false; }

    /** Whether attention_mma.cu's flash kernels run here (CUDA in bf16 mode on tensor cores); see {@link #flash}. */
    protected boolean tensorCoreAttention() { return false; }

    /** Waits for all queued work (the platform's part of {@link #synchronize}). */
    protected abstract void waitIdle();

    /** Waits for all queued work. */
    public final void synchronize() {
        flushAdamW();
        waitIdle();
    }

    /**
     * Where the platform can launch one AdamW over many tensors ({@code k_adamw_multi}, CUDA: a table of device
     * pointers; OpenCL C 1.2 cannot follow pointers read from memory): the table's device address.
     */
    protected boolean multiTensorAdamW() { return false; }
    /** One line: device name, memory, precision mode. */
    public abstract String describe();

    /** Kernel launches so far (a fusion metric). */
    public long launches() { return launches; }

    protected void countLaunch() { launches++; }

    /**
     * {@code -Dbrt.gpu.profile=true}: every launch, matrix product and host copy is bracketed by device syncs and its
     * time added to a per-name total (a debug mode: it serializes the host and the device, so steps run slower, and
     * a small kernel's time is mostly the launch and the sync). {@code -Dbrt.gpu.profile=events} (CUDA): each call
     * between two device events instead, read back at the next sync: the device's own time per call, with the host
     * and the device still overlapping (where the device waits for the host, the wait counts to the next call).
     * {@code -Dbrt.gpu.profile=host} (CUDA): the host's own time in each driver or cuBLAS call, nothing synced: where
     * a step is host-bound, the calls that block or cost.
     */
    protected static final String PROFILE_MODE = System.getProperty("brt.gpu.profile", "false");
    protected static final boolean PROFILE_EVENTS = "events".equals(PROFILE_MODE);
    protected static final boolean PROFILE_HOST = "host".equals(PROFILE_MODE);
    protected static final boolean PROFILE = PROFILE_EVENTS || PROFILE_HOST || "true".equals(PROFILE_MODE);
    private final Map<String, long[]> profile = new HashMap<>();

    /** Adds one timed call of {@code what} (nanoseconds) to the profile. */
    protected final void profiled(String what, long nanos) {
        long[] e = profile.computeIfAbsent(what, x -> new long[2]);
        e[0]++;
        e[1] += nanos;
    }

    /** The profile so far: name -> {calls, nanoseconds}; empty unless {@code -Dbrt.gpu.profile=true}. */
    public Map<String, long[]> profile() { return profile; }

    public void resetProfile() { profile.clear(); }

    /** Whether the platform times profiled calls by device events (CUDA) when asked to. */
    protected boolean profilesByEvents() { return false; }

    /** How the profile's times were taken, for its heading. */
    public String profileMethod() {
        if (PROFILE_HOST && profilesByEvents()) return "host time per call, not synced";
        return PROFILE_EVENTS && profilesByEvents() ? "device events per call, not synced" : "device-synced per call";
    }

    // ---------------------------------------------------------------- memory

    /** The caching allocator: blocks by rounded size; blocks given back by the cleaner wait in a queue. */
    final class Allocator {
        private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
        private final ConcurrentLinkedQueue<long[]> returned = new ConcurrentLinkedQueue<>();
        long cachedBytes, liveBytes;

        void returned(long handle, long bytes) { returned.add(new long[]{handle, bytes}); }

        private void drain() {
            for (long[] r; (r = returned.poll()) != null; ) {
                free.computeIfAbsent(r[1], x -> new ArrayDeque<>()).push(r[0]);
                cachedBytes += r[1];
                liveBytes -= r[1];
            }
        }

        DeviceBuffer allocate(long want) {
            drain();
            long bytes = round(Math.max(want, 4));
            ArrayDeque<Long> list = free.get(bytes);
            if (list != null && !list.isEmpty()) {
                cachedBytes -= bytes;
                liveBytes += bytes;
                return new DeviceBuffer(this, list.pop(), bytes);
            }
            long h = rawAlloc(bytes);
            if (h == 0) {
                emptyCache();
                h = rawAlloc(bytes);
            }
            if (h == 0) {
                long[] info = memoryInfo();
                throw new GpuException(String.format(Locale.ROOT,
                        "%s: out of device memory: asked for %.1f MiB, %.1f MiB free of %.1f MiB (%.1f MiB held by live tensors)",
                        name(), bytes / 1048576.0, info[0] / 1048576.0, info[1] / 1048576.0, liveBytes / 1048576.0));
            }
            liveBytes += bytes;
            return new DeviceBuffer(this, h, bytes);
        }

        void emptyCache() {
            synchronize();
            drain();
            for (ArrayDeque<Long> l : free.values()) for (long h : l) rawFree(h);
            free.clear();
            cachedBytes = 0;
        }

        /** Up to 1 MiB: 256-byte steps; above: 4 steps per power of two (at most 25% slack). */
        private static long round(long b) {
            if (b <= (1 << 20)) return (b + 255) & ~255L;
            long p = Long.highestOneBit(b);
            long step = p / 4;
            return (b + step - 1) / step * step;
        }
    }

    /** Frees the cached blocks (device memory that no tensor holds). */
    public void emptyCache() { allocator.emptyCache(); }

    protected final void initScratch() {
        scalars = allocator.allocate(16 * 4);
        partials = allocator.allocate(PARTIALS * 4);
        dummy = allocator.allocate(16);
    }

    protected final void closeScratch() {
        if (adamWTable != null) adamWTable.recycle();
        for (DeviceBuffer b : bucketTables.values()) b.recycle();
        bucketTables.clear();
        if (scalars != null) { scalars.recycle(); partials.recycle(); dummy.recycle(); }
        if (ceLse != null) { ceLse.recycle(); ceLse = null; ceLogits = null; }
        allocator.emptyCache();
        hostArena.close();
    }

    @Override public Tensor zeros(int... shape) {
        long n = 1;
        for (int d : shape) n *= Math.max(d, 0);
        GpuTensor t = new GpuTensor(this, allocator.allocate(n * 4), shape);
        t.buf.pendingZero = true;                       // filled when first read, or never (see the class comment)
        return t;
    }

    // ---------------------------------------------------------------- buffer bookkeeping

    private static DeviceBuffer bufferOf(Object o) {
        if (o instanceof GpuTensor t) { t.handle(); return t.buf; }
        if (o instanceof DeviceBuffer b) return b;
        return null;
    }

    /** Queues the fill of a buffer that is still pending zeros (something is about to read it). */
    private void materialize(DeviceBuffer b) {
        if (!b.pendingZero) return;
        flushAdamW();
        b.pendingZero = false;
        b.version++;
        zeroFill(b);
    }

    /**
     * The next op writes every value of {@code out} without reading it (nor reading it through {@code reads}):
     * a pending fill is dropped. Returns whether it was pending, i.e. whether {@code out} held zeros, so that an
     * accumulating op can run in its overwrite mode instead.
     */
    protected final boolean overwrite(Object out, Object... reads) {
        DeviceBuffer b = bufferOf(out);
        if (!b.pendingZero) return false;
        for (Object r : reads) if (r != null && bufferOf(r) == b) return false;
        b.pendingZero = false;
        return true;
    }

    /** {@code x} is about to be written in part or read-modify-written: pending zeros are filled first. */
    private void written(Object x) {
        DeviceBuffer b = bufferOf(x);
        materialize(b);
        b.version++;
    }

    /**
     * Every launch goes through here: buffers still pending zeros are filled first (the kernel reads them or writes
     * them in part; callers drop the mark beforehand with {@link #overwrite} where the kernel writes it all), and
     * the arguments the kernel may write get a new version.
     */
    protected final void launch(String kernel, int gx, int gy, int gz, int lx, int ly, Object... args) {
        flushAdamW();
        boolean[] w = Kernels.writes(kernel);
        for (int i = 0; i < args.length; i++) {
            DeviceBuffer b = bufferOf(args[i]);
            if (b == null) continue;
            materialize(b);
            if (i < w.length && w[i]) b.version++;
        }
        enqueue(kernel, gx, gy, gz, lx, ly, args);
    }

    /**
     * For a kernel that can write its output's bf16 copy along with it (bf16 products only; else {@link #dummy}):
     * the copy's buffer, sized for {@code out}. Call {@link #shadowWritten} after the launch.
     */
    private Object shadowFor(Tensor out) {
        if (!productsInBf16()) return dummy;
        DeviceBuffer b = g(out).buf;
        DeviceBuffer s = b.shadow();
        if (s == null || b.shadowValues < out.size()) {
            if (s != null) s.recycle();
            s = allocator.allocate(out.size() * 2L);
            b.shadow(s);
            b.shadowValues = out.size();
        }
        return s;
    }

    /**
     * Like {@link #shadowFor} for kernels whose output may or may not be a product's operand (axpy): the copy only
     * where the buffer already keeps one big enough, i.e. it was read by a bf16 product before (buffers come back
     * from the cache to the same uses step after step); else {@link #dummy}. A guess that only costs or saves time:
     * a copy written goes with the version it was written at.
     */
    private Object keptShadowFor(Tensor out) {
        if (!productsInBf16()) return dummy;
        DeviceBuffer b = g(out).buf;
        return b.shadow() != null && b.shadowValues >= out.size() ? b.shadow() : dummy;
    }

    /** The launch wrote out and its bf16 copy: the copy holds the current version. */
    private void shadowWritten(Tensor out) {
        if (productsInBf16()) g(out).buf.shadowVersion = g(out).buf.version;
    }

    /**
     * The bf16 copy of the first {@code n} values of a tensor or buffer, kept with it and cast again only after a
     * write (its version moved): what the mixed-precision products read. It lives as long as the buffer.
     */
    protected final DeviceBuffer bf16(Object x, long n) {
        DeviceBuffer b = bufferOf(x);
        materialize(b);
        DeviceBuffer s = b.shadow();
        if (s == null || b.shadowValues < n) {
            if (s != null) s.recycle();
            s = allocator.allocate(n * 2);
            b.shadow(s);
            b.shadowValues = n;
            b.shadowVersion = b.version - 1;
        }
        if (b.shadowVersion != b.version) {
            flushAdamW();
            enqueue("k_to_bf16", (int) ((n + LOCAL - 1) / LOCAL), 1, 1, LOCAL, 1, b, s, (int) n);
            b.shadowVersion = b.version;
        }
        return s;
    }

    @Override public void free(Tensor t) { ((GpuTensor) t).free(); }

    static GpuTensor g(Tensor t) { return (GpuTensor) t; }

    /** The device pointer or cl_mem of a tensor. */
    protected static long handleOf(GpuTensor t) { return t.handle(); }

    /** The device pointer or cl_mem of a kernel argument that is a tensor or a scratch buffer. */
    protected static long bufferHandle(Object o) {
        if (o instanceof GpuTensor t) return t.handle();
        if (o instanceof DeviceBuffer b) return b.handle;
        throw new IllegalArgumentException("kernel argument of type " + o.getClass().getName());
    }

    private MemorySegment staging(long bytes) {
        if (staging.byteSize() < bytes) staging = hostArena.allocate(Math.max(bytes, 1 << 16), 16);
        return staging;
    }

    @Override protected void doUpload(float[] data, Tensor t) {
        flushAdamW();
        overwrite(t);
        written(t);
        MemorySegment s = staging(data.length * 4L);
        MemorySegment.copy(data, 0, s, ValueLayout.JAVA_FLOAT, 0, data.length);
        rawWrite(g(t).handle(), s, data.length * 4L);
    }

    @Override protected void doUpload(double[] data, Tensor t) {
        float[] f = new float[data.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) data[i];
        doUpload(f, t);
    }

    @Override protected float[] doDownload(Tensor t) {
        float[] r = new float[t.size()];
        if (g(t).buf.pendingZero) return r;              // zeros never filled: nothing to read
        flushAdamW();
        MemorySegment s = staging(r.length * 4L);
        rawRead(g(t).handle(), s, r.length * 4L);
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, r, 0, r.length);
        return r;
    }

    @Override protected double[] doDownloadDouble(Tensor t) {
        float[] f = doDownload(t);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    private DeviceBuffer ints(int[] data) {
        flushAdamW();
        DeviceBuffer b = allocator.allocate(data.length * 4L);
        MemorySegment s = staging(data.length * 4L);
        MemorySegment.copy(data, 0, s, ValueLayout.JAVA_INT, 0, data.length);
        rawWriteQueued(b.handle, s, data.length * 4L);
        return b;
    }

    @Override protected Tensor doView(Tensor t, int[] shape) { return new GpuTensor(this, g(t).buf, shape); }

    @Override protected void doCopy(Tensor src, Tensor dst) {
        if (src.size() == 0) return;
        flushAdamW();
        materialize(g(src).buf);
        overwrite(dst, src);
        written(dst);
        rawCopy(g(src).handle(), g(dst).handle(), src.size() * 4L);
    }

    @Override protected void doFill(Tensor t, double value) {
        if (t.size() == 0) return;
        if (value == 0) {                               // zeroGrad and the like: a mark, filled when read
            g(t).buf.pendingZero = true;
            g(t).buf.version++;
        } else {
            overwrite(t);
            elementwise("k_fill", t.size(), t, t.size(), (float) value);
        }
    }

    private void elementwise(String kernel, int n, Object... args) {
        if (n == 0) return;
        launch(kernel, (n + LOCAL - 1) / LOCAL, 1, 1, LOCAL, 1, args);
    }

    private void rowwise(String kernel, int rows, Object... args) {
        if (rows == 0) return;
        launch(kernel, rows, 1, 1, LOCAL, 1, args);
    }

    // ---------------------------------------------------------------- matrix products

    @Override protected void doMatmul(int batch, int m, int n, int k, Tensor a, boolean transA, Tensor b, boolean transB,
                                      Tensor c, double alpha, double beta) {
        if (m == 0 || n == 0) return;
        if (k == 0) {                                   // an empty sum: c = beta c
            if (beta == 0) doFill(c, 0); else doScale(c, beta);
            return;
        }
        flushAdamW();
        materialize(g(a).buf);
        materialize(g(b).buf);
        if (overwrite(c, a, b)) beta = 0;               // c += a b onto zeros not yet filled: c = a b
        written(c);
        gemm(batch, m, n, k, g(a), transA, g(b), transB, g(c), (float) alpha, (float) beta);
    }

    @Override protected void doMatmulGroup(int m, int n, int k, List<Tensor> a, boolean transA, List<Tensor> b, boolean transB,
                                           List<Tensor> c, double alpha, double beta) {
        if (m == 0 || n == 0 || k == 0 || a.size() == 1) {
            super.doMatmulGroup(m, n, k, a, transA, b, transB, c, alpha, beta);
            return;
        }
        flushAdamW();
        for (Tensor t : a) materialize(g(t).buf);
        for (Tensor t : b) materialize(g(t).buf);
        // c += a b onto zeros not yet filled is c = a b, for the whole group alike (one beta for all)
        boolean ontoZeros = beta == 0 || c.stream().allMatch(t -> g(t).buf.pendingZero);
        Object[] reads = Stream.concat(a.stream(), b.stream()).toArray();
        for (Tensor t : c) {
            if (ontoZeros) overwrite(t, reads);
            written(t);
        }
        gemmGroup(m, n, k, a.stream().map(GpuBackend::g).toList(), transA, b.stream().map(GpuBackend::g).toList(), transB,
                c.stream().map(GpuBackend::g).toList(), (float) alpha, ontoZeros ? 0f : (float) beta);
    }

    // ---------------------------------------------------------------- elementwise

    @Override protected void doAdd(Tensor a, Tensor b, Tensor out) {
        overwrite(out, a, b);
        elementwise("k_add", a.size(), a, b, out, a.size());
    }

    @Override protected void doAxpy(double alpha, Tensor x, Tensor y) {
        int acc = overwrite(y, x) ? 0 : 1;
        Object o16 = keptShadowFor(y);
        elementwise("k_axpy", x.size(), (float) alpha, x, y, x.size(), acc, o16, o16 == dummy ? 0 : 1);
        if (o16 != dummy) shadowWritten(y);
    }

    @Override protected void doScale(Tensor x, double alpha) { elementwise("k_scale", x.size(), x, (float) alpha, x.size()); }

    @Override protected void doAddBroadcast(Tensor x, Tensor v, Tensor out) {
        overwrite(out, x, v);
        elementwise("k_add_broadcast", x.size(), x, v, out, x.size(), v.size());
    }

    @Override protected void doSumBroadcast(Tensor dx, Tensor dv) {
        elementwise("k_sum_broadcast", dv.size(), dx, dv, dx.size(), dv.size());
    }

    private static int code(Activation f) { return switch (f) { case RELU -> 0; case TANH -> 1; case SIGMOID -> 2; }; }

    @Override protected void doActivation(Activation f, Tensor x, Tensor out) {
        overwrite(out, x);
        Object o16 = shadowFor(out);
        elementwise("k_act", x.size(), code(f), x, out, x.size(), o16, o16 == dummy ? 0 : 1);
        shadowWritten(out);
    }

    @Override protected void doActivationBackward(Activation f, Tensor saved, Tensor dy, Tensor dx) {
        int acc = overwrite(dx, saved, dy) ? 0 : 1;
        Object o16 = shadowFor(dx);                    // the gradient goes on into the products of the layer below
        elementwise("k_act_back", saved.size(), code(f), saved, dy, dx, saved.size(), acc, o16, o16 == dummy ? 0 : 1);
        shadowWritten(dx);
    }

    /** scalars[slot] = sum of x (of x^2 when square), on the device. */
    private void reduceInto(Object x, int n, boolean square, int slot) {
        int groups = Math.max(1, Math.min(PARTIALS, (n + LOCAL - 1) / LOCAL));
        launch("k_reduce_partial", groups, 1, 1, LOCAL, 1, x, n, square ? 1 : 0, partials);
        launch("k_reduce_final", 1, 1, 1, LOCAL, 1, partials, groups, scalars, slot);
    }

    @Override protected double doSumSquares(Tensor x) {
        if (x.size() == 0) return 0;
        int n = x.size();
        int groups = Math.max(1, Math.min(PARTIALS, (n + LOCAL - 1) / LOCAL));
        launch("k_reduce_partial", groups, 1, 1, LOCAL, 1, x, n, 1, partials);
        MemorySegment s = staging(groups * 4L);       // (launch flushed the AdamW updates)
        rawRead(partials.handle, s, groups * 4L);
        double sum = 0;
        for (int i = 0; i < groups; i++) sum += s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
        return sum;
    }

    // ---------------------------------------------------------------- normalization

    @Override protected void doRmsNorm(Tensor x, Tensor scale, double eps, Tensor out, Tensor rstd) {
        overwrite(out, x, scale);
        overwrite(rstd, x, scale, out);
        Object o16 = shadowFor(out);
        rowwise("k_rmsnorm", x.rows(), x, scale, (float) eps, out, rstd, x.cols(), o16, o16 == dummy ? 0 : 1);
        shadowWritten(out);
    }

    @Override protected void doRmsNormBackward(Tensor x, Tensor scale, Tensor rstd, Tensor dy, Tensor dx, Tensor dScale) {
        int acc = overwrite(dx, x, scale, rstd, dy) ? 0 : 1;
        rowwise("k_rmsnorm_back", x.rows(), x, scale, rstd, dy, dx, x.cols(), acc);
        int rows = x.rows(), cols = x.cols(), parts = columnSumParts(rows);
        if (parts == 1) {
            elementwise("k_rmsnorm_dscale", cols, x, rstd, dy, dScale, rows, cols);
        } else {                                        // a column sum over many rows: split the rows, then add up
            DeviceBuffer partial = allocator.allocate((long) parts * cols * 4);
            elementwise("k_rmsnorm_dscale_part", parts * cols, x, rstd, dy, partial, rows, cols, (rows + parts - 1) / parts, parts);
            elementwise("k_colsum", cols, partial, dScale, parts, cols, overwrite(dScale, x, rstd, dy) ? 0 : 1);
            partial.recycle();
        }
    }

    /** How many parts a column sum over {@code rows} rows is split into (a thread per part and column): ~64 rows each. */
    private static int columnSumParts(int rows) { return Math.max(1, Math.min(64, rows / 64)); }

    @Override protected void doL2NormHeads(Tensor x, int heads, double eps, Tensor out, Tensor rnorm) {
        overwrite(out, x);
        overwrite(rnorm, x, out);
        Object o16 = shadowFor(out);
        rowwise("k_l2heads", x.rows(), x, out, rnorm, heads, x.cols() / heads, (float) eps, o16, o16 == dummy ? 0 : 1);
        shadowWritten(out);
    }

    @Override protected void doL2NormHeadsBackward(Tensor y, Tensor rnorm, int heads, Tensor dy, Tensor dx) {
        int acc = overwrite(dx, y, rnorm, dy) ? 0 : 1;
        Object o16 = shadowFor(dx);                    // dq, dk before the norm: the projections' products read them
        rowwise("k_l2heads_back", y.rows(), y, rnorm, dy, dx, heads, y.cols() / heads, acc, o16, o16 == dummy ? 0 : 1);
        shadowWritten(dx);
    }

    // ---------------------------------------------------------------- embedding

    private static int[] modV(int[] ids, int v) {
        int[] r = new int[ids.length];
        for (int i = 0; i < ids.length; i++) r[i] = Math.floorMod(ids[i], v);
        return r;
    }

    @Override protected void doEmbedding(Tensor table, int[] ids, Tensor out) {
        if (out.size() == 0) return;
        overwrite(out, table);
        DeviceBuffer b = ints(modV(ids, table.rows()));
        elementwise("k_embedding", out.size(), table, b, out, out.size(), table.cols());
        b.recycle();
    }

    /**
     * The rows of each distinct id (k_embedding_back's csr): [the n distinct ids ascending | n + 1 starts | row
     * numbers grouped by id, ascending within each], by a counting sort over the vocabulary.
     */
    static int[] rowsById(int[] ids, int vocab) {
        int[] count = new int[vocab];
        for (int id : ids) count[id]++;
        int n = 0;
        for (int c : count) if (c > 0) n++;
        int[] csr = new int[2 * n + 1 + ids.length];
        int[] at = new int[vocab];
        int u = 0, pos = 0;
        for (int id = 0; id < vocab; id++) {
            if (count[id] == 0) continue;
            csr[u] = id;
            csr[n + u] = pos;
            at[id] = pos;
            pos += count[id];
            u++;
        }
        csr[2 * n] = pos;
        for (int r = 0; r < ids.length; r++) csr[2 * n + 1 + at[ids[r]]++] = r;
        return csr;
    }

    @Override protected void doEmbeddingBackward(Tensor dOut, int[] ids, Tensor dTable) {
        if (dOut.size() == 0) return;
        int[] csr = rowsById(modV(ids, dTable.rows()), dTable.rows());
        int n = (csr.length - 1 - ids.length) / 2;
        DeviceBuffer b = ints(csr);
        elementwise("k_embedding_back", n * dTable.cols(), dOut, b, dTable, n, dTable.cols());
        b.recycle();
    }

    // ---------------------------------------------------------------- gates

    @Override protected void doGateFixed(Tensor c, Tensor z, Tensor bias, Tensor out) {
        overwrite(out, c, z, bias);
        elementwise("k_gate_fixed", c.size(), c, z, bias, out, c.size(), c.cols());
    }

    @Override protected void doGateFixedBackward(Tensor c, Tensor z, Tensor bias, Tensor dOut, Tensor dc, Tensor dz, Tensor dBias) {
        int rows = c.rows(), cols = c.cols(), parts = columnSumParts(rows);
        DeviceBuffer partial = allocator.allocate((long) parts * cols * 4);
        elementwise("k_gate_fixed_dbias_part", parts * cols, c, z, dOut, partial, rows, cols, (rows + parts - 1) / parts, parts);
        elementwise("k_gate_fixed_dbias", cols, partial, bias, dBias, parts, cols);
        partial.recycle();
        elementwise("k_gate_fixed_back", c.size(), bias, dOut, dc, dz, c.size(), c.cols());
    }

    @Override protected void doGateLstm(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor out) {
        overwrite(out, c, z, fPre, iPre);
        elementwise("k_gate_lstm", c.size(), c, z, fPre, iPre, out, c.size());
    }

    @Override protected void doGateLstmBackward(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor dOut,
                                                Tensor dc, Tensor dz, Tensor dfPre, Tensor diPre) {
        elementwise("k_gate_lstm_back", c.size(), c, z, fPre, iPre, dOut, dc, dz, dfPre, diPre, c.size());
    }

    // ---------------------------------------------------------------- dropout

    /** keep iff uniform >= rate, uniform = u * 2^-24 with u an integer: iff u >= ceil(rate * 2^24) (exact). */
    static int threshold(double rate) { return (int) Math.ceil(rate * 0x1.0p24); }

    @Override protected void doDropout(Tensor x, Tensor out, double rate, long seed, int tileRows, boolean accumulate) {
        boolean acc = !overwrite(out, x) && accumulate;
        elementwise("k_dropout", x.size(), x, out, x.size(), x.cols(), tileRows, seed, threshold(rate),
                (float) (1 / (1 - rate)), acc ? 1 : 0);
    }

    // ---------------------------------------------------------------- attention

    private DeviceBuffer bucketTable(Sliding s) {
        String key = s.window() + "/" + s.buckets() + "/" + s.maxDistance();
        DeviceBuffer b = bucketTables.get(key);
        if (b == null) {
            int[] t = new int[s.window() + 1];
            for (int d = 0; d <= s.window(); d++) t[d] = T5Buckets.bucket(d, s.buckets(), s.maxDistance());
            b = ints(t);
            bucketTables.put(key, b);
        }
        return b;
    }

    private static void checkHeadDim(int d) {
        if (d > DMAX) throw new IllegalArgumentException("attention: head dim " + d + " is over the GPU kernels' limit of " + DMAX);
    }

    /**
     * {@code -Dbrt.gpu.attention=simple} keeps every attention on the per-query kernels (for comparisons); otherwise
     * attention is blocked (matrix products for the scores, row kernels for the softmax) wherever it can be: no
     * window, or Tq a multiple of the window (training). Generation's single tokens take the per-query kernels.
     */
    private static final boolean SIMPLE_ATTENTION = "simple".equals(System.getProperty("brt.gpu.attention"));

    /**
     * bf16 products: the score blocks (S = q k^T, dP = dOut v^T) come out of cuBLAS as bf16, as PyTorch's autocast
     * has them, and the row kernels read them so: half the bytes of the largest tensors of a step (a layer's blocks
     * are 128 MiB of float32 at W = 512, 512 MiB at W = 2048), written once and read once or twice each.
     * {@code -Dbrt.gpu.bf16Scores=false} keeps them float32 (for comparisons).
     */
    private static final boolean BF16_SCORES = !"false".equals(System.getProperty("brt.gpu.bf16Scores"));

    /**
     * The blocks of a blocked attention: {@code count} = G * nb score blocks of tqb x tkb per head, laid out
     * [o][h][r][c] (o = g * nb + b); block o's queries start at row qRow(o) of q, its keys at row kRow(o) of k.
     */
    private record Blocks(int G, int H, int D, int Tq, int Tk, int W, int nb, int tqb, int tkb) {
        static Blocks of(int G, int H, int D, int Tq, int Tk, int W) {
            return W > 0 ? new Blocks(G, H, D, Tq, Tk, W, Tq / W, W, 2 * W) : new Blocks(G, H, D, Tq, Tk, 0, 1, Tq, Tk);
        }
        int count() { return G * nb; }
        long perBlock() { return (long) H * tqb * tkb; }
        long scores() { return count() * perBlock(); }
        int hd() { return H * D; }
        long qOff(int o) { return ((long) (o / nb) * Tq + (long) (o % nb) * W) * hd(); }
        long kOff(int o) { return ((long) (o / nb) * Tk + (long) (o % nb) * W) * hd(); }
        long sOff(int o) { return o * perBlock(); }
        int rows() { return (int) (count() * (long) H * tqb); }
    }

    /** {@code -Dbrt.gpu.flash=false} keeps the blocked path where the flash kernels could run (for comparisons). */
    private static final boolean FLASH = !"false".equals(System.getProperty("brt.gpu.flash"));

    /**
     * The flash kernels (attention_mma.cu: no score block in memory) take whole 64 x 64 tiles of head dim 64 or 128,
     * and a window of whole tiles up to 2048 (its bias table lives in shared memory); anything else takes the blocked
     * or per-query path.
     */
    boolean flash(Sliding s, int tq, int tk, int d) {
        return FLASH && tensorCoreAttention() && !SIMPLE_ATTENTION && tq > 0 && tq % 64 == 0 && tk % 64 == 0
                && (d == 64 || d == 128) && (s == null || s.window() % 64 == 0 && s.window() <= 2048);
    }

    private boolean blocked(Sliding s, int tq, int tk) {
        return !SIMPLE_ATTENTION && tk > 0 && tq > 0 && (s == null || tq % s.window() == 0);
    }

    /**
     * Per block o, batched over heads: c[o] = op(a[o]) op(b[o]) + beta c[o] (offsets and lds per operand kind). The
     * blocks' outputs are disjoint except for a sliding window's dk and dv ('k' outputs), where block b's keys are
     * block b+1's too: those go in two rounds, even blocks then odd ones (disjoint within a round), so nothing races
     * and the sums come out the same on every run.
     */
    private void blockGemm(Blocks bl, int m, int n, int k, Object a, char aKind, boolean ta, Object b, char bKind, boolean tb,
                           float beta, Object c, char cKind, boolean bf16) {
        boolean c16 = cKind == 's' && bf16 && BF16_SCORES;  // score blocks as bf16 (what the row kernels read)
        flushAdamW();
        materialize(bufferOf(a));
        materialize(bufferOf(b));
        written(c);
        boolean overlapping = cKind == 'k' && bl.W > 0;
        for (int round = 0; round < (overlapping ? 2 : 1); round++) {
            int count = 0;
            for (int o = 0; o < bl.count(); o++) if (!overlapping || (o % bl.nb) % 2 == round) count++;
            if (count == 0) continue;
            long[] oa = new long[count], ob = new long[count], oc = new long[count];
            int i = 0;
            for (int o = 0; o < bl.count(); o++) {
                if (overlapping && (o % bl.nb) % 2 != round) continue;
                oa[i] = off(bl, aKind, o); ob[i] = off(bl, bKind, o); oc[i] = off(bl, cKind, o);
                i++;
            }
            gemmItems(bl.H, m, n, k, a, oa, ld(bl, aKind), stride(bl, aKind), ta, b, ob, ld(bl, bKind), stride(bl, bKind), tb,
                    beta, c, oc, ld(bl, cKind), stride(bl, cKind), bf16, c16);
        }
    }

    /** Operand kinds: 'q' rows of a query tensor, 'k' rows of a key tensor (head h at column h * D), 's' score blocks. */
    private static long off(Blocks bl, char kind, int o) {
        return kind == 'q' ? bl.qOff(o) : kind == 'k' ? bl.kOff(o) : bl.sOff(o);
    }

    private static int ld(Blocks bl, char kind) { return kind == 's' ? bl.tkb : bl.hd(); }

    private static long stride(Blocks bl, char kind) { return kind == 's' ? (long) bl.tqb * bl.tkb : bl.D; }

    /** x itself, or (bf16 products) its cached bf16 copy. */
    private Object maybeBf16(Tensor x, boolean bf16) { return bf16 ? bf16(x, x.size()) : x; }

    @Override protected void doAttention(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding s,
                                         Tensor out, Tensor lse) {
        int G = q.dim(0), tq = q.dim(1), tk = k.dim(1), D = q.cols() / heads;
        if (flash(s, tq, tk, D)) { flashAttention(q, k, v, heads, temperature, s, out, lse); return; }
        if (!blocked(s, tq, tk)) { simpleAttention(q, k, v, heads, temperature, s, out, lse); return; }
        Blocks bl = Blocks.of(G, heads, D, tq, tk, s == null ? 0 : s.window());
        boolean bf = productsInBf16(), s16 = bf && BF16_SCORES;
        DeviceBuffer scores = allocator.allocate(bl.scores() * (s16 ? 2 : 4));
        Object qa = maybeBf16(q, bf), ka = maybeBf16(k, bf);
        blockGemm(bl, bl.tqb, bl.tkb, D, qa, 'q', false, ka, 'k', true, 0f, scores, 's', bf);
        overwrite(lse, q, k, v);                        // every row of lse, and (the blocks cover Tq) every row of out
        overwrite(out, q, k, v);
        // bf16 products: the softmax writes p as bf16 right away (no float p to cast afterwards)
        DeviceBuffer p16 = bf ? allocator.allocate(bl.scores() * 2) : null;
        launch("k_attn_softmax", bl.rows(), 1, 1, LOCAL, 1, concat(concat(new Object[]{s16 ? dummy : scores, s16 ? scores : dummy,
                s16 ? 1 : 0, temperature, s == null ? dummy : s.relBias(), s == null ? dummy : bucketTable(s), lse, bl.tqb, bl.tkb,
                heads, bl.nb, tq, bl.W, s == null ? 1 : s.buckets()}, dropoutArgs(s)), bf ? p16 : dummy, bf ? 1 : 0));
        Object pa = bf ? p16 : scores, va = maybeBf16(v, bf);
        blockGemm(bl, bl.tqb, D, bl.tkb, pa, 's', false, va, 'k', false, 0f, out, 'q', bf);
        scores.recycle();
        if (p16 != null) p16.recycle();
    }

    @Override protected void doAttentionBackward(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding s,
                                                 Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv,
                                                 Tensor dTemperature, Tensor dRelBias) {
        int G = q.dim(0), tq = q.dim(1), tk = k.dim(1), D = q.cols() / heads;
        if (flash(s, tq, tk, D)) {
            flashAttentionBackward(q, k, v, heads, temperature, s, out, lse, dOut, dq, dk, dv, dTemperature, dRelBias);
            return;
        }
        if (!blocked(s, tq, tk)) {
            simpleAttentionBackward(q, k, v, heads, temperature, s, out, lse, dOut, dq, dk, dv, dTemperature, dRelBias);
            return;
        }
        Blocks bl = Blocks.of(G, heads, D, tq, tk, s == null ? 0 : s.window());
        boolean bf = productsInBf16(), s16 = bf && BF16_SCORES;
        int rows = G * heads * tq, W = bl.W;
        DeviceBuffer scores = allocator.allocate(bl.scores() * (s16 ? 2 : 4)), dP = allocator.allocate(bl.scores() * (s16 ? 2 : 4));
        DeviceBuffer dTempRow = allocator.allocate(rows * 4L);
        Object qa = maybeBf16(q, bf), ka = maybeBf16(k, bf);
        Object va = maybeBf16(v, bf), da = maybeBf16(dOut, bf);
        blockGemm(bl, bl.tqb, bl.tkb, D, qa, 'q', false, ka, 'k', true, 0f, scores, 's', bf);
        blockGemm(bl, bl.tqb, bl.tkb, D, da, 'q', false, va, 'k', true, 0f, dP, 's', bf);
        Object table = s == null ? dummy : bucketTable(s);
        DeviceBuffer p16 = bf ? allocator.allocate(bl.scores() * 2) : null, ds16 = bf ? allocator.allocate(bl.scores() * 2) : null;
        launch("k_attn_bwd_row", bl.rows(), 1, 1, LOCAL, 1, concat(concat(new Object[]{s16 ? dummy : scores, s16 ? dummy : dP,
                s16 ? scores : dummy, s16 ? dP : dummy, s16 ? 1 : 0, temperature, s == null ? dummy : s.relBias(), table,
                lse, out, dOut, D, dTempRow, bl.tqb, bl.tkb, heads, bl.nb, tq, W, s == null ? 1 : s.buckets()}, dropoutArgs(s)),
                bf ? p16 : dummy, bf ? ds16 : dummy, bf ? 1 : 0));
        Object pa = bf ? p16 : scores, dsa = bf ? ds16 : dP;
        // dv += P^T dOut and dk += dS^T q: a sliding block's keys overlap the next block's, so blocks run one after
        // another (in order on the one queue), never as items of one batched product.
        // Onto zeros not filled yet, a product overwrites (beta 0): dq's blocks are disjoint and cover every query;
        // without a window there is one block per group, covering every key too. Each test right before its own
        // product, so that gradients which are one tensor (dk == dq) still add up.
        Object[] in = {q, k, v, out, lse, dOut};
        blockGemm(bl, bl.tkb, D, bl.tqb, pa, 's', true, da, 'q', false, W == 0 && overwrite(dv, in) ? 0f : 1f, dv, 'k', bf);
        blockGemm(bl, bl.tkb, D, bl.tqb, dsa, 's', true, qa, 'q', false, W == 0 && overwrite(dk, in) ? 0f : 1f, dk, 'k', bf);
        blockGemm(bl, bl.tqb, D, bl.tkb, dsa, 's', false, ka, 'k', false, overwrite(dq, in) ? 0f : 1f, dq, 'q', bf);
        rowwise("k_attn_dtemp", heads, dTempRow, dTemperature, G, heads, tq);
        if (W > 0) {
            int pairs = bl.count() * W, parts = Math.min(64, pairs), chunk = (pairs + parts - 1) / parts;
            DeviceBuffer partial = allocator.allocate((long) parts * heads * W * 4);
            elementwise("k_attn_dbias_offset_part", parts * heads * W, s16 ? dummy : dP, s16 ? ds16 : dummy, s16 ? 1 : 0,
                    partial, bl.count(), heads, W, chunk, parts);
            relBiasGradient(partial, parts, heads, s, dRelBias);
        }
        scores.recycle(); dP.recycle(); dTempRow.recycle();
        if (bf) { p16.recycle(); ds16.recycle(); }
    }

    /**
     * dRelBias += the score gradient summed by T5 bucket, from sums by key offset in {@code parts} parts
     * (partial [parts][heads][W]): the parts added in order (k_colsum), then the offsets by bucket (k_attn_dbias).
     * Recycles partial.
     */
    private void relBiasGradient(DeviceBuffer partial, int parts, int heads, Sliding s, Tensor dRelBias) {
        int W = s.window();
        DeviceBuffer byOffset = allocator.allocate((long) heads * W * 4);
        elementwise("k_colsum", heads * W, partial, byOffset, parts, heads * W, 0);
        rowwise("k_attn_dbias", heads * s.buckets(), byOffset, bucketTable(s), dRelBias, heads, W, s.buckets());
        byOffset.recycle();
        partial.recycle();
    }

    /** The dropout arguments every attention kernel takes after the window's: seed, threshold, scale, on. */
    private static Object[] dropoutArgs(Sliding s) {
        boolean drop = s != null && s.dropoutRate() > 0;
        return new Object[]{drop ? s.dropoutSeed() : 0L, drop ? threshold(s.dropoutRate()) : 0,
                drop ? (float) (1 / (1 - s.dropoutRate())) : 1f, drop ? 1 : 0};
    }

    private static Object[] concat(Object[] a, Object... b) {
        Object[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /**
     * The smallest distance d such that every distance in [d, W] falls in W's T5 bucket (the last one once W reaches
     * the maximum distance): k_flash_bwd_q sums a tile of only such distances at once instead of by diagonal.
     */
    private int farFrom(Sliding s) {
        return farFroms.computeIfAbsent(s.window() + "/" + s.buckets() + "/" + s.maxDistance(), key -> {
            int last = T5Buckets.bucket(s.window(), s.buckets(), s.maxDistance()), d = s.window();
            while (d > 1 && T5Buckets.bucket(d - 1, s.buckets(), s.maxDistance()) == last) d--;
            return d;
        });
    }

    /** k_flash_fwd: one CTA of 128 threads per 64 queries and head, reading the bf16 copies of q, k and v. */
    private void flashAttention(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding s, Tensor out, Tensor lse) {
        int G = q.dim(0), tq = q.dim(1), tk = k.dim(1), D = q.cols() / heads, W = s == null ? 0 : s.window();
        Object qa = bf16(q, q.size()), ka = bf16(k, k.size()), va = bf16(v, v.size());
        overwrite(lse, q, k, v);                        // the kernel writes every row of both
        overwrite(out, q, k, v);
        Object[] args = {qa, ka, va, temperature, s == null ? dummy : s.relBias(), s == null ? dummy : bucketTable(s),
                out, lse, tq, tk, heads, D, W, s == null ? 1 : s.buckets()};
        launch("k_flash_fwd", G * tq / 64, heads, 1, 128, 1, concat(args, dropoutArgs(s)));
    }

    /**
     * k_flash_bwd_q per query tile (Di, dq, the temperature's rows, the relative bias by key offset per tile), then
     * k_flash_bwd_kv per key tile (dk, dv: a CTA sums every query of its keys, so no rounds and no atomics).
     */
    private void flashAttentionBackward(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding s,
                                        Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv,
                                        Tensor dTemperature, Tensor dRelBias) {
        int G = q.dim(0), tq = q.dim(1), tk = k.dim(1), D = q.cols() / heads, W = s == null ? 0 : s.window();
        int qTiles = G * tq / 64, rows = G * heads * tq;
        Object qa = bf16(q, q.size()), ka = bf16(k, k.size()), va = bf16(v, v.size()), da = bf16(dOut, dOut.size());
        Object rel = s == null ? dummy : s.relBias(), table = s == null ? dummy : bucketTable(s);
        int nbk = s == null ? 1 : s.buckets();
        DeviceBuffer dsum = allocator.allocate(rows * 4L), dTempRow = allocator.allocate(rows * 4L);
        DeviceBuffer partial = W > 0 ? allocator.allocate((long) qTiles * heads * W * 4) : null;
        Object[] in = {q, k, v, out, lse, dOut};
        int setDq = overwrite(dq, in) ? 1 : 0;         // each test right before its own kernel (dk may be dq)
        launch("k_flash_bwd_q", qTiles, heads, 1, 128, 1, concat(new Object[]{qa, ka, va, da, out, dOut, temperature,
                rel, table, lse, dsum, dq, dTempRow, partial == null ? dummy : partial, tq, tk, heads, D, W, nbk},
                concat(dropoutArgs(s), setDq, W > 0 ? farFrom(s) : 0)));
        int setDk = overwrite(dk, in) ? 1 : 0, setDv = overwrite(dv, in) ? 1 : 0;
        launch("k_flash_bwd_kv", G * tk / 64, heads, 1, 128, 1, concat(new Object[]{qa, ka, va, da, temperature, rel,
                table, lse, dsum, dk, dv, tq, tk, heads, D, W, nbk}, concat(dropoutArgs(s), setDk, setDv)));
        rowwise("k_attn_dtemp", heads, dTempRow, dTemperature, G, heads, tq);
        if (W > 0) relBiasGradient(partial, qTiles, heads, s, dRelBias);
        dsum.recycle();
        dTempRow.recycle();
    }

    /** Both attentions through the flash kernels, and no buffer written by one is touched by the other. */
    private boolean flashPair(int heads, Attn a, Attn b, Object... written) {
        if (!PAIRED_ATTENTION) return false;
        for (Attn x : List.of(a, b)) if (!flash(null, x.q().dim(1), x.k().dim(1), x.q().cols() / heads)) return false;
        if (a.q().cols() != b.q().cols()) return false;
        Set<DeviceBuffer> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Object t : written) if (!seen.add(bufferOf(t))) return false;
        return true;
    }

    /** {@code -Dbrt.gpu.pairedAttention=false}: the cell's two attentions one after the other (an ablation). */
    private static final boolean PAIRED_ATTENTION = Boolean.parseBoolean(System.getProperty("brt.gpu.pairedAttention", "true"));

    /** k_flash_fwd2: the two attentions' CTAs in one grid (z picks the attention). */
    @Override protected void doAttentionPair(int heads, Attn a, Attn b) {
        if (!flashPair(heads, a, b, a.out(), a.lse(), b.out(), b.lse())) { super.doAttentionPair(heads, a, b); return; }
        List<Object> args = new ArrayList<>();
        int nx = 0;
        for (Attn x : List.of(a, b)) {
            overwrite(x.lse(), x.q(), x.k(), x.v());
            overwrite(x.out(), x.q(), x.k(), x.v());
            int n = x.q().dim(0) * x.q().dim(1) / 64;
            nx = Math.max(nx, n);
            args.addAll(List.of(bf16(x.q(), x.q().size()), bf16(x.k(), x.k().size()), bf16(x.v(), x.v().size()), x.temperature(),
                    x.out(), x.lse(), x.q().dim(1), x.k().dim(1), n));
        }
        args.addAll(List.of(dummy, dummy, heads, a.q().cols() / heads));
        launch("k_flash_fwd2", nx, heads, 2, 128, 1, args.toArray());
    }

    /** k_flash_bwd_q2, then k_flash_bwd_kv2: each pair of per-tile kernels as one grid. */
    @Override protected void doAttentionPairBackward(int heads, Attn a, AttnGrads ga, Attn b, AttnGrads gb) {
        if (!flashPair(heads, a, b, ga.dq(), ga.dk(), ga.dv(), ga.dTemperature(), gb.dq(), gb.dk(), gb.dv(), gb.dTemperature())) {
            super.doAttentionPairBackward(heads, a, ga, b, gb);
            return;
        }
        List<Object> qArgs = new ArrayList<>(), kvArgs = new ArrayList<>();
        List<DeviceBuffer> scratch = new ArrayList<>();
        int nq = 0, nkv = 0;
        for (int i = 0; i < 2; i++) {
            Attn x = i == 0 ? a : b;
            AttnGrads gx = i == 0 ? ga : gb;
            int rows = x.q().dim(0) * heads * x.q().dim(1), tq = x.q().dim(1), tk = x.k().dim(1);
            DeviceBuffer dsum = allocator.allocate(rows * 4L), dTempRow = allocator.allocate(rows * 4L);
            scratch.add(dsum);
            scratch.add(dTempRow);
            Object qa = bf16(x.q(), x.q().size()), ka = bf16(x.k(), x.k().size()), va = bf16(x.v(), x.v().size());
            Object da = bf16(gx.dOut(), gx.dOut().size());
            Object[] in = {x.q(), x.k(), x.v(), x.out(), x.lse(), gx.dOut()};
            int n = x.q().dim(0) * tq / 64, m = x.q().dim(0) * tk / 64;
            nq = Math.max(nq, n);
            nkv = Math.max(nkv, m);
            qArgs.addAll(List.of(qa, ka, va, da, x.out(), gx.dOut(), x.temperature(), x.lse(), dsum, gx.dq(), dTempRow, tq, tk,
                    overwrite(gx.dq(), in) ? 1 : 0, n));
            kvArgs.addAll(List.of(qa, ka, va, da, x.temperature(), x.lse(), dsum, gx.dk(), gx.dv(), tq, tk,
                    overwrite(gx.dk(), in) ? 1 : 0, overwrite(gx.dv(), in) ? 1 : 0, m));
        }
        int d = a.q().cols() / heads;
        qArgs.addAll(List.of(dummy, dummy, dummy, heads, d));
        kvArgs.addAll(List.of(dummy, dummy, heads, d));
        launch("k_flash_bwd_q2", nq, heads, 2, 128, 1, qArgs.toArray());
        launch("k_flash_bwd_kv2", nkv, heads, 2, 128, 1, kvArgs.toArray());
        rowwise("k_attn_dtemp", heads, scratch.get(1), ga.dTemperature(), a.q().dim(0), heads, a.q().dim(1));
        rowwise("k_attn_dtemp", heads, scratch.get(3), gb.dTemperature(), b.q().dim(0), heads, b.q().dim(1));
        for (DeviceBuffer x : scratch) x.recycle();
    }

    private void simpleAttention(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding s,
                                         Tensor out, Tensor lse) {
        int G = q.dim(0), tq = q.dim(1), tk = k.dim(1), D = q.cols() / heads;
        checkHeadDim(D);
        int rows = G * heads * tq;
        if (rows == 0) return;
        overwrite(out, q, k, v);
        overwrite(lse, q, k, v, out);
        elementwise("k_attn_fwd", rows, concat(new Object[]{q, k, v, temperature, s == null ? dummy : s.relBias(),
                s == null ? dummy : bucketTable(s), out, lse, G, tq, tk, heads, D, s == null ? 0 : s.window(),
                s == null ? 1 : s.buckets()}, dropoutArgs(s)));
    }

    private void simpleAttentionBackward(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding s,
                                                 Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv,
                                                 Tensor dTemperature, Tensor dRelBias) {
        int G = q.dim(0), tq = q.dim(1), tk = k.dim(1), D = q.cols() / heads;
        checkHeadDim(D);
        int rows = G * heads * tq;
        if (rows == 0) return;
        int W = s == null ? 0 : s.window(), nb = s == null ? 1 : s.buckets();
        Object[] drop = dropoutArgs(s);
        Object rel = s == null ? dummy : s.relBias(), table = s == null ? dummy : bucketTable(s);
        DeviceBuffer dsum = allocator.allocate(rows * 4L), dTempRow = allocator.allocate(rows * 4L);
        DeviceBuffer dsT = W > 0 ? allocator.allocate((long) rows * W * 4) : null;
        elementwise("k_attn_dot", rows, out, dOut, dsum, G, tq, heads, D);
        elementwise("k_attn_bwd_q", rows, concat(new Object[]{q, k, v, temperature, rel, table, lse, dOut, dsum, dq, dTempRow,
                dsT == null ? dummy : dsT, G, tq, tk, heads, D, W, nb}, drop));
        elementwise("k_attn_bwd_kv", G * heads * tk, concat(new Object[]{q, k, v, temperature, rel, table, lse, dOut, dsum, dk, dv,
                G, tq, tk, heads, D, W, nb}, drop));
        rowwise("k_attn_dtemp", heads, dTempRow, dTemperature, G, heads, tq);
        if (dsT != null) {
            DeviceBuffer byOffset = allocator.allocate((long) heads * W * 4);
            elementwise("k_attn_dbias_offset", heads * W, dsT, byOffset, G, heads, tq, W);
            rowwise("k_attn_dbias", heads * nb, byOffset, table, dRelBias, heads, W, nb);
            byOffset.recycle();
            dsT.recycle();
        }
        dsum.recycle();
        dTempRow.recycle();
    }

    // ---------------------------------------------------------------- loss

    private DeviceBuffer targets(int[] targets, boolean[] mask, int v) {
        int[] t = new int[targets.length];
        for (int r = 0; r < t.length; r++) t[r] = mask[r] ? Math.floorMod(targets[r], v) : -1;
        return ints(t);
    }

    /** The log-sum-exp per row of the last logits through {@link #doCrossEntropy}, and which values they were. */
    private DeviceBuffer ceLse, ceLogits;
    private int ceVersion;

    @Override protected double doCrossEntropy(Tensor logits, int[] targets, boolean[] mask, Tensor rowLoss) {
        if (targets.length == 0) return 0;
        crossEntropyRows(logits, targets, mask, rowLoss);
        float[] rl = doDownload(rowLoss);
        double total = 0;
        for (int r = 0; r < rl.length; r++) if (mask[r]) total += rl[r];
        return total;
    }

    /** rowLoss and the lse that the backward reads, kept with the logits buffer and version they came from. */
    private void crossEntropyRows(Tensor logits, int[] targets, boolean[] mask, Tensor rowLoss) {
        DeviceBuffer t = targets(targets, mask, logits.cols());
        if (ceLse != null) ceLse.recycle();
        ceLse = allocator.allocate(logits.rows() * 4L);
        overwrite(rowLoss, logits);
        rowwise("k_ce", logits.rows(), logits, t, rowLoss, ceLse, logits.cols());
        ceLogits = g(logits).buf;
        ceVersion = ceLogits.version;
        t.recycle();
    }

    @Override protected void doCrossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits) {
        if (targets.length == 0) return;
        if (ceLogits != g(logits).buf || ceVersion != ceLogits.version) {   // not the logits of the last forward
            Tensor rowLoss = zeros(logits.rows());
            crossEntropyRows(logits, targets, mask, rowLoss);
            free(rowLoss);
        }
        int acc = overwrite(dLogits, logits) ? 0 : 1;
        DeviceBuffer t = targets(targets, mask, logits.cols());
        Object o16 = shadowFor(dLogits);               // the output head's products read the gradient next
        rowwise("k_ce_back", logits.rows(), logits, t, ceLse, (float) gradScale, dLogits, logits.cols(), acc, o16, o16 == dummy ? 0 : 1);
        shadowWritten(dLogits);
        t.recycle();
    }

    // ---------------------------------------------------------------- rows, columns, batch select

    @Override protected void doRowSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate) {
        Tensor whole = intoWhole ? to : from, part = intoWhole ? from : to;
        boolean acc = (intoWhole || !overwrite(to, from)) && accumulate;    // out of the whole: every value of part
        elementwise("k_row_slice", part.size(), from, to, part.size(), whole.dim(1), part.dim(1), whole.cols(), start,
                intoWhole ? 1 : 0, acc ? 1 : 0);
    }

    @Override protected void doColSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate) {
        Tensor whole = intoWhole ? to : from, part = intoWhole ? from : to;
        boolean acc = (intoWhole || !overwrite(to, from)) && accumulate;
        elementwise("k_col_slice", part.size(), from, to, part.size(), whole.cols(), part.cols(), start,
                intoWhole ? 1 : 0, acc ? 1 : 0);
    }

    private DeviceBuffer flags(boolean[] f) {
        int[] r = new int[f.length];
        for (int i = 0; i < f.length; i++) r[i] = f[i] ? 1 : 0;
        return ints(r);
    }

    @Override protected void doSelectBatch(boolean[] takeA, Tensor a, Tensor b, Tensor out) {
        if (out.size() == 0) return;
        overwrite(out, a, b);
        DeviceBuffer f = flags(takeA);
        elementwise("k_select", out.size(), f, a, b, out, out.size(), a.size());
        f.recycle();
    }

    @Override protected void doSelectBatchBackward(boolean[] takeA, Tensor dOut, Tensor dA, Tensor dB) {
        if (dOut.size() == 0) return;
        DeviceBuffer f = flags(takeA);
        elementwise("k_select_back_a", dA.size(), f, dOut, dA, takeA.length, dA.size());
        if (dB != null) elementwise("k_select_back_b", dOut.size(), f, dOut, dB, dOut.size(), dA.size());
        f.recycle();
    }

    // ---------------------------------------------------------------- optimizers

    /**
     * One collected AdamW update: the buffers (a tensor may be freed before the flush: its block is only reused by
     * work queued after the flush), n, the weight decay; lr, betas, eps, c1, c2 are shared by a batch.
     */
    private record AdamWUpdate(DeviceBuffer p, DeviceBuffer g, DeviceBuffer m, DeviceBuffer v, int n, float wd,
                               DeviceBuffer p16) {}

    private final java.util.List<AdamWUpdate> adamW = new java.util.ArrayList<>();
    private float[] adamWHyper;
    private long[] adamWTableKey;
    private DeviceBuffer adamWTable;

    @Override protected void doAdamW(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2,
                                     double eps, double weightDecay, long step) {
        if (param.size() == 0) return;
        double c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
        float[] hyper = {(float) lr, (float) beta1, (float) beta2, (float) eps, (float) c1, (float) c2};
        GpuTensor[] ts = {g(param), g(grad), g(m), g(v)};
        boolean clash = adamWHyper != null && !java.util.Arrays.equals(hyper, adamWHyper) || adamW.size() == 65535;
        for (GpuTensor t : ts) {
            clash |= t.buf.pendingZero;                 // filled below: after the updates already collected
            for (AdamWUpdate u : adamW) clash |= t.buf == u.p || t.buf == u.g || t.buf == u.m || t.buf == u.v;
        }
        if (clash) flushAdamW();
        for (GpuTensor t : ts) materialize(t.buf);
        g(param).buf.version++;                         // written by the update (the bf16 copy goes stale now)
        g(m).buf.version++;
        g(v).buf.version++;
        // k_adamw_multi writes the weight's bf16 copy too, where it keeps one (a product read it: the next will)
        Object p16 = keptShadowFor(param);
        adamW.add(new AdamWUpdate(g(param).buf, g(grad).buf, g(m).buf, g(v).buf, param.size(), (float) weightDecay,
                p16 == dummy ? null : (DeviceBuffer) p16));
        adamWHyper = hyper;
    }

    /** Queues the collected AdamW updates: one launch on a platform with k_adamw_multi, one per tensor otherwise. */
    protected final void flushAdamW() {
        if (adamW.isEmpty()) return;
        java.util.List<AdamWUpdate> todo = new java.util.ArrayList<>(adamW);
        float[] h = adamWHyper;
        adamW.clear();
        adamWHyper = null;
        if (!multiTensorAdamW() || todo.size() == 1) {
            for (AdamWUpdate u : todo) {
                int n = u.n;
                enqueue("k_adamw", (n + LOCAL - 1) / LOCAL, 1, 1, LOCAL, 1, u.p, u.g, u.m, u.v, n, h[0], h[1], h[2], h[3], u.wd, h[4], h[5]);
            }
            return;
        }
        // The table: per tensor the four device addresses, then n and the weight decay's bits, then the bf16 copy's
        // address or 0; uploaded only when it differs from the last one (a run updates the same tensors every step).
        long[] table = new long[6 * todo.size()];
        int maxN = 0;
        for (int i = 0; i < todo.size(); i++) {
            AdamWUpdate u = todo.get(i);
            table[6 * i] = u.p.handle;
            table[6 * i + 1] = u.g.handle;
            table[6 * i + 2] = u.m.handle;
            table[6 * i + 3] = u.v.handle;
            table[6 * i + 4] = (u.n & 0xffffffffL) | ((long) Float.floatToRawIntBits(u.wd) << 32);
            table[6 * i + 5] = u.p16 == null ? 0 : u.p16.handle;
            maxN = Math.max(maxN, u.n);
        }
        if (!java.util.Arrays.equals(table, adamWTableKey)) {
            if (adamWTable != null) adamWTable.recycle();
            adamWTable = allocator.allocate(table.length * 8L);
            MemorySegment s = staging(table.length * 8L);
            MemorySegment.copy(table, 0, s, ValueLayout.JAVA_LONG, 0, table.length);
            rawWriteQueued(adamWTable.handle, s, table.length * 8L);   // a blocking copy would wait for the backward
            adamWTableKey = table;
        }
        int gx = Math.max(1, Math.min(1024, (maxN + LOCAL - 1) / LOCAL));
        enqueue("k_adamw_multi", gx, todo.size(), 1, LOCAL, 1, adamWTable, h[0], h[1], h[2], h[3], h[4], h[5]);
        for (AdamWUpdate u : todo) {                    // p's version moved when the update was collected
            if (u.p16 != null && u.p.shadow() == u.p16) u.p.shadowVersion = u.p.version;
        }
    }

    @Override protected void doAdafactor(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor vRow, Tensor vCol,
                                         boolean factored, double lr, long step, AdafactorSpec s) {
        int n = param.size();
        if (n == 0) return;
        double decay = 1 - Math.pow(step + 1, -s.decayExponent());
        float fd = (float) decay, mix = (float) (1 - decay), eps1 = (float) s.epsilon1();
        if (s.multiplyByParameterScale()) reduceInto(param, n, true, 0);
        DeviceBuffer y = allocator.allocate(n * 4L);
        if (factored) {
            int rows = param.rows(), cols = param.cols();
            elementwise("k_af_row", rows, grad, vRow, rows, cols, fd, mix, eps1);
            elementwise("k_af_col", cols, grad, vCol, rows, cols, fd, mix, eps1);
            Tensor normalized = rows <= cols ? vRow : vCol;
            reduceInto(normalized, normalized.size(), false, 1);
            elementwise("k_af_y_factored", n, grad, vRow, vCol, y, rows, cols, scalars, normalized.size());
        } else {
            elementwise("k_af_v", n, grad, v, y, n, fd, mix, eps1);
        }
        reduceInto(y, n, true, 2);
        elementwise("k_af_update", n, param, y, m == null ? dummy : m, n, scalars, (float) lr, (float) s.epsilon2(),
                s.multiplyByParameterScale() ? 1 : 0, (float) s.clipThreshold(), (float) s.beta1(), m == null ? 0 : 1);
        y.recycle();
    }

    protected final DeviceBuffer scratch(long bytes) { return allocator.allocate(bytes); }
}
