package brt4j.gpu.cuda;

import brt4j.gpu.DeviceBuffer;
import brt4j.gpu.GpuBackend;
import brt4j.gpu.GpuException;
import brt4j.gpu.GpuTensor;
import brt4j.gpu.Kernels;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The Backend on an NVIDIA GPU through the driver API: kernels/*.cl compiled once per device by NVRTC to PTX (cached
 * on disk by a hash of source, architecture and NVRTC version), loaded with cuModuleLoadData, launched on the
 * default stream; matrix products through cuBLAS (cublasGemmStridedBatchedEx) in one of three precisions.
 */
public final class CudaBackend extends GpuBackend {
    /** Matrix-product precision: exact float32, TF32 tensor cores, or bf16 operands with float32 accumulation and output. */
    public enum Precision { FP32, TF32, BF16 }

    private final CudaDriver cu = CudaDriver.get();
    private final Cublas blas;
    private final Arena arena = Arena.ofShared();
    private final int ordinal;
    private final MemorySegment context, module, cublasHandle;
    private final String deviceName, arch;
    private final int computeMajor;
    private final Precision precision;
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final MemorySegment params, values, alphaBeta, out8;
    /** Kernel arguments a launch can take (the paired flash backward has 35). */
    private static final int MAX_ARGS = 64;
    private Thread owner;
    private boolean closed;

