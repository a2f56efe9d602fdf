package brt4j.gpu.opencl;

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

/** Bindings to the OpenCL 1.2 API of the ICD loader (libOpenCL.so.1): only what the backend calls. */
public final class OpenCl {
    public static final int CL_SUCCESS = 0;
    public static final long CL_DEVICE_TYPE_CPU = 2, CL_DEVICE_TYPE_GPU = 4, CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;
    public static final int CL_PLATFORM_NAME = 0x0902, CL_PLATFORM_VERSION = 0x0901;
    public static final int CL_DEVICE_TYPE = 0x1000, CL_DEVICE_NAME = 0x102B, CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F;
    public static final int CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004;
    public static final int CL_PROGRAM_BUILD_LOG = 0x1183;
    public static final long CL_MEM_READ_WRITE = 1;
    public static final int CL_MEM_OBJECT_ALLOCATION_FAILURE = -4, CL_OUT_OF_RESOURCES = -5, CL_OUT_OF_HOST_MEMORY = -6;
    public static final int CL_BUILD_PROGRAM_FAILURE = -11;

    private static final LazyBinding<OpenCl> INSTANCE = new LazyBinding<>(OpenCl::load);

    final MethodHandle getPlatformIDs, getPlatformInfo, getDeviceIDs, getDeviceInfo, createContext, createCommandQueue,
            createBuffer, releaseMemObject, enqueueWriteBuffer, enqueueReadBuffer, enqueueCopyBuffer,
            createProgramWithSource, buildProgram, getProgramBuildInfo, createKernel, setKernelArg, enqueueNDRangeKernel,
            finish, releaseKernel, releaseProgram, releaseCommandQueue, releaseContext;

    private OpenCl(Ffm f) {
        getPlatformIDs = f.fn("clGetPlatformIDs", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        getPlatformInfo = f.fn("clGetPlatformInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
        getDeviceIDs = f.fn("clGetDeviceIDs", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
        getDeviceInfo = f.fn("clGetDeviceInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
        createContext = f.fn("clCreateContext", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        createCommandQueue = f.fn("clCreateCommandQueue", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
        createBuffer = f.fn("clCreateBuffer", ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS);
        releaseMemObject = f.fn("clReleaseMemObject", JAVA_INT, ADDRESS);
        enqueueWriteBuffer = f.fn("clEnqueueWriteBuffer", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS,
                JAVA_INT, ADDRESS, ADDRESS);
        enqueueReadBuffer = f.fn("clEnqueueReadBuffer", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS,
                JAVA_INT, ADDRESS, ADDRESS);
        enqueueCopyBuffer = f.fn("clEnqueueCopyBuffer", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, ADDRESS, ADDRESS);
        createProgramWithSource = f.fn("clCreateProgramWithSource", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        buildProgram = f.fn("clBuildProgram", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        getProgramBuildInfo = f.fn("clGetProgramBuildInfo", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
        createKernel = f.fn("clCreateKernel", ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        setKernelArg = f.fn("clSetKernelArg", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS);
        enqueueNDRangeKernel = f.fn("clEnqueueNDRangeKernel", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, ADDRESS, ADDRESS);
        finish = f.fn("clFinish", JAVA_INT, ADDRESS);
        releaseKernel = f.fn("clReleaseKernel", JAVA_INT, ADDRESS);
        releaseProgram = f.fn("clReleaseProgram", JAVA_INT, ADDRESS);
        releaseCommandQueue = f.fn("clReleaseCommandQueue", JAVA_INT, ADDRESS);
        releaseContext = f.fn("clReleaseContext", JAVA_INT, ADDRESS);
    }

    /** The loaded API; throws {@link GpuException} naming where it looked when there is no ICD loader. */
    public static OpenCl get() { return INSTANCE.get(); }

    private static OpenCl load() {
        var lib = NativeLibraries.load("the OpenCL ICD loader (libOpenCL.so.1)", "libOpenCL\\.so(\\.\\d+)*",
                List.of("libOpenCL.so.1", "libOpenCL.so"), Arena.global());
        return new OpenCl(new Ffm(lib, "libOpenCL"));
    }

    static void check(int err, String what) {
        if (err != CL_SUCCESS) throw new GpuException("opencl: " + what + " failed with error " + err + " (" + errorName(err) + ")");
    }

    static String errorName(int e) {
        return switch (e) {
            case -1 -> "CL_DEVICE_NOT_FOUND";
            case -2 -> "CL_DEVICE_NOT_AVAILABLE";
            case -3 -> "CL_COMPILER_NOT_AVAILABLE";
            case -4 -> "CL_MEM_OBJECT_ALLOCATION_FAILURE";
            case -5 -> "CL_OUT_OF_RESOURCES";
            case -6 -> "CL_OUT_OF_HOST_MEMORY";
            case -11 -> "CL_BUILD_PROGRAM_FAILURE";
            case -30 -> "CL_INVALID_VALUE";
            case -36 -> "CL_INVALID_COMMAND_QUEUE";
            case -38 -> "CL_INVALID_MEM_OBJECT";
            case -46 -> "CL_INVALID_KERNEL_NAME";
            case -48 -> "CL_INVALID_KERNEL";
            case -49 -> "CL_INVALID_ARG_INDEX";
            case -50 -> "CL_INVALID_ARG_VALUE";
            case -51 -> "CL_INVALID_ARG_SIZE";
            case -52 -> "CL_INVALID_KERNEL_ARGS";
            case -54 -> "CL_INVALID_WORK_GROUP_SIZE";
            case -61 -> "CL_INVALID_BUFFER_SIZE";
            case -1001 -> "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL driver is installed)";
            default -> "see cl.h";
        };
    }

    static MemorySegment ptr(long address) { return MemorySegment.ofAddress(address); }
}
