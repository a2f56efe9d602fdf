package brt4j.trace;

import brt4j.autograd.Graph;
import brt4j.backend.Backend;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.ModelConfig;
import brt4j.model.SegmentResult;
import brt4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a model over consecutive segments, carrying the XL caches and recurrent states exactly as training does,
 * and collects every intermediate under the names of ../shared/fixtures/brt/README.md.
 */
public final class Tracer {
    private Tracer() {}

    public static Map<String, TraceTensor> run(BrtModel model, List<Batch> segments) {
        ModelConfig c = model.config();
        Backend be = model.backend();
        Map<String, TraceTensor> out = new LinkedHashMap<>();
        Memory memory = Memory.empty(c, be, segments.get(0).rows());
        for (int s = 0; s < segments.size(); s++) {
            Batch batch = segments.get(s);
            int b = batch.rows(), n = batch.length();
            String p = "seg" + s + ".";
            try (Graph g = new Graph(be, false, 0)) {
                SegmentResult r = model.forward(g, batch, memory, true);
                out.put(p + "logits", host(be, r.logits().value, b, n, c.vocabSize()));
                out.put(p + "loss", TraceTensor.scalar(r.loss()));
                out.put(p + "loss_sum", TraceTensor.scalar(r.lossSum()));
                out.put(p + "token_count", TraceTensor.intScalar(r.tokenCount()));
                for (int layer : c.recurrentLayers()) {
                    List<Tensor> states = r.states().get(layer);
                    out.put(p + "states.layers." + layer, stackStates(be, states, b, c));
                    out.put(p + "final_state.layers." + layer, host(be, r.memory().state(layer), b, c.nStates(), c.dModel()));
                }
                if (c.xlCache()) {
                    for (int i = 0; i < c.nLayers(); i++) {
                        out.put(p + "xl_cache.layers." + i + ".k", host(be, r.memory().keys(i), b, c.window(), c.nHeads(), c.headDim()));
                        out.put(p + "xl_cache.layers." + i + ".v", host(be, r.memory().values(i), b, c.window(), c.nHeads(), c.headDim()));
                    }
                }
                for (int i = 0; i < c.nLayers(); i++) out.put(p + "hidden.layers." + i, host(be, r.hidden().get(i), b, n, c.dModel()));
                memory = r.memory();
            }
        }
        return out;
    }

    private static TraceTensor host(Backend be, Tensor t, long... shape) {
        return new TraceTensor(shape, be.downloadDouble(t), false);
    }

    /** C_0 .. C_T, each [B, S, d], as one [B, T+1, S, d] tensor. */
    private static TraceTensor stackStates(Backend be, List<Tensor> states, int b, ModelConfig c) {
        int steps = states.size(), per = c.nStates() * c.dModel();
        double[] all = new double[b * steps * per];
        for (int t = 0; t < steps; t++) {
            double[] st = be.downloadDouble(states.get(t));
            for (int r = 0; r < b; r++) System.arraycopy(st, r * per, all, (r * steps + t) * per, per);
        }
        return new TraceTensor(new long[]{b, steps, c.nStates(), c.dModel()}, all, false);
    }
}
