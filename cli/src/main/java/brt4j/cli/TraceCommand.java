package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.SafeTensorsWriter;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.trace.TraceComparison;
import brt4j.trace.TraceInputs;
import brt4j.trace.TraceTensor;
import brt4j.trace.Tracer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code brt trace}: runs a checkpoint on given token ids and writes every intermediate (logits, losses, states,
 * XL caches, layer outputs) in the fixture format, or compares them with expected ones. Exit status 1 on a mismatch.
 */
@Command(name = "trace", mixinStandardHelpOptions = true,
        description = {"Run a checkpoint on given tokens and write (or compare) every intermediate.",
                "Inputs hold seg{s}.tokens (I32 [B, N]) and seg{s}.start (I32 [B]); segments run in order with the",
                "XL caches and recurrent states carried, as in training."})
public final class TraceCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = CheckpointPath.DESCRIPTION)
    Path checkpoint;

    @Option(names = "--inputs", required = true, description = "inputs.safetensors with seg{s}.tokens and seg{s}.start.")
    Path inputs;

    @Option(names = "--out", description = "Write the trace here (safetensors).")
    Path out;

    @Option(names = "--compare", description = "Compare with these expected outputs; exit 1 on a mismatch.")
    Path compare;

    @Option(names = "--device", defaultValue = "auto", description = "auto|cpu|cuda|opencl[:N] (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--dtype", defaultValue = "float32",
            description = "float32, or float64 for the scalar oracle in double precision (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--tolerance", description = "Override the comparison tolerance (default: 2e-5 for float32, 1e-6 for float64).")
    Double tolerance;

    @Override
    public Integer call() {
        checkpoint = CheckpointPath.resolve(checkpoint);
        if (out == null && compare == null) throw new IllegalArgumentException("give --out FILE, --compare FILE, or both");
        for (Path p : List.of(inputs)) if (!Files.isRegularFile(p)) throw new IllegalArgumentException(p + ": no such file");
        if (compare != null && !Files.isRegularFile(compare)) throw new IllegalArgumentException(compare + ": no such file");
        if (tolerance != null && !(tolerance > 0)) throw new IllegalArgumentException("--tolerance must be positive, got " + tolerance);
        try (Backend backend = Backends.open(device, dtype, "fp32")) {
            BrtModel model = ModelCheckpoint.load(checkpoint, backend);
            Map<String, TraceTensor> trace;
            try (SafeTensors in = SafeTensors.open(inputs)) {
                trace = Tracer.run(model, TraceInputs.read(in, model.config()));
            }
            if (out != null) {
                write(trace, out, backend.precisionBits() >= 64 ? DType.F64 : DType.F32);
                System.out.println("wrote " + trace.size() + " tensors to " + out);
            }
            if (compare == null) return 0;
            double tol = tolerance != null ? tolerance : Comparison.tolerance(backend.precisionBits());
            try (SafeTensors expected = SafeTensors.open(compare)) {
                List<TensorDiff> diffs = TraceComparison.compare(expected, trace, tol);
                int failed = 0;
                for (TensorDiff d : diffs) {
                    System.out.println(d.line());
                    if (!d.pass()) failed++;
                }
                System.out.printf(Locale.ROOT, "%s on %s (%s): %d tensors, %d passed, %d failed%n", checkpoint.getFileName(),
                        backend.name(), dtype, diffs.size(), diffs.size() - failed, failed);
                return failed == 0 ? 0 : 1;
            }
        }
    }

    static void write(Map<String, TraceTensor> trace, Path file, DType floatType) {
        SafeTensorsWriter w = new SafeTensorsWriter();
        w.metadata("format", "pt").metadata("producer", "brt4j trace");
        trace.forEach((name, t) -> {
            if (t.integer()) {
                int[] ints = new int[t.data().length];
                for (int i = 0; i < ints.length; i++) ints[i] = (int) t.data()[i];
                w.add(name, DType.I32, ints, t.shape());
            } else {
                w.add(name, floatType, t.data(), t.shape());
            }
        });
        w.write(file.toAbsolutePath());
    }
}
