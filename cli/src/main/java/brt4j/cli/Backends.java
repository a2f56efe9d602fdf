package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.gpu.Devices;

/**
 * Turns the {@code --device} and {@code --dtype} options of the commands that run a checkpoint into a backend.
 * float64 means the scalar oracle (the reference backend), which runs on the CPU only; float32 goes to
 * {@link Devices#open(String, String, int, java.io.PrintStream)} (every core on the CPU) with the given GPU matmul precision.
 */
final class Backends {
    private Backends() {}

    static Backend open(String device, String dtype, String gpuPrecision) {
        String d = device == null ? "auto" : device.trim().toLowerCase();
        return switch (dtype) {
            case "float64" -> {
                if (!d.equals("auto") && !d.equals("cpu") && !d.equals("reference")) {
                    throw new IllegalArgumentException("--dtype float64 runs the scalar reference on the CPU; it cannot run on --device " + device);
                }
                System.err.println("device: reference (float64 scalar oracle on the CPU)");
                yield new ReferenceBackend();
            }
            case "float32" -> Devices.open(d, gpuPrecision, 0, System.err);
            default -> throw new IllegalArgumentException("--dtype must be float32 or float64, got '" + dtype + "'");
        };
    }
}
