package brt4j.gpu;

import brt4j.backend.Backend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.checkpoint.SafeTensors;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.trace.TraceComparison;
import brt4j.trace.TraceInputs;
import brt4j.trace.TraceTensor;
import brt4j.trace.Tracer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The unchanged model on each GPU backend: a whole training step (forward, backward, one optimizer step, with
 * dropout on and memory carried from a previous segment) against the float64 reference for every family, and the
 * four golden fixtures through {@link Tracer}.
 */
@ParameterizedClass
@ValueSource(strings = {"opencl", "cuda"})
class ModelOnGpuTest {
    /** The float32 threshold of brt check (README), for a whole step against float64. */
    static final double STEP_TOL = 1e-4;

    @Parameter String kind;

    static ModelConfig tiny(String family, int window, int segment) {
        ModelConfig.Gate gate = family.contains("lstm") ? ModelConfig.Gate.LSTM : ModelConfig.Gate.FIXED;
        ModelConfig.StateFfn ffn = family.endsWith("dual") ? ModelConfig.StateFfn.DUAL
                : family.endsWith("single") ? ModelConfig.StateFfn.SINGLE : ModelConfig.StateFfn.SKIP;
        boolean rec = family.startsWith("Rec") || family.startsWith("Feedback");
        boolean xl = family.startsWith("XL");
        return new ModelConfig(37, 16, family.startsWith("Feedback") ? 3 : 2, 2, 8, 24, xl ? segment : window, segment, 3,
                rec ? new int[]{1} : new int[0], gate, ffn, family.startsWith("Feedback"), true,
                ModelConfig.LogitScale.INV_SQRT_VOCAB, 32, 128, 1e-6, 0, 0);
    }

    static int[][] tokens(int rows, int n, long seed) {
        Random r = new Random(seed);
        int[][] t = new int[rows][n];
        for (int[] row : t) for (int i = 0; i < n; i++) row[i] = r.nextInt(37);
        return t;
    }

    @ParameterizedTest
    @ValueSource(strings = {"Rec:fixed:skip", "Rec:lstm:dual", "Rec:fixed:single", "Feedback:fixed:skip", "Slide", "XL"})
    void trainingStepMatchesReference(String family) {
        Backend gpu = Gpus.require(kind);
        ModelConfig c = tiny(family, 4, 12).withDropout(0.1, 0.1);
        BrtModel ref = new BrtModel(Parameters.initialize(c, new ReferenceBackend(), 11));
        BrtModel onGpu = StepCheck.copyTo(ref, gpu);
        Batch warm = new Batch(tokens(2, 12, 1), new boolean[]{true, true});
        Batch batch = new Batch(tokens(2, 12, 2), new boolean[]{false, true});
        List<TensorDiff> diffs = StepCheck.compare(StepCheck.run(ref, warm, batch, 5), StepCheck.run(onGpu, warm, batch, 5), STEP_TOL);
        assertAll(family + " on " + kind, diffs);
        assertTrue(diffs.size() > 20, "compared only " + diffs.size() + " tensors");
    }

    static void assertAll(String what, List<TensorDiff> diffs) {
        StringBuilder sb = new StringBuilder();
        boolean pass = true;
        for (TensorDiff d : diffs) {
            if (!d.pass()) sb.append(d.line()).append('\n');
            pass &= d.pass();
        }
        assertTrue(pass, what + ":\n" + sb);
    }

    static Path fixtures() {
        for (String cand : new String[]{System.getProperty("brt.shared", ""), "../shared", "../../shared", "/work/shared", ".device/shared"}) {
            if (cand.isEmpty()) continue;
            Path p = Path.of(cand, "fixtures", "brt");
            if (Files.isDirectory(p)) return p;
        }
        assumeTrue(false, "golden fixtures not found (../shared/fixtures/brt); skipping");
        return null;
    }

    @ParameterizedTest
    @ValueSource(strings = {"rec_fixed_skip", "feedback_fixed_skip", "slide", "xl"})
    void goldenFixtures(String fixture) {
        Backend gpu = Gpus.require(kind);
        Path dir = fixtures().resolve(fixture);
        BrtModel model = ModelCheckpoint.load(dir, gpu);
        try (SafeTensors in = SafeTensors.open(dir.resolve("inputs.safetensors"));
             SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            Map<String, TraceTensor> trace = Tracer.run(model, TraceInputs.read(in, model.config()));
            List<TensorDiff> diffs = TraceComparison.compare(expected, trace, Comparison.tolerance(gpu.precisionBits()));
            assertAll(fixture + " on " + kind, diffs);
            assertTrue(diffs.size() > 10, "compared only " + diffs.size() + " tensors");
        }
    }

    @Test
    void clearErrorWhenTheDeviceIsOutOfMemory() {
        GpuBackend gpu = Gpus.require(kind);
        assumeTrue(kind.equals("cuda"), "only CUDA devices report their free memory (PoCL would take the host's)");
        List<brt4j.tensor.Tensor> held = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 64; i++) held.add(gpu.zeros(1 << 30));     // 4 GiB each, until the device is full
            assumeTrue(false, "the device held 256 GiB without complaint");
        } catch (GpuException e) {
            assertTrue(e.getMessage().contains("out of device memory: asked for") && e.getMessage().contains("free of"), e.getMessage());
        } finally {
            for (brt4j.tensor.Tensor t : held) gpu.free(t);
            gpu.emptyCache();
        }
        gpu.zeros(1000);                                                   // still usable afterwards
    }
}
