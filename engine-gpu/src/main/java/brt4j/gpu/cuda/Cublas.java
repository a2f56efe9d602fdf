package brt4j.gpu.cuda;

import brt4j.gpu.Ffm;
import brt4j.gpu.GpuException;
import brt4j.gpu.LazyBinding;
import brt4j.gpu.NativeLibraries;

import java.lang.foreign.Arena;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Bindings to cuBLAS (libcublas.so.*): a handle and the mixed-type strided-batched GEMM. */
public final class Cublas {
    public static final int OP_N = 0, OP_T = 1;
    public static final int CUDA_R_32F = 0, CUDA_R_16BF = 14;
    public static final int COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77;
    public static final int GEMM_DEFAULT = -1;

    private static final LazyBinding<Cublas> INSTANCE = new LazyBinding<>(Cublas::load);

    final MethodHandle create, destroy, gemmStridedBatchedEx, gemmEx, gemmBatchedEx;

    private Cublas(Ffm f) {
        create = f.fn("cublasCreate_v2", JAVA_INT, ADDRESS);
        destroy = f.fn("cublasDestroy_v2", JAVA_INT, ADDRESS);
        gemmStridedBatchedEx = f.fn("cublasGemmStridedBatchedEx", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT);
        gemmEx = f.fn("cublasGemmEx", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        gemmBatchedEx = batched(f);
    }

    private static MethodHandle batched(Ffm f) {
        // cublasGemmBatchedEx(handle, opA, opB, m, n, k, alpha, A[], typeA, lda, B[], typeB, ldb, beta, C[], typeC, ldc,
        //                     batchCount, computeType, algo): the arrays are device memory holding device pointers
        return f.fn("cublasGemmBatchedEx", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT);
    }

    public static Cublas get() { return INSTANCE.get(); }

    private static Cublas load() {
        var lib = NativeLibraries.load("cuBLAS (libcublas.so.*)", "libcublas\\.so(\\.\\d+)*",
                List.of("libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"), Arena.global());
        return new Cublas(new Ffm(lib, "libcublas"));
    }

    static void check(int status, String what) {
        if (status != 0) throw new GpuException("cuda: " + what + " failed with cuBLAS status " + status + " (" + name(status) + ")");
    }

    static String name(int s) {
        return switch (s) {
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            default -> "see cublas_api.h";
        };
    }
}
