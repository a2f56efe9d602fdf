package brt4j.gpu;

import brt4j.gpu.cuda.CudaBackend;
import brt4j.gpu.opencl.OpenClBackend;

import java.util.HashMap;
import java.util.Map;

/**
 * One backend of each kind per test JVM (PoCL compiles the kernels slowly: once is enough), or the reason there is
 * none here, which the tests report through JUnit assumptions. The CUDA backend runs its matrix products in exact
 * float32 here, so that the float32 tolerance holds for every op.
 */
final class Gpus {
    private Gpus() {}

    private static final Map<String, Object> OPENED = new HashMap<>();

    /** The backend, or a String saying why there is none. */
    static synchronized Object get(String kind) {
        return OPENED.computeIfAbsent(kind, k -> {
            try {
                return switch (k) {
                    case "opencl" -> {
                        if (OpenClBackend.devices().isEmpty()) yield "no OpenCL platform or device found (install pocl-opencl-icd)";
                        yield new OpenClBackend(Integer.getInteger("brt.test.opencl", 0));
                    }
                    case "cuda" -> {
                        if (CudaBackend.deviceCount() == 0) yield "no CUDA device found";
                        yield new CudaBackend(0, CudaBackend.Precision.FP32);
                    }
                    case "cuda-bf16" -> {                   // training's mode: bf16 operands, cached per buffer
                        if (CudaBackend.deviceCount() == 0) yield "no CUDA device found";
                        yield new CudaBackend(0, CudaBackend.Precision.BF16);
                    }
                    default -> throw new IllegalArgumentException(k);
                };
            } catch (GpuException e) {
                return k + " unavailable: " + e.getMessage().lines().findFirst().orElse("");
            }
        });
    }

    static GpuBackend require(String kind) {
        Object o = get(kind);
        org.junit.jupiter.api.Assumptions.assumeTrue(o instanceof GpuBackend, () -> "skipped on " + kind + ": " + o);
        return (GpuBackend) o;
    }
}
