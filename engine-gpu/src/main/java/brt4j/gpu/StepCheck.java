package brt4j.gpu;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.Parameters;
import brt4j.model.SegmentResult;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One training step of the same model on two backends, compared tensor by tensor with {@link Comparison}: a warm-up
 * segment fills the XL cache and the recurrent state (so the carried memory is exercised), then the checked segment's
 * forward (logits, loss), backward (every parameter's gradient) and one AdamW step (every updated parameter).
 * This is what {@code brt check} prints and what the GPU tests assert.
 */
public final class StepCheck {
    private StepCheck() {}

    /** AdamW settings of the checked step. */
    public static final double LR = 1e-3, BETA1 = 0.9, BETA2 = 0.98, EPS = 1e-6, WEIGHT_DECAY = 0.01;

    /** What one backend produced. */
    public record Run(double[] logits, double loss, Map<String, double[]> grads, Map<String, double[]> params, long[] logitShape) {}

    /** A copy of {@code model}'s parameters on {@code backend}. */
    public static BrtModel copyTo(BrtModel model, Backend backend) {
        Map<String, float[]> arrays = new HashMap<>();
        Map<String, int[]> shapes = new HashMap<>();
        for (Map.Entry<String, Var> e : model.parameters().all().entrySet()) {
            arrays.put(e.getKey(), model.backend().download(e.getValue().value));
            shapes.put(e.getKey(), e.getValue().value.shape());
        }
        return new BrtModel(Parameters.fromArrays(model.config(), backend, arrays, shapes, "model copy"));
    }

    public static Run run(BrtModel m, Batch warm, Batch batch, long seed) {
        Backend be = m.backend();
        Memory mem = Memory.empty(m.config(), be, batch.rows());
        try (Graph g = new Graph(be, false, seed - 1)) {
            mem = m.forward(g, warm, mem, false).memory();
        }
        m.parameters().zeroGrads();
        double[] logits;
        long[] shape;
        double loss;
        try (Graph g = new Graph(be, true, seed)) {
            SegmentResult r = m.forward(g, batch, mem, false);
            logits = be.downloadDouble(r.logits().value);
            shape = java.util.Arrays.stream(r.logits().value.shape()).asLongStream().toArray();
            loss = r.loss();
            g.backward();
        }
        Map<String, double[]> grads = new TreeMap<>(), params = new TreeMap<>();
        for (Map.Entry<String, Var> e : m.parameters().all().entrySet()) {
            Var p = e.getValue();
            grads.put(e.getKey(), p.grad() == null ? new double[p.value.size()] : be.downloadDouble(p.grad()));
            if (p.grad() != null) {
                var mom = be.zeros(p.value.shape());
                var vel = be.zeros(p.value.shape());
                be.adamW(p.value, p.grad(), mom, vel, LR, BETA1, BETA2, EPS, WEIGHT_DECAY, 1);
                be.free(mom);
                be.free(vel);
            }
            params.put(e.getKey(), be.downloadDouble(p.value));
        }
        return new Run(logits, loss, grads, params, shape);
    }

    /** The differences of {@code actual} from {@code expected}, logits and loss first. */
    public static List<TensorDiff> compare(Run expected, Run actual, double tol) {
        List<TensorDiff> out = new ArrayList<>();
        out.add(Comparison.compare("logits", expected.logitShape(), expected.logits(), actual.logits(), tol));
        out.add(Comparison.compare("loss", new long[]{1}, new double[]{expected.loss()}, new double[]{actual.loss()}, tol));
        for (String name : expected.grads().keySet()) {
            double[] e = expected.grads().get(name);
            out.add(Comparison.compare("grad " + name, new long[]{e.length}, e, actual.grads().get(name), tol));
        }
        for (String name : expected.params().keySet()) {
            double[] e = expected.params().get(name);
            out.add(Comparison.compare("updated " + name, new long[]{e.length}, e, actual.params().get(name), tol));
        }
        return out;
    }
}
