package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;

/**
 * Turns the {@code --device} and {@code --dtype} options into a backend. float64 means the scalar oracle
 * (the reference backend), which runs on the CPU only.
 */
final class Backends {
    private Backends() {}

    static Backend open(String device, String dtype) {
        String d = device == null ? "auto" : device.trim().toLowerCase();
        switch (dtype) {
            case "float64" -> {
                if (!d.equals("auto") && !d.equals("cpu")) {
                    throw new IllegalArgumentException("--dtype float64 runs the scalar reference on the CPU; it cannot run on --device " + device);
                }
                System.err.println("backend: reference (float64 scalar oracle on the CPU)");
                return new ReferenceBackend();
            }
            case "float32" -> { }
            default -> throw new IllegalArgumentException("--dtype must be float32 or float64, got '" + dtype + "'");
        }
        return switch (d.replaceAll(":.*", "")) {
            case "auto" -> {
                System.err.println("backend: cpu (auto: no GPU backend is built into this version yet)");
                yield new CpuBackend();
            }
            case "cpu" -> new CpuBackend();
            case "cuda", "opencl" -> throw new IllegalArgumentException("--device " + device + ": the " + d
                    + " backend is not built into this version yet; use --device cpu");
            default -> throw new IllegalArgumentException("--device must be auto, cpu, cuda[:N] or opencl[:N], got '" + device + "'");
        };
    }
}
