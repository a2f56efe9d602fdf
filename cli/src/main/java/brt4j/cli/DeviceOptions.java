package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.gpu.Devices;
import picocli.CommandLine.Option;

/**
 * The options of every command that runs a model on a device of the user's choice (a picocli mixin): where it runs,
 * how many CPU threads, and the GPU's matmul precision.
 */
final class DeviceOptions {
    @Option(names = "--device", defaultValue = "auto",
            description = "auto|cpu|cuda[:N]|opencl[:N]; auto says what it chose and why (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "tf32",
            description = "GPU matmul precision: fp32|tf32|bf16 (CUDA; OpenCL is fp32) (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0: all cores).")
    int threads;

    /** The backend these options name; it says on standard error what it opened. */
    Backend open() { return Devices.open(device, precision, threads, System.err); }
}