    /** Number of CUDA devices; 0 where the driver is there but no device is (a missing driver throws). */
    public static int deviceCount() {
        CudaDriver d = CudaDriver.get();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            int err = (int) d.deviceGetCount.invokeExact(n);
            return err == 0 ? n.get(JAVA_INT, 0) : 0;
        } catch (Throwable t) {
            return 0;
        }
    }

    /** "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB)" */
    public static String describeDevice(int ordinal) {
        CudaDriver d = CudaDriver.get();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dev = a.allocate(JAVA_INT);
            d.check((int) d.deviceGet.invokeExact(dev, ordinal), "cuDeviceGet");
            int h = dev.get(JAVA_INT, 0);
            MemorySegment name = a.allocate(256);
            d.check((int) d.deviceGetName.invokeExact(name, 256, h), "cuDeviceGetName");
            MemorySegment v = a.allocate(JAVA_INT);
            d.check((int) d.deviceGetAttribute.invokeExact(v, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, h), "attr");
            int major = v.get(JAVA_INT, 0);
            d.check((int) d.deviceGetAttribute.invokeExact(v, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, h), "attr");
            int minor = v.get(JAVA_INT, 0);
            d.check((int) d.deviceGetAttribute.invokeExact(v, CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, h), "attr");
            int sms = v.get(JAVA_INT, 0);
            MemorySegment mem = a.allocate(JAVA_LONG);
            d.check((int) d.deviceTotalMem.invokeExact(mem, h), "cuDeviceTotalMem");
            return String.format(Locale.ROOT, "%s (sm_%d%d, %d SMs, %.1f GiB)", name.getString(0), major, minor, sms,
                    mem.get(JAVA_LONG, 0) / 1073741824.0);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: " + t, t);
        }
    }

    public CudaBackend(int ordinal, Precision precision) {
        this.ordinal = ordinal;
        this.precision = precision;
        int count = deviceCount();
        if (ordinal < 0 || ordinal >= count) throw new GpuException("cuda: no device " + ordinal + " (" + count + " found)");
        params = arena.allocate(ADDRESS, MAX_ARGS);
        values = arena.allocate(8L * MAX_ARGS, 8);
        // cuLaunchKernel's argument array: params[i] points at the i-th 8-byte slot of values, set once here; a
        // launch only writes the values
        for (int i = 0; i < MAX_ARGS; i++) params.setAtIndex(ADDRESS, i, values.asSlice(8L * i));
        alphaBeta = arena.allocate(8, 4);
        out8 = arena.allocate(16, 8);
        try {
            MemorySegment dev = arena.allocate(JAVA_INT);
            cu.check((int) cu.deviceGet.invokeExact(dev, ordinal), "cuDeviceGet");
            int h = dev.get(JAVA_INT, 0);
            MemorySegment ctxp = arena.allocate(ADDRESS);
            cu.check((int) cu.primaryCtxRetain.invokeExact(ctxp, h), "cuDevicePrimaryCtxRetain");
            context = ctxp.get(ADDRESS, 0);
            cu.check((int) cu.ctxSetCurrent.invokeExact(context), "cuCtxSetCurrent");
            owner = Thread.currentThread();
            MemorySegment v = arena.allocate(JAVA_INT);
            cu.check((int) cu.deviceGetAttribute.invokeExact(v, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, h), "attr");
            int major = v.get(JAVA_INT, 0);
            computeMajor = major;
            cu.check((int) cu.deviceGetAttribute.invokeExact(v, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, h), "attr");
            arch = "compute_" + major + v.get(JAVA_INT, 0);
            deviceName = describeDevice(ordinal);
            String ptx = ptx(arch);
            MemorySegment modp = arena.allocate(ADDRESS);
            cu.check((int) cu.moduleLoadData.invokeExact(modp, arena.allocateFrom(ptx)), "cuModuleLoadData");
            module = modp.get(ADDRESS, 0);
            blas = Cublas.get();
            MemorySegment hp = arena.allocate(ADDRESS);
            Cublas.check((int) blas.create.invokeExact(hp), "cublasCreate");
            cublasHandle = hp.get(ADDRESS, 0);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: initialisation failed: " + t, t);
        }
        initScratch();
    }

    /** NVRTC once per (source, arch, NVRTC version); the PTX is kept under ~/.cache/brt4j/kernels. */
    private static String ptx(String arch) {
        Nvrtc nvrtc = Nvrtc.get();
        String src = Kernels.source(Kernels.Platform.CUDA);
        String key = Kernels.sha256(src, arch, nvrtc.versionString());
        Path dir = Path.of(System.getProperty("brt.kernel.cache", System.getProperty("user.home") + "/.cache/brt4j/kernels"));
        Path file = dir.resolve(key.substring(0, 24) + ".ptx");
        try {
            if (Files.isRegularFile(file)) return Files.readString(file);
        } catch (IOException ignored) {
            // compile again
        }
        String ptx = nvrtc.compile(src, "brt4j_kernels.cu", arch);
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "ptx", ".tmp");
            Files.writeString(tmp, ptx);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | UnsupportedOperationException ignored) {
            // a read-only home: no cache, still correct
        }
        return ptx;
    }

    @Override public String name() { return "cuda"; }

    @Override public int precisionBits() { return 32; }

    public Precision precision() { return precision; }

    @Override public String describe() {
        long[] m = memoryInfo();
        return String.format(Locale.ROOT, "cuda:%d %s, %.1f GiB free, NVRTC %s, matmul %s", ordinal, deviceName,
                m[0] / 1073741824.0, Nvrtc.get().versionString(), precision.name().toLowerCase(Locale.ROOT));
    }

    private void current() {
        Thread t = Thread.currentThread();
        if (t != owner) {
            GpuException.wrap("cuda: ", () -> {
                cu.check((int) cu.ctxSetCurrent.invokeExact(context), "cuCtxSetCurrent");
            });
            owner = t;
        }
    }

    // ---------------------------------------------------------------- for NCCL (same package)

    /** Makes this device's context current on the calling thread (NCCL's set-up reads it). */
    void makeCurrent() { current(); }

    /** The device address of a tensor of this backend. */
    long pointer(brt4j.tensor.Tensor t) { return handleOf((GpuTensor) t); }

    int ordinal() { return ordinal; }

    // ---------------------------------------------------------------- primitives

    @Override protected long rawAlloc(long bytes) {
        current();
        try {
            long t0 = PROFILE_HOST ? System.nanoTime() : 0;
            int err = (int) cu.memAlloc.invokeExact(out8, bytes);
            if (PROFILE_HOST) profiled("cuMemAlloc", System.nanoTime() - t0);
            if (err == CudaDriver.CUDA_ERROR_OUT_OF_MEMORY) return 0;
            cu.check(err, "cuMemAlloc");
            return out8.get(JAVA_LONG, 0);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: " + t, t);
        }
    }

    @Override protected void rawFree(long handle) {
        GpuException.wrap("cuda: ", () -> {
            cu.check((int) cu.memFree.invokeExact(handle), "cuMemFree");
        });
    }

    @Override protected void rawWrite(long handle, MemorySegment src, long bytes) {
        current();
        GpuException.wrap("cuda: ", () -> {
            long t0 = profileStart();
            cu.check((int) cu.memcpyHtoD.invokeExact(handle, src, bytes), "cuMemcpyHtoD");
            if (PROFILE) profileEnd(PROFILE_HOST ? "copy host->device, waits, " + bytes + " B" : "copy host->device", t0);
        });
    }

    @Override protected void rawRead(long handle, MemorySegment dst, long bytes) {
        current();
        GpuException.wrap("cuda: ", () -> {
            long t0 = profileStart();
            cu.check((int) cu.memcpyDtoH.invokeExact(dst, handle, bytes), "cuMemcpyDtoH");
            if (PROFILE) profileEnd("copy device->host", t0);
        });
    }

    @Override protected void rawCopy(long src, long dst, long bytes) {
        current();
        GpuException.wrap("cuda: ", () -> {
            cu.check((int) cu.memcpyDtoDAsync.invokeExact(dst, src, bytes, MemorySegment.NULL), "cuMemcpyDtoDAsync");
        });
    }

    @Override protected long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
            int err = (int) cu.memGetInfo.invokeExact(f, t);
            return err == 0 ? new long[]{f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)} : new long[]{-1, -1};
        } catch (Throwable t) {
            return new long[]{-1, -1};
        }
    }

    private MemorySegment function(String name) throws Throwable {
        MemorySegment f = functions.get(name);
        if (f == null) {
            MemorySegment fp = arena.allocate(ADDRESS);
            cu.check((int) cu.moduleGetFunction.invokeExact(fp, module, arena.allocateFrom(name)), "cuModuleGetFunction " + name);
            f = fp.get(ADDRESS, 0);
            int shared = dynamicShared(name);
            if (shared > 0) {                          // above the 48 KiB default: the kernel must opt in
                cu.check((int) cu.funcSetAttribute.invokeExact(f, CudaDriver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                        shared), "cuFuncSetAttribute " + name);
            }
            functions.put(name, f);
        }
        return f;
    }

    /**
     * The flash backward kernels' dynamic shared memory: four 64 x 136 bf16 tiles, the bias table and two rows of
     * row statistics (attention_mma.cu's layout; each kernel traps if it gets less than that layout needs).
     */
    static final int FLASH_BWD_SMEM = 80896;

    /** The dynamic shared memory a kernel is launched with (bytes). */
    private static int dynamicShared(String kernel) {
        return kernel.startsWith("k_flash_bwd") ? FLASH_BWD_SMEM : 0;
    }

    @Override protected void enqueue(String name, int gx, int gy, int gz, int lx, int ly, Object... args) {
        current();
        try {
            MemorySegment f = function(name);
            if (args.length > MAX_ARGS) throw new GpuException("cuda: " + name + " has " + args.length + " arguments, at most " + MAX_ARGS);
            for (int i = 0; i < args.length; i++) {
                long off = 8L * i;
                switch (args[i]) {
                    case GpuTensor t -> values.set(JAVA_LONG, off, handleOf(t));
                    case Integer v -> values.set(JAVA_INT, off, v);
                    case Float v -> values.set(ValueLayout.JAVA_FLOAT, off, v);
                    case Long v -> values.set(JAVA_LONG, off, v);
                    default -> values.set(JAVA_LONG, off, bufferHandle(args[i]));
                }
            }
            long t0 = profileStart();
            int err = (int) cu.launchKernel.invokeExact(f, gx, gy, gz, lx, ly, 1, dynamicShared(name), MemorySegment.NULL, params,
                    MemorySegment.NULL);
            cu.check(err, "launching " + name);
            countLaunch();
            if (PROFILE) profileEnd(name, t0);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: launching " + name + ": " + t, t);
        }
    }

    /**
     * Row-major c [m, n] = op(a) op(b) is column-major c^T [n, m] = op(b)^T op(a)^T: cuBLAS gets b first, with the
     * transposes as stored (no copies).
     */
    @Override protected void gemm(int batch, int m, int n, int k, GpuTensor a, boolean ta, GpuTensor b, boolean tb,
                                  GpuTensor c, float alpha, float beta) {
        current();
        alphaBeta.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        alphaBeta.set(ValueLayout.JAVA_FLOAT, 4, beta);
        int opB = tb ? Cublas.OP_T : Cublas.OP_N, ldb = tb ? k : n;
        int opA = ta ? Cublas.OP_T : Cublas.OP_N, lda = ta ? m : k;
        long pa = operand(a), pb = operand(b);
        int type = precision == Precision.BF16 ? Cublas.CUDA_R_16BF : Cublas.CUDA_R_32F;
        int compute = precision == Precision.TF32 ? Cublas.COMPUTE_32F_FAST_TF32 : Cublas.COMPUTE_32F;
        long t0 = profileStart();
        try {
            int st = (int) blas.gemmStridedBatchedEx.invokeExact(cublasHandle, opB, opA, n, m, k, alphaBeta.asSlice(0, 4),
                    pb, type, ldb, (long) k * n, pa, type, lda, (long) m * k, alphaBeta.asSlice(4, 4),
                    handleOf(c), Cublas.CUDA_R_32F, n, (long) m * n, batch, compute, Cublas.GEMM_DEFAULT);
            Cublas.check(st, "cublasGemmStridedBatchedEx " + m + "x" + n + "x" + k + " batch " + batch);
            countLaunch();
            if (PROFILE) profileEnd(String.format(Locale.ROOT, "gemm %dx%dx%d b%d %s%s", m, n, k, batch, ta ? "T" : "N", tb ? "T" : "N"), t0);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: cuBLAS: " + t, t);
        }
    }

    /** A product operand's device address: in bf16 mode its cached bf16 copy (cast only after a write). */
    private long operand(GpuTensor t) { return precision == Precision.BF16 ? bf16(t, t.size()).handle() : handleOf(t); }

    /** Pinned host memory that queued uploads copy from, used round-robin (see {@link #rawWriteQueued}). */
    private static final long RING_BYTES = 8L << 20;
    private MemorySegment ring;
    private long ringAt;

    /**
     * cuMemcpyHtoD from pageable memory returns only after the device ran everything queued before it, a stall in
     * the middle of a step; from pinned memory, cuMemcpyHtoDAsync is queued and returns at once. The data goes to
     * the next slice of a pinned ring; when the ring wraps, the device has to have finished the copies from it.
     */
    @Override protected void rawWriteQueued(long handle, MemorySegment src, long bytes) {
        if (bytes > RING_BYTES / 8) { rawWrite(handle, src, bytes); return; }
        current();
        GpuException.wrap("cuda: ", () -> {
            if (ring == null) {
                MemorySegment pp = arena.allocate(ADDRESS);
                cu.check((int) cu.memAllocHost.invokeExact(pp, RING_BYTES), "cuMemAllocHost");
                ring = pp.get(ADDRESS, 0).reinterpret(RING_BYTES);
            }
            if (ringAt + bytes > RING_BYTES) {
                long t0 = PROFILE_HOST ? System.nanoTime() : 0;
                waitIdle();                             // every copy queued from the ring has run
                if (PROFILE_HOST) profiled("wait: the upload ring wrapped", System.nanoTime() - t0);
                ringAt = 0;
            }
            MemorySegment slot = ring.asSlice(ringAt, bytes);
            MemorySegment.copy(src, 0, slot, 0, bytes);
            ringAt = (ringAt + bytes + 255) & ~255L;
            long t0 = profileStart();
            cu.check((int) cu.memcpyHtoDAsync.invokeExact(handle, slot, bytes, MemorySegment.NULL), "cuMemcpyHtoDAsync");
            if (PROFILE) profileEnd("copy host->device (queued)", t0);
        });
    }

    /** Zeros by the driver's memset (no kernel of ours to launch). */
    @Override protected void zeroFill(DeviceBuffer b) {
        current();
        GpuException.wrap("cuda: ", () -> {
            long t0 = profileStart();
            cu.check((int) cu.memsetD32Async.invokeExact(b.handle(), 0, b.bytes() / 4, MemorySegment.NULL),
                    "cuMemsetD32Async");
            countLaunch();
            if (PROFILE) profileEnd("memset zeros", t0);
        });
    }

    private long syncNow() {
        waitIdle();
        return System.nanoTime();
    }

    // ---------------------------------------------------------------- profile (-Dbrt.gpu.profile=true or events)

    /** A call between two recorded events (their CUevent handles), read back after the next sync. */
    private record Timed(String what, long start, long end) {}
    private final ArrayDeque<Long> eventPool = new ArrayDeque<>();
    private final List<Timed> timed = new ArrayList<>();

    @Override protected boolean profilesByEvents() { return true; }

    /** Before a profiled call: the host time after a sync, or (events) a recorded event. */
    private long profileStart() {
        if (!PROFILE) return 0;
        return PROFILE_HOST ? System.nanoTime() : PROFILE_EVENTS ? recordEvent() : syncNow();
    }

    private void profileEnd(String what, long t0) {
        if (PROFILE_HOST) profiled(what, System.nanoTime() - t0);
        else if (PROFILE_EVENTS) timed.add(new Timed(what, t0, recordEvent()));
        else profiled(what, syncNow() - t0);
    }

    private long recordEvent() {
        try {
            if (cu.eventRecord == null || cu.eventElapsedTime == null) throw new GpuException("cuda: the driver has no events");
            long ev;
            if (eventPool.isEmpty()) {
                cu.check((int) cu.eventCreate.invokeExact(out8, 0), "cuEventCreate");
                ev = out8.get(JAVA_LONG, 0);
            } else {
                ev = eventPool.pop();
            }
            cu.check((int) cu.eventRecord.invokeExact(MemorySegment.ofAddress(ev), MemorySegment.NULL), "cuEventRecord");
            return ev;
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: " + t, t);
        }
    }

    /** After a sync: every recorded pair has been reached; their times go into the profile. */
    private void collectEvents() {
        try {
            for (Timed t : timed) {
                cu.check((int) cu.eventElapsedTime.invokeExact(out8, MemorySegment.ofAddress(t.start), MemorySegment.ofAddress(t.end)),
                        "cuEventElapsedTime");
                profiled(t.what, Math.round(out8.get(ValueLayout.JAVA_FLOAT, 0) * 1e6));
                eventPool.push(t.start);
                eventPool.push(t.end);
            }
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: " + t, t);
        } finally {
            timed.clear();
        }
    }

    @Override protected boolean multiTensorAdamW() { return true; }

    @Override protected boolean productsInBf16() { return precision == Precision.BF16; }

    /** attention_mma.cu: bf16 mma.sync needs compute capability 8.0 (Ampere) or later. */
    @Override protected boolean tensorCoreAttention() { return precision == Precision.BF16 && computeMajor >= 8; }

    @Override protected void gemmEx(int batch, int m, int n, int k, float alpha, Object a, long offA, int lda, long strideA,
                                    boolean ta, Object b, long offB, int ldb, long strideB, boolean tb, float beta, Object c,
                                    long offC, int ldc, long strideC, boolean bf16, boolean c16) {
        current();
        alphaBeta.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        alphaBeta.set(ValueLayout.JAVA_FLOAT, 4, beta);
        int es = bf16 ? 2 : 4;
        long pa = bufferHandle(a) + offA * es, pb = bufferHandle(b) + offB * es, pc = bufferHandle(c) + offC * (c16 ? 2 : 4);
        int type = bf16 ? Cublas.CUDA_R_16BF : Cublas.CUDA_R_32F, cType = c16 ? Cublas.CUDA_R_16BF : Cublas.CUDA_R_32F;
        int compute = !bf16 && precision == Precision.TF32 ? Cublas.COMPUTE_32F_FAST_TF32 : Cublas.COMPUTE_32F;
        long t0 = profileStart();
        try {
            int st = (int) blas.gemmStridedBatchedEx.invokeExact(cublasHandle, tb ? Cublas.OP_T : Cublas.OP_N,
                    ta ? Cublas.OP_T : Cublas.OP_N, n, m, k, alphaBeta.asSlice(0, 4), pb, type, ldb, strideB, pa, type, lda,
                    strideA, alphaBeta.asSlice(4, 4), pc, cType, ldc, strideC, batch, compute, Cublas.GEMM_DEFAULT);
            Cublas.check(st, "cublasGemmStridedBatchedEx " + m + "x" + n + "x" + k + " batch " + batch);
            countLaunch();
            if (PROFILE) profileEnd(String.format(Locale.ROOT, "attention gemm %dx%dx%d b%d %s%s", m, n, k, batch, ta ? "T" : "N", tb ? "T" : "N") + (c16 ? " to bf16" : ""), t0);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: cuBLAS: " + t, t);
        }
    }

    /** {@code -Dbrt.gpu.batchedAttention=false}: attention's blocks one cuBLAS call each (for comparisons). */
    private static final boolean BATCHED_ITEMS = !"false".equals(System.getProperty("brt.gpu.batchedAttention"));

    /** Device arrays of device pointers for cublasGemmBatchedEx, by their contents (the same blocks come back every step). */
    private record Pointers(long[] p) {
        @Override public boolean equals(Object o) { return o instanceof Pointers q && java.util.Arrays.equals(p, q.p); }
        @Override public int hashCode() { return java.util.Arrays.hashCode(p); }
    }

    private final Map<Pointers, DeviceBuffer> pointerArrays = new HashMap<>();

    private DeviceBuffer pointerArray(long[] ptrs) {
        Pointers key = new Pointers(ptrs);
        DeviceBuffer d = pointerArrays.get(key);
        if (d == null) {
            if (pointerArrays.size() >= 4096) {         // bounded: a step uses far fewer; later work reuses blocks in order
                for (DeviceBuffer x : pointerArrays.values()) x.recycle();
                pointerArrays.clear();
            }
            d = scratch(ptrs.length * 8L);
            try (Arena t = Arena.ofConfined()) {           // rawWriteQueued copies it to the pinned ring at once
                MemorySegment host = t.allocate(ptrs.length * 8L, 8);
                MemorySegment.copy(ptrs, 0, host, JAVA_LONG, 0, ptrs.length);
                rawWriteQueued(d.handle(), host, ptrs.length * 8L);
            }
            pointerArrays.put(key, d);
        }
        return d;
    }

    /** All items and heads in one cublasGemmBatchedEx (items' outputs are disjoint: GpuBackend.blockGemm). */
    @Override protected void gemmItems(int batch, int m, int n, int k, Object a, long[] offA, int lda, long strideA, boolean ta,
                                       Object b, long[] offB, int ldb, long strideB, boolean tb, float beta, Object c,
                                       long[] offC, int ldc, long strideC, boolean bf16, boolean c16) {
        if (!BATCHED_ITEMS || offA.length == 1) {
            super.gemmItems(batch, m, n, k, a, offA, lda, strideA, ta, b, offB, ldb, strideB, tb, beta, c, offC, ldc, strideC, bf16, c16);
            return;
        }
        current();
        int es = bf16 ? 2 : 4, esC = c16 ? 2 : 4, total = offA.length * batch;
        long ba = bufferHandle(a), bb = bufferHandle(b), bc = bufferHandle(c);
        long[] ptrs = new long[3 * total];               // [our a's items | our b's | c's]
        for (int i = 0; i < offA.length; i++) {
            for (int z = 0; z < batch; z++) {
                int at = i * batch + z;
                ptrs[at] = ba + (offA[i] + z * strideA) * es;
                ptrs[total + at] = bb + (offB[i] + z * strideB) * es;
                ptrs[2 * total + at] = bc + (offC[i] + z * strideC) * esC;
            }
        }
        batchedByPointers(ptrs, m, n, k, ta, lda, tb, ldb, ldc, 1f, beta, bf16, c16, "attention gemm batched");
    }

    /** Independent products of one shape in one cublasGemmBatchedEx (operands as for {@link #gemm}). */
    @Override protected void gemmGroup(int m, int n, int k, List<GpuTensor> a, boolean ta, List<GpuTensor> b, boolean tb,
                                       List<GpuTensor> c, float alpha, float beta) {
        current();
        int total = a.size();
        long[] ptrs = new long[3 * total];
        for (int i = 0; i < total; i++) {
            ptrs[i] = operand(a.get(i));
            ptrs[total + i] = operand(b.get(i));
            ptrs[2 * total + i] = handleOf(c.get(i));
        }
        batchedByPointers(ptrs, m, n, k, ta, ta ? m : k, tb, tb ? k : n, n, alpha, beta, precision == Precision.BF16, false,
                "gemm group");
    }

    /**
     * One cublasGemmBatchedEx over ptrs = [our a's | our b's | c's] (row-major c = op(a) op(b) is column-major c^T =
     * op(b)^T op(a)^T: cuBLAS's A is our b). The pointer array is uploaded once per distinct content.
     */
    private void batchedByPointers(long[] ptrs, int m, int n, int k, boolean ta, int lda, boolean tb, int ldb, int ldc,
                                   float alpha, float beta, boolean bf16, boolean c16, String what) {
        int total = ptrs.length / 3;
        long arrays = pointerArray(ptrs).handle();
        alphaBeta.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        alphaBeta.set(ValueLayout.JAVA_FLOAT, 4, beta);
        int type = bf16 ? Cublas.CUDA_R_16BF : Cublas.CUDA_R_32F, cType = c16 ? Cublas.CUDA_R_16BF : Cublas.CUDA_R_32F;
        int compute = !bf16 && precision == Precision.TF32 ? Cublas.COMPUTE_32F_FAST_TF32 : Cublas.COMPUTE_32F;
        long t0 = profileStart();
        try {
            int st = (int) blas.gemmBatchedEx.invokeExact(cublasHandle, tb ? Cublas.OP_T : Cublas.OP_N, ta ? Cublas.OP_T : Cublas.OP_N,
                    n, m, k, alphaBeta.asSlice(0, 4), arrays + total * 8L, type, ldb, arrays, type, lda, alphaBeta.asSlice(4, 4),
                    arrays + 2L * total * 8, cType, ldc, total, compute, Cublas.GEMM_DEFAULT);
            Cublas.check(st, "cublasGemmBatchedEx " + m + "x" + n + "x" + k + " batch " + total);
            countLaunch();
            if (PROFILE) profileEnd(String.format(Locale.ROOT, "%s %dx%dx%d b%d %s%s", what, m, n, k, total, ta ? "T" : "N", tb ? "T" : "N") + (c16 ? " to bf16" : ""), t0);
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: cuBLAS: " + t, t);
        }
    }

    @Override protected void waitIdle() {
        current();
        GpuException.wrap("cuda: ", () -> {
            cu.check((int) cu.ctxSynchronize.invokeExact(), "cuCtxSynchronize");
            if (!timed.isEmpty()) collectEvents();
        });
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            synchronize();
            for (DeviceBuffer x : pointerArrays.values()) x.recycle();
            for (long ev : eventPool) { int e = (int) cu.eventDestroy.invokeExact(MemorySegment.ofAddress(ev)); }
            closeScratch();
            if (ring != null) { int e0 = (int) cu.memFreeHost.invokeExact(ring); }
            int e1 = (int) blas.destroy.invokeExact(cublasHandle);
            int e2 = (int) cu.moduleUnload.invokeExact(module);
            int e3 = (int) cu.primaryCtxRelease.invokeExact(ordinal);
        } catch (Throwable t) {
            // closing: nothing more to do
        }
        arena.close();
    }
}
