package brt4j.gpu.opencl;

import brt4j.gpu.DeviceRef;
import brt4j.gpu.GpuBackend;
import brt4j.gpu.GpuException;
import brt4j.gpu.GpuTensor;
import brt4j.gpu.Kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static brt4j.gpu.opencl.OpenCl.check;

/**
 * The Backend on an OpenCL device (NVIDIA, AMD, Intel GPUs; PoCL on the CPU for tests): the kernels of
 * kernels/*.cl compiled by the driver once per backend, a tiled matmul of our own, one in-order queue.
 */
public final class OpenClBackend extends GpuBackend {
    private final OpenCl cl = OpenCl.get();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment device, context, queue, program;
    private final String deviceName, platformName;
    private final long globalMem;
    private final Map<String, MemorySegment> kernels = new HashMap<>();
    private final MemorySegment argBuf, errBuf, sizes;
    private boolean closed;

    /** One device of an OpenCL platform, as {@link #devices()} lists them. */
    public record ClDevice(int index, MemorySegment platform, MemorySegment device, String platformName, String name,
                           boolean gpu, long memory) implements DeviceRef {
        @Override public String describe() {
            return String.format(Locale.ROOT, "opencl:%d %s (%s, %s, %.1f GiB)", index, name, platformName, gpu ? "GPU" : "CPU",
                    memory / 1073741824.0);
        }
    }

