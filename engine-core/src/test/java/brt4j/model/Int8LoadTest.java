package brt4j.model;

import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Loading a checkpoint with int8 quantizes each weight as it is read, a block of rows at a time: the same bits as
 * quantizing after a float32 load (float32, bf16 and f16 files), without ever staging a whole float32 weight.
 */
class Int8LoadTest {
    @TempDir Path tmp;

    final Backend be = new CpuBackend(2);
    /** Big enough that the embedding [1100, 128] spans several staging blocks of rows, the last one partial. */
    final ModelConfig config = new ModelConfig(1100, 128, 2, 2, 64, 512, 8, 16, 8, new int[]{1}, ModelConfig.Gate.LSTM,
            ModelConfig.StateFfn.DUAL, false, true, ModelConfig.LogitScale.INV_SQRT_D, 32, 128, 1e-6, 0, 0);
    final BrtModel model = new BrtModel(Parameters.initialize(config, be, 5));

    /** A checkpoint of {@link #model} with its tensors in {@code dtype}, less {@code skip}, {@code flatten} made 1-D. */
    private Path checkpoint(String name, DType dtype, String skip, String flatten) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        config.save(dir.resolve(ModelCheckpoint.CONFIG));
        SafeTensorsWriter w = new SafeTensorsWriter();
        model.parameters().all().forEach((n, v) -> {
            if (n.equals(skip)) return;
            long[] shape = n.equals(flatten) ? new long[]{v.value.size()} : java.util.Arrays.stream(v.shape()).asLongStream().toArray();
            w.add(n, dtype, be.download(v.value), shape);
        });
        w.write(dir.resolve(ModelCheckpoint.WEIGHTS));
        return dir;
    }

    @Test
    void streamingInt8LoadGivesTheBitsOfQuantizingAfterAFloat32Load() throws IOException {
        for (DType dtype : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            Path dir = checkpoint(dtype.name(), dtype, null, null);
            BrtModel before = ModelCheckpoint.load(dir, be);   // the old order: float32 load, then quantize
            before.parameters().quantizeInt8();
            BrtModel streamed = ModelCheckpoint.load(dir, be, true);
            for (var e : before.parameters().all().entrySet()) {
                Var s = streamed.parameters().get(e.getKey());
                assertEquals(e.getValue().value.quantized(), s.value.quantized(), e.getKey());
                assertArrayEquals(be.download(e.getValue().value), be.download(s.value), dtype + " " + e.getKey());
            }
            Batch batch = new Batch(Tiny.tokens(2, 16, 3), Tiny.flags(true, true));
            assertArrayEquals(Tiny.logits(before, Tiny.run(before, batch, Memory.empty(config, be, 2), false)),
                    Tiny.logits(streamed, Tiny.run(streamed, batch, Memory.empty(config, be, 2), false)), dtype.name());
        }
    }

    @Test
    void int8LoadStagesABlockOfRowsNeverAWholeWeight() throws IOException {
        Path dir = checkpoint("bf16", DType.BF16, null, null);
        List<String> weights = new ArrayList<>(), others = new ArrayList<>();
        int largestWeight = 0;
        for (ParamSpec s : ParamSpec.all(config)) {
            (ParamSpec.quantizedForInference(s.name()) ? weights : others).add(s.name());
            if (ParamSpec.quantizedForInference(s.name())) largestWeight = Math.max(largestWeight, s.size());
        }
        LoadStats int8 = new LoadStats();
        ModelCheckpoint.load(dir, be, true, int8);
        assertEquals(weights, int8.int8, "every weight quantized as it is read");
        assertEquals(others, int8.float32, "only norm scales, biases, state IDs... are staged whole in float32");
        assertTrue(int8.largestFloatBuffer > 0 && 2 * int8.largestFloatBuffer <= largestWeight,
                "staged " + int8.largestFloatBuffer + " floats at once; the largest weight has " + largestWeight);
        // The float32 load stages each weight whole: the counter does see that, so the bound above can fail.
        LoadStats f32 = new LoadStats();
        ModelCheckpoint.load(dir, be, false, f32);
        assertEquals(largestWeight, f32.largestFloatBuffer);
        assertTrue(f32.int8.isEmpty());
    }

    /**
     * Independent of the counter above: the heap the loading thread allocates (an exact per-thread count, not a GC
     * reading) stays below half the float32 weights', where loading then quantizing allocates them twice over.
     */
    @Test
    void int8LoadAllocatesLessThanHalfTheFloat32Weights() throws IOException {
        Path dir = checkpoint("f32", DType.F32, null, null);
        long weightBytes = 0;
        for (ParamSpec s : ParamSpec.all(config)) if (ParamSpec.quantizedForInference(s.name())) weightBytes += 4L * s.size();
        ModelCheckpoint.load(dir, be, true);   // classes loaded and staging allocated once, outside the count
        long int8 = allocatedBy(() -> ModelCheckpoint.load(dir, be, true));
        long oldOrder = allocatedBy(() -> { BrtModel m = ModelCheckpoint.load(dir, be); m.parameters().quantizeInt8(); return m; });
        String figures = "int8 load allocated " + int8 + " bytes, load-then-quantize " + oldOrder + ", float32 weights "
                + weightBytes;
        assertTrue(int8 < weightBytes / 2, figures);
        assertTrue(oldOrder > weightBytes, figures);
    }

    private static long allocatedBy(Supplier<BrtModel> load) {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(mx.isThreadAllocatedMemorySupported() && mx.isThreadAllocatedMemoryEnabled(), "no per-thread allocation count");
        long before = mx.getCurrentThreadAllocatedBytes();
        BrtModel m = load.get();
        long after = mx.getCurrentThreadAllocatedBytes();
        assertTrue(m.parameters().count() > 0);
        return after - before;
    }

    private String refusal(Path dir) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelCheckpoint.load(dir, be, true));
        assertTrue(!e.getMessage().contains("\n"), "one sentence: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void missingOrMisshapenWeightIsNamedBeforeAnythingLoads() throws IOException {
        String missing = refusal(checkpoint("missing", DType.BF16, "layers.1.state.ffn.w2.weight", null));
        assertTrue(missing.contains("missing tensor layers.1.state.ffn.w2.weight"), missing);
        String shape = refusal(checkpoint("flat", DType.F32, null, "embed.weight"));
        assertTrue(shape.contains("tensor embed.weight has shape [140800]") && shape.contains("[1100, 128]"), shape);
    }
}
