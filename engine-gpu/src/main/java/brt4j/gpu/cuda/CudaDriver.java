package brt4j.gpu.cuda;

import brt4j.gpu.Ffm;
import brt4j.gpu.GpuException;
import brt4j.gpu.LazyBinding;
import brt4j.gpu.NativeLibraries;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings to the CUDA driver API (libcuda.so.1), only what the backend calls. Symbols that carry a version suffix
 * in cuda.h are bound under it (cuMemAlloc_v2 ...). Every call returns a CUresult; {@link #check} turns one into an
 * error with the driver's name and text for it.
 */
public final class CudaDriver {
    public static final int CUDA_ERROR_OUT_OF_MEMORY = 2, CUDA_ERROR_NO_DEVICE = 100;
    public static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    private static final LazyBinding<CudaDriver> INSTANCE = new LazyBinding<>(CudaDriver::load);

    final MethodHandle init, deviceGetCount, deviceGet, deviceGetName, deviceGetAttribute, deviceTotalMem,
            primaryCtxRetain, primaryCtxRelease, ctxSetCurrent, ctxSynchronize, memAlloc, memFree, memcpyHtoD, memcpyDtoH,
            memcpyDtoDAsync, memsetD32Async, memcpyHtoDAsync, memAllocHost, memFreeHost, memGetInfo, moduleLoadData, moduleGetFunction, funcSetAttribute, launchKernel, getErrorName, getErrorString,
            moduleUnload;
    /** Events, for the profile's {@code events} mode only (bound when present; the backend never needs them). */
    final MethodHandle eventCreate, eventRecord, eventElapsedTime, eventDestroy;

    private CudaDriver(Ffm f) {
        init = f.fn("cuInit", JAVA_INT, JAVA_INT);
        deviceGetCount = f.fn("cuDeviceGetCount", JAVA_INT, ADDRESS);
        deviceGet = f.fn("cuDeviceGet", JAVA_INT, ADDRESS, JAVA_INT);
        deviceGetName = f.fn("cuDeviceGetName", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        deviceGetAttribute = f.fn("cuDeviceGetAttribute", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        deviceTotalMem = f.fn("cuDeviceTotalMem_v2", JAVA_INT, ADDRESS, JAVA_INT);
        primaryCtxRetain = f.fn("cuDevicePrimaryCtxRetain", JAVA_INT, ADDRESS, JAVA_INT);
        primaryCtxRelease = f.fn("cuDevicePrimaryCtxRelease_v2", JAVA_INT, JAVA_INT);
        ctxSetCurrent = f.fn("cuCtxSetCurrent", JAVA_INT, ADDRESS);
        ctxSynchronize = f.fn("cuCtxSynchronize", JAVA_INT);
        memAlloc = f.fn("cuMemAlloc_v2", JAVA_INT, ADDRESS, JAVA_LONG);
        memFree = f.fn("cuMemFree_v2", JAVA_INT, JAVA_LONG);
        memcpyHtoD = f.fn("cuMemcpyHtoD_v2", JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG);
        memcpyDtoH = f.fn("cuMemcpyDtoH_v2", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG);
        memcpyDtoDAsync = f.fn("cuMemcpyDtoDAsync_v2", JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
        memcpyHtoDAsync = f.fn("cuMemcpyHtoDAsync_v2", JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
        memAllocHost = f.fn("cuMemAllocHost_v2", JAVA_INT, ADDRESS, JAVA_LONG);
        memFreeHost = f.fn("cuMemFreeHost", JAVA_INT, ADDRESS);
        memsetD32Async = f.fn("cuMemsetD32Async", JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS);
        memGetInfo = f.fn("cuMemGetInfo_v2", JAVA_INT, ADDRESS, ADDRESS);
        moduleLoadData = f.fn("cuModuleLoadData", JAVA_INT, ADDRESS, ADDRESS);
        moduleUnload = f.fn("cuModuleUnload", JAVA_INT, ADDRESS);
        moduleGetFunction = f.fn("cuModuleGetFunction", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        funcSetAttribute = f.fn("cuFuncSetAttribute", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        launchKernel = f.fn("cuLaunchKernel", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        getErrorName = f.fn("cuGetErrorName", JAVA_INT, JAVA_INT, ADDRESS);
        getErrorString = f.fn("cuGetErrorString", JAVA_INT, JAVA_INT, ADDRESS);
        eventCreate = f.optional("cuEventCreate", JAVA_INT, ADDRESS, JAVA_INT);
        eventRecord = f.optional("cuEventRecord", JAVA_INT, ADDRESS, ADDRESS);
        MethodHandle elapsed = f.optional("cuEventElapsedTime", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        eventElapsedTime = elapsed != null ? elapsed : f.optional("cuEventElapsedTime_v2", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        eventDestroy = f.optional("cuEventDestroy_v2", JAVA_INT, ADDRESS);
    }

    /** The loaded, initialised driver; a {@link GpuException} naming where it looked when there is none. */
    public static CudaDriver get() { return INSTANCE.get(); }

    private static CudaDriver load() {
        var lib = NativeLibraries.load("the CUDA driver (libcuda.so.1)", "libcuda\\.so(\\.\\d+)*",
                List.of("libcuda.so.1", "libcuda.so"), Arena.global());
        CudaDriver d = new CudaDriver(new Ffm(lib, "libcuda"));
        try {
            int err = (int) d.init.invokeExact(0);
            if (err != 0 && err != CUDA_ERROR_NO_DEVICE) d.check(err, "cuInit");
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("cuda: cuInit: " + t, t);
        }
        return d;
    }

    void check(int err, String what) {
        if (err != 0) throw new GpuException("cuda: " + what + " failed: " + describe(err));
    }

    String describe(int err) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            String name = (int) getErrorName.invokeExact(err, p) == 0 ? p.get(ADDRESS, 0).reinterpret(256).getString(0) : "error " + err;
            String text = (int) getErrorString.invokeExact(err, p) == 0 ? p.get(ADDRESS, 0).reinterpret(1024).getString(0) : "";
            return name + " (" + err + ")" + (text.isEmpty() ? "" : ": " + text);
        } catch (Throwable t) {
            return "error " + err;
        }
    }
}
