package brt4j.bench.generate;

import brt4j.backend.cpu.CpuBackend;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.TensorInfo;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The heap a checkpoint load needs (issue 6: int8 loading must not hold the float32 model). {@code write} saves a
 * randomly initialized model of a config; {@code load} loads it one way and prints what the loading thread allocated
 * (an exact per-thread count, of a second load) and the heap still used after a GC. Run under a shrinking -Xmx
 * (benchmarks/scripts/load-memory.sh), the smallest heap that loads is the peak the load needs.
 *
 * <p>Usage: {@code LoadMemory write CONFIG.json DIR} | {@code LoadMemory load DIR MODE}, MODE one of
 * float32, int8 (today's loads) and their baselines float32-all-arrays, int8-after-float32: the load of commit c74f044
 * (every tensor read to a float array, the float32 model uploaded, then for int8 quantized), written out here with
 * the public API.
 */
public final class LoadMemory {
    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("write")) {
            ModelConfig c = ModelConfig.load(Path.of(args[1])).withDropout(0, 0);
            ModelCheckpoint.save(Path.of(args[2]), new BrtModel(Parameters.initialize(c, new CpuBackend(1), 1)));
            return;
        }
        if (args.length != 3 || !args[0].equals("load")) {
            throw new IllegalArgumentException("usage: LoadMemory write CONFIG.json DIR | LoadMemory load DIR float32|float32-all-arrays|int8|int8-after-float32");
        }
        Path dir = Path.of(args[1]);
        String mode = args[2];
        CpuBackend be = new CpuBackend(1);
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        BrtModel m = null;
        long allocated = 0, ms = 0;
        for (int rep = 0; rep < 2; rep++) {   // the second load is counted: the first also loads and links classes
            m = null;                         // (so that the two never coexist under a tight -Xmx)
            long before = mx.getCurrentThreadAllocatedBytes(), t0 = System.nanoTime();
            m = load(dir, be, mode);
            allocated = mx.getCurrentThreadAllocatedBytes() - before;
            ms = (System.nanoTime() - t0) / 1_000_000;
        }
        System.gc();
        long retained = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        System.out.printf(Locale.ROOT, "%s: %d parameters; load allocated %.1f MiB in %d ms; heap used after load and GC %.1f MiB%n",
                mode, m.parameters().count(), allocated / MIB, ms, retained / MIB);
    }

    private static final double MIB = 1 << 20;

    private static BrtModel load(Path dir, CpuBackend be, String mode) throws Exception {
        return switch (mode) {
            case "float32" -> ModelCheckpoint.load(dir, be);
            case "int8" -> ModelCheckpoint.load(dir, be, true);
            case "float32-all-arrays" -> loadAllArrays(dir, be, false);
            case "int8-after-float32" -> loadAllArrays(dir, be, true);
            default -> throw new IllegalArgumentException("mode must be float32, float32-all-arrays, int8 or int8-after-float32, got " + mode);
        };
    }

    /** The old load: every tensor read to a float array, the float32 model uploaded, then (int8) each weight quantized. */
    private static BrtModel loadAllArrays(Path dir, CpuBackend be, boolean int8) throws Exception {
        ModelConfig config = ModelConfig.load(dir.resolve(ModelCheckpoint.CONFIG));
        Path weights = dir.resolve(ModelCheckpoint.WEIGHTS);
        try (SafeTensors st = SafeTensors.open(weights)) {
            Map<String, float[]> arrays = new HashMap<>();
            Map<String, int[]> shapes = new HashMap<>();
            for (TensorInfo t : st.infos()) {
                shapes.put(t.name(), Arrays.stream(t.shape()).mapToInt(Math::toIntExact).toArray());
                arrays.put(t.name(), st.floats(t.name()));
            }
            Parameters params = Parameters.fromArrays(config, be, arrays, shapes, weights.toString());
            arrays.clear();
            if (int8) params.quantizeInt8();
            return new BrtModel(params);
        }
    }
}
