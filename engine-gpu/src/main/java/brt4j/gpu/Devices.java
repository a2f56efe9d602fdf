package brt4j.gpu;

import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.gpu.cuda.CudaBackend;
import brt4j.gpu.opencl.OpenClBackend;

import java.io.PrintStream;
import java.util.Locale;

/**
 * {@code --device auto|cpu|cuda|opencl[:N]} (and {@code reference}, the float64 oracle) as one function every command
 * calls. {@code auto}: CUDA if a device is there, else an OpenCL GPU, else the CPU; it prints what it chose and why.
 * A GPU's matmul precision comes from {@code --precision fp32|tf32|bf16} (TF32 by default on CUDA; OpenCL is fp32).
 */
public final class Devices {
    private Devices() {}

    public static Backend open(String spec) { return open(spec, "tf32", System.err); }

    public static Backend open(String spec, String precision, PrintStream log) { return open(spec, precision, 0, log); }

    /** As {@link #open(String, String, PrintStream)}; a CPU backend, asked for or chosen by auto, gets {@code cpuThreads} (0: all cores). */
    public static Backend open(String spec, String precision, int cpuThreads, PrintStream log) {
        if (cpuThreads < 0) throw new IllegalArgumentException("--threads must be >= 0 (0: all cores), got " + cpuThreads);
        String s = spec == null ? "auto" : spec.trim().toLowerCase(Locale.ROOT);
        String kind = s.contains(":") ? s.substring(0, s.indexOf(':')) : s;
        int index = 0;
        if (s.contains(":")) {
            try {
                index = Integer.parseInt(s.substring(s.indexOf(':') + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--device " + spec + ": the device number after ':' must be an integer");
            }
        }
        CudaBackend.Precision p = precision(precision);
        return switch (kind) {
            case "cpu" -> {
                if (s.contains(":")) throw new IllegalArgumentException("--device cpu takes no index, got '" + spec + "'");
                CpuBackend cpu = cpu(cpuThreads);
                log.println("device: cpu (" + cpu.threads() + " threads, " + CpuBackend.vectorBits() + "-bit vectors)");
                yield cpu;
            }
            case "reference" -> new ReferenceBackend();
            case "cuda" -> new CudaBackend(index, p);
            case "opencl" -> {
                if (p != CudaBackend.Precision.FP32 && !precision.equals("tf32")) {
                    throw new IllegalArgumentException("--precision " + precision + ": the OpenCL backend computes in float32 only");
                }
                yield new OpenClBackend(index);
            }
            case "auto" -> auto(p, cpuThreads, log);
            default -> throw new IllegalArgumentException("--device must be auto, cpu, cuda[:N] or opencl[:N], got '" + spec + "'");
        };
    }

    public static CudaBackend.Precision precision(String name) {
        return switch (name == null ? "tf32" : name.toLowerCase(Locale.ROOT)) {
            case "fp32", "float32" -> CudaBackend.Precision.FP32;
            case "tf32" -> CudaBackend.Precision.TF32;
            case "bf16", "bfloat16" -> CudaBackend.Precision.BF16;
            default -> throw new IllegalArgumentException("--precision must be fp32, tf32 or bf16, got '" + name + "'");
        };
    }

    private static CpuBackend cpu(int threads) { return threads > 0 ? new CpuBackend(threads) : new CpuBackend(); }

    private static Backend auto(CudaBackend.Precision p, int cpuThreads, PrintStream log) {
        String why;
        try {
            int n = CudaBackend.deviceCount();
            if (n > 0) {
                CudaBackend b = new CudaBackend(0, p);
                log.println("device: cuda:0 (auto: " + n + " CUDA device(s) found) " + b.describe());
                return b;
            }
            why = "the CUDA driver found no device";
        } catch (GpuException e) {
            why = brief(e.getMessage());
        }
        String whyCl;
        try {
            for (OpenClBackend.ClDevice d : OpenClBackend.devices()) {
                if (d.gpu()) {
                    log.println("device: " + d.describe() + " (auto: no CUDA: " + why + "; an OpenCL GPU is there)");
                    return new OpenClBackend(d.index());
                }
            }
            whyCl = "no OpenCL GPU";
        } catch (GpuException e) {
            whyCl = firstLine(e.getMessage());
        }
        CpuBackend cpu = cpu(cpuThreads);
        log.println("device: cpu, " + cpu.threads() + " threads (auto: no CUDA: " + why + "; " + whyCl + ")");
        return cpu;
    }

    private static String firstLine(String s) { return s == null ? "" : s.lines().findFirst().orElse(""); }

    /**
     * A missing library's reason without the folders searched (printed by every auto run on a machine without
     * CUDA, where the list is noise); {@code --device cuda} prints it whole.
     */
    static String brief(String s) {
        String first = firstLine(s);
        int cut = first.indexOf(": looked for ");
        return cut < 0 ? first : first.substring(0, cut) + " (--device cuda says where it looked)";
    }
}
