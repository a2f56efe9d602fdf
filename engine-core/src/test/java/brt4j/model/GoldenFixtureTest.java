package brt4j.model;

import brt4j.backend.Backend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.checkpoint.SafeTensors;
import brt4j.trace.TraceComparison;
import brt4j.trace.TraceInputs;
import brt4j.trace.TraceTensor;
import brt4j.trace.Tracer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The model reproduces the golden outputs of an implementation that matches meliad's 2022 code: logits, losses,
 * every block's state, the XL caches and every layer's output over two segments, including a document reset.
 */
class GoldenFixtureTest {

    static String run(String fixture, Backend backend) {
        Path dir = Fixtures.dir(fixture);
        BrtModel model = ModelCheckpoint.load(dir, backend);
        try (SafeTensors in = SafeTensors.open(dir.resolve("inputs.safetensors"));
             SafeTensors expected = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            Map<String, TraceTensor> trace = Tracer.run(model, TraceInputs.read(in, model.config()));
            List<TensorDiff> diffs = TraceComparison.compare(expected, trace, Comparison.tolerance(backend.precisionBits()));
            StringBuilder report = new StringBuilder();
            boolean pass = true;
            for (TensorDiff d : diffs) {
                report.append(d.line()).append('\n');
                pass &= d.pass();
            }
            assertTrue(pass, fixture + " on " + backend.name() + ":\n" + report);
            assertTrue(diffs.size() > 10, "compared only " + diffs.size() + " tensors");
            return report.toString();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rec_fixed_skip", "feedback_fixed_skip", "slide", "xl"})
    void referenceBackendMatchesGoldenOutputs(String fixture) {
        run(fixture, new ReferenceBackend());
    }
}