    /** Every OpenCL device of every platform, GPUs and CPUs; empty when no platform is installed. */
    public static List<ClDevice> devices() {
        OpenCl cl = OpenCl.get();
        List<ClDevice> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
            int err = (int) cl.getPlatformIDs.invokeExact(0, MemorySegment.NULL, n);
            if (err != 0 || n.get(ValueLayout.JAVA_INT, 0) == 0) return out;
            int np = n.get(ValueLayout.JAVA_INT, 0);
            MemorySegment ps = a.allocate(ValueLayout.ADDRESS, np);
            check((int) cl.getPlatformIDs.invokeExact(np, ps, MemorySegment.NULL), "clGetPlatformIDs");
            for (int p = 0; p < np; p++) {
                MemorySegment plat = ps.getAtIndex(ValueLayout.ADDRESS, p);
                String pname = platformString(cl, plat, OpenCl.CL_PLATFORM_NAME);
                err = (int) cl.getDeviceIDs.invokeExact(plat, OpenCl.CL_DEVICE_TYPE_ALL, 0, MemorySegment.NULL, n);
                if (err != 0) continue;
                int nd = n.get(ValueLayout.JAVA_INT, 0);
                MemorySegment ds = a.allocate(ValueLayout.ADDRESS, nd);
                check((int) cl.getDeviceIDs.invokeExact(plat, OpenCl.CL_DEVICE_TYPE_ALL, nd, ds, MemorySegment.NULL), "clGetDeviceIDs");
                for (int d = 0; d < nd; d++) {
                    MemorySegment dev = ds.getAtIndex(ValueLayout.ADDRESS, d);
                    long type = deviceLong(cl, dev, OpenCl.CL_DEVICE_TYPE);
                    out.add(new ClDevice(out.size(), plat, dev, pname, deviceString(cl, dev, OpenCl.CL_DEVICE_NAME),
                            (type & OpenCl.CL_DEVICE_TYPE_GPU) != 0, deviceLong(cl, dev, OpenCl.CL_DEVICE_GLOBAL_MEM_SIZE)));
                }
            }
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("opencl: listing devices failed: " + t, t);
        }
        return out;
    }

    public OpenClBackend(int index) {
        List<ClDevice> all = devices();
        if (all.isEmpty()) throw new GpuException("opencl: no OpenCL platform or device found (is an ICD such as pocl-opencl-icd installed?)");
        if (index < 0 || index >= all.size()) {
            throw new GpuException("opencl: no device " + index + "; there are " + all.size() + ": " + all.stream().map(ClDevice::describe).toList());
        }
        ClDevice d = all.get(index);
        this.device = d.device();
        this.deviceName = d.name();
        this.platformName = d.platformName();
        this.globalMem = d.memory();
        argBuf = arena.allocate(8, 8);
        errBuf = arena.allocate(ValueLayout.JAVA_INT);
        sizes = arena.allocate(ValueLayout.JAVA_LONG, 6);
        try {
            MemorySegment devs = arena.allocate(ValueLayout.ADDRESS);
            devs.set(ValueLayout.ADDRESS, 0, device);
            context = (MemorySegment) cl.createContext.invokeExact(MemorySegment.NULL, 1, devs, MemorySegment.NULL, MemorySegment.NULL, errBuf);
            check(errBuf.get(ValueLayout.JAVA_INT, 0), "clCreateContext");
            queue = (MemorySegment) cl.createCommandQueue.invokeExact(context, device, 0L, errBuf);
            check(errBuf.get(ValueLayout.JAVA_INT, 0), "clCreateCommandQueue");
            program = build(Kernels.source(Kernels.Platform.OPENCL));
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("opencl: initialisation failed: " + t, t);
        }
        initScratch();
    }

    private MemorySegment build(String src) throws Throwable {
        MemorySegment s = arena.allocateFrom(src);
        MemorySegment strings = arena.allocate(ValueLayout.ADDRESS);
        strings.set(ValueLayout.ADDRESS, 0, s);
        MemorySegment prog = (MemorySegment) cl.createProgramWithSource.invokeExact(context, 1, strings, MemorySegment.NULL, errBuf);
        check(errBuf.get(ValueLayout.JAVA_INT, 0), "clCreateProgramWithSource");
        MemorySegment devs = arena.allocate(ValueLayout.ADDRESS);
        devs.set(ValueLayout.ADDRESS, 0, device);
        int err = (int) cl.buildProgram.invokeExact(prog, 1, devs, arena.allocateFrom("-cl-std=CL1.2"), MemorySegment.NULL, MemorySegment.NULL);
        if (err != 0) {
            throw new GpuException("opencl: the kernels did not compile on " + deviceName + " (error " + err + "); compiler log:\n" + buildLog(prog));
        }
        return prog;
    }

    private String buildLog(MemorySegment prog) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(ValueLayout.JAVA_LONG);
            int err = (int) cl.getProgramBuildInfo.invokeExact(prog, device, OpenCl.CL_PROGRAM_BUILD_LOG, 0L, MemorySegment.NULL, n);
            if (err != 0) return "(no log: error " + err + ")";
            long len = n.get(ValueLayout.JAVA_LONG, 0);
            MemorySegment log = a.allocate(Math.max(len, 1));
            err = (int) cl.getProgramBuildInfo.invokeExact(prog, device, OpenCl.CL_PROGRAM_BUILD_LOG, len, log, MemorySegment.NULL);
            return err != 0 ? "(no log: error " + err + ")" : log.getString(0, StandardCharsets.UTF_8);
        }
    }

    static String platformString(OpenCl cl, MemorySegment p, int param) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1024);
            check((int) cl.getPlatformInfo.invokeExact(p, param, 1024L, buf, MemorySegment.NULL), "clGetPlatformInfo");
            return buf.getString(0).trim();
        }
    }

    static String deviceString(OpenCl cl, MemorySegment d, int param) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1024);
            check((int) cl.getDeviceInfo.invokeExact(d, param, 1024L, buf, MemorySegment.NULL), "clGetDeviceInfo");
            return buf.getString(0).trim();
        }
    }

    static long deviceLong(OpenCl cl, MemorySegment d, int param) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8);
            check((int) cl.getDeviceInfo.invokeExact(d, param, 8L, buf, MemorySegment.NULL), "clGetDeviceInfo");
            return buf.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Override public String name() { return "opencl"; }

    @Override public int precisionBits() { return 32; }

    @Override public String describe() {
        return String.format(Locale.ROOT, "opencl: %s (%s), %.1f GiB, float32", deviceName, platformName, globalMem / 1073741824.0);
    }

    // ---------------------------------------------------------------- primitives

    @Override protected long rawAlloc(long bytes) {
        try {
            MemorySegment m = (MemorySegment) cl.createBuffer.invokeExact(context, OpenCl.CL_MEM_READ_WRITE, bytes, MemorySegment.NULL, errBuf);
            int err = errBuf.get(ValueLayout.JAVA_INT, 0);
            if (err == OpenCl.CL_MEM_OBJECT_ALLOCATION_FAILURE || err == OpenCl.CL_OUT_OF_RESOURCES
                    || err == OpenCl.CL_OUT_OF_HOST_MEMORY || err == -61) return 0;
            check(err, "clCreateBuffer");
            return m.address();
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("opencl: clCreateBuffer: " + t, t);
        }
    }

    @Override protected void rawFree(long handle) {
        GpuException.wrap("opencl: ", () -> {
            int err = (int) cl.releaseMemObject.invokeExact(OpenCl.ptr(handle));
            check(err, "clReleaseMemObject");
        });
    }

    @Override protected void rawWrite(long handle, MemorySegment src, long bytes) {
        GpuException.wrap("opencl: ", () -> {
            check((int) cl.enqueueWriteBuffer.invokeExact(queue, OpenCl.ptr(handle), 1, 0L, bytes, src, 0, MemorySegment.NULL,
                    MemorySegment.NULL), "clEnqueueWriteBuffer");
        });
    }

    @Override protected void rawRead(long handle, MemorySegment dst, long bytes) {
        GpuException.wrap("opencl: ", () -> {
            check((int) cl.enqueueReadBuffer.invokeExact(queue, OpenCl.ptr(handle), 1, 0L, bytes, dst, 0, MemorySegment.NULL,
                    MemorySegment.NULL), "clEnqueueReadBuffer");
        });
    }

    @Override protected void rawCopy(long src, long dst, long bytes) {
        GpuException.wrap("opencl: ", () -> {
            check((int) cl.enqueueCopyBuffer.invokeExact(queue, OpenCl.ptr(src), OpenCl.ptr(dst), 0L, 0L, bytes, 0,
                    MemorySegment.NULL, MemorySegment.NULL), "clEnqueueCopyBuffer");
        });
    }

    @Override protected long[] memoryInfo() { return new long[]{globalMem, globalMem}; }

    private MemorySegment kernel(String name) throws Throwable {
        MemorySegment k = kernels.get(name);
        if (k == null) {
            k = (MemorySegment) cl.createKernel.invokeExact(program, arena.allocateFrom(name), errBuf);
            check(errBuf.get(ValueLayout.JAVA_INT, 0), "clCreateKernel " + name);
            kernels.put(name, k);
        }
        return k;
    }

    @Override protected void enqueue(String name, int gx, int gy, int gz, int lx, int ly, Object... args) {
        try {
            MemorySegment k = kernel(name);
            for (int i = 0; i < args.length; i++) {
                Object a = args[i];
                long size;
                switch (a) {
                    case GpuTensor t -> { argBuf.set(ValueLayout.JAVA_LONG, 0, handleOf(t)); size = 8; }
                    case Integer v -> { argBuf.set(ValueLayout.JAVA_INT, 0, v); size = 4; }
                    case Float v -> { argBuf.set(ValueLayout.JAVA_FLOAT, 0, v); size = 4; }
                    case Long v -> { argBuf.set(ValueLayout.JAVA_LONG, 0, v); size = 8; }
                    default -> { argBuf.set(ValueLayout.JAVA_LONG, 0, bufferHandle(a)); size = 8; }
                }
                int err = (int) cl.setKernelArg.invokeExact(k, i, size, argBuf);
                check(err, "clSetKernelArg " + name + " #" + i);
            }
            sizes.setAtIndex(ValueLayout.JAVA_LONG, 0, (long) gx * lx);
            sizes.setAtIndex(ValueLayout.JAVA_LONG, 1, (long) gy * ly);
            sizes.setAtIndex(ValueLayout.JAVA_LONG, 2, gz);
            sizes.setAtIndex(ValueLayout.JAVA_LONG, 3, lx);
            sizes.setAtIndex(ValueLayout.JAVA_LONG, 4, ly);
            sizes.setAtIndex(ValueLayout.JAVA_LONG, 5, 1);
            int err = (int) cl.enqueueNDRangeKernel.invokeExact(queue, k, 3, MemorySegment.NULL, sizes, sizes.asSlice(24),
                    0, MemorySegment.NULL, MemorySegment.NULL);
            check(err, "launching " + name);
            countLaunch();
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("opencl: launching " + name + ": " + t, t);
        }
    }

    @Override protected void gemm(int batch, int m, int n, int k, GpuTensor a, boolean ta, GpuTensor b, boolean tb,
                                  GpuTensor c, float alpha, float beta) {
        launch("k_matmul", (n + 15) / 16, (m + 15) / 16, batch, 16, 16, a, b, c, m, n, k, ta ? 1 : 0, tb ? 1 : 0, alpha, beta);
    }

    @Override protected void gemmEx(int batch, int m, int n, int k, float alpha, Object a, long offA, int lda, long strideA,
                                    boolean ta, Object b, long offB, int ldb, long strideB, boolean tb, float beta, Object c,
                                    long offC, int ldc, long strideC, boolean bf16, boolean c16) {
        if (bf16 || c16) throw new IllegalStateException("opencl: no bf16 matrix products");
        launch("k_matmul_ex", (n + 15) / 16, (m + 15) / 16, batch, 16, 16, a, offA, lda, strideA, b, offB, ldb, strideB,
                c, offC, ldc, strideC, m, n, k, ta ? 1 : 0, tb ? 1 : 0, alpha, beta);
    }

    @Override protected void waitIdle() {
        GpuException.wrap("opencl: ", () -> {
            check((int) cl.finish.invokeExact(queue), "clFinish");
        });
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            synchronize();
            closeScratch();
            for (MemorySegment k : kernels.values()) { int ignored = (int) cl.releaseKernel.invokeExact(k); }
            int e1 = (int) cl.releaseProgram.invokeExact(program);
            int e2 = (int) cl.releaseCommandQueue.invokeExact(queue);
            int e3 = (int) cl.releaseContext.invokeExact(context);
        } catch (Throwable t) {
            // closing: nothing more to do
        }
        arena.close();
    }
}
