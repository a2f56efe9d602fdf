package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;

/**
 * The {@code --device} option of train, eval and demo: {@code auto | cpu | cuda[:N] | opencl[:N]}, opened by
 * {@link brt4j.gpu.Devices} (auto: CUDA, else an OpenCL GPU, else the CPU, and it says which), except that
 * the CPU, asked for or chosen by auto, honours {@code --threads}.
 */
final class Devices {
    private Devices() {}

    /** Opens the device; {@code threads} 0 means all available processors (CPU only). */
    static Backend open(String spec, int threads, String precision, java.io.PrintStream log) {
        String s = spec == null ? "auto" : spec.trim().toLowerCase();
        if (s.equals("cpu")) {
            CpuBackend be = threads > 0 ? new CpuBackend(threads) : new CpuBackend();
            log.println("device: cpu (" + be.threads() + " threads, " + CpuBackend.vectorBits() + "-bit vectors)");
            return be;
        }
        if (s.startsWith("cpu:")) throw new IllegalArgumentException("--device cpu takes no index, got '" + spec + "'");
        return brt4j.gpu.Devices.open(s, precision, threads, log);    // auto may fall back to the CPU: threads hold there too
    }
}
