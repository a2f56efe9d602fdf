package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backpropagation through the whole model against central finite differences, in float64 on the reference
 * backend, for every family. The checked segment continues a previous one (non-zero XL cache and carried state,
 * one row continuing and one starting a document) and dropout is on, so every path of backward is exercised.
 */
class GradientCheckTest {

    @ParameterizedTest
    @CsvSource({"Rec:fixed:skip", "Rec:lstm:dual", "Rec:fixed:single", "Rec:lstm:single", "Rec:fixed:dual",
            "Feedback:fixed:skip", "Feedback:lstm:skip", "Slide", "XL"})
    void analyticGradientsMatchFiniteDifferences(String family) {
        ModelConfig c = Tiny.config(family, 2, 6).withDropout(0.1, 0.1);
        BrtModel m = Tiny.model(c, 7);
        Backend be = m.backend();
        // A previous segment gives the memory (a constant for the checked segment: truncated backpropagation).
        Memory mem = Tiny.run(m, new Batch(Tiny.tokens(2, 6, 1), Tiny.flags(true, true)), Memory.empty(c, be, 2), false).memory();
        Batch batch = new Batch(Tiny.tokens(2, 6, 2), Tiny.flags(false, true));
        long seed = 99;

        m.parameters().zeroGrads();
        try (Graph g = new Graph(be, true, seed)) {
            m.forward(g, batch, mem, false);
            g.backward();
        }

        Random pick = new Random(3);
        StringBuilder failures = new StringBuilder();
        int checked = 0;
        for (Map.Entry<String, Var> e : m.parameters().all().entrySet()) {
            Var p = e.getValue();
            double[] grad = p.grad() == null ? new double[p.value.size()] : be.downloadDouble(p.grad());
            double scale = 0;
            for (double gv : grad) scale = Math.max(scale, Math.abs(gv));
            double[] values = be.downloadDouble(p.value);
            for (int sample = 0; sample < Math.min(8, values.length); sample++) {
                int i = values.length <= 8 ? sample : pick.nextInt(values.length);
                double h = 1e-5, orig = values[i];
                values[i] = orig + h;
                be.copy(be.upload(values, p.value.shape()), p.value);
                double plus = loss(m, batch, mem, seed);
                values[i] = orig - h;
                be.copy(be.upload(values, p.value.shape()), p.value);
                double minus = loss(m, batch, mem, seed);
                values[i] = orig;
                be.copy(be.upload(values, p.value.shape()), p.value);
                double fd = (plus - minus) / (2 * h);
                if (Math.abs(fd - grad[i]) > 1e-6 * Math.max(scale, 1e-3)) {
                    failures.append(String.format("%s[%d]: analytic %.10g, numeric %.10g%n", e.getKey(), i, grad[i], fd));
                }
                checked++;
            }
        }
        assertTrue(checked > 100, "checked only " + checked);
        assertTrue(failures.isEmpty(), family + ":\n" + failures);
    }

    private static double loss(BrtModel m, Batch batch, Memory mem, long seed) {
        try (Graph g = new Graph(m.backend(), true, seed)) {   // recording: same dropout masks as the analytic pass
            return m.forward(g, batch, mem, false).loss();
        }
    }
}
