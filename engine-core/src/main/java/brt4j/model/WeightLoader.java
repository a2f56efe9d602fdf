package brt4j.model;

import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.TensorInfo;

import java.util.HashMap;
import java.util.Map;

/**
 * Reads a model's parameters from an open safetensors file (float32, bf16 or f16 on disk), one tensor at a time, so
 * the float32 model is never held twice. With int8, each weight goes from the file to int8 a block of rows at a time
 * ({@link Backend#quantizeInt8(int, int, brt4j.backend.RowSource)}): only that block ever exists in float32, so a
 * model whose int8 form fits in memory loads even where its float32 form would not. Same bits as quantizing after a
 * float32 load: bf16 and f16 widen exactly, and both paths share the backend's one quantization routine.
 */
final class WeightLoader {
    private WeightLoader() {}

    static Parameters load(ModelConfig config, Backend backend, SafeTensors st, boolean int8, LoadStats stats) {
        String source = st.file();
        Map<String, int[]> shapes = new HashMap<>();
        for (TensorInfo t : st.infos()) {
            if (!t.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException(source + ": tensor " + t.name() + " has dtype " + t.dtype()
                        + "; parameters must be F32, BF16 or F16");
            }
            long[] s = t.shape();
            int[] shape = new int[s.length];
            for (int i = 0; i < s.length; i++) shape[i] = Math.toIntExact(s[i]);
            shapes.put(t.name(), shape);
        }
        Parameters.checkTensors(config, shapes, source);   // every refusal before any data is read
        return Parameters.build(config, backend, spec -> {
            String name = spec.name();
            if (int8 && ParamSpec.quantizedForInference(name)) {
                stats.int8.add(name);
                int rows = spec.shape()[0], cols = spec.shape()[1];
                return Var.constant(backend.quantizeInt8(rows, cols, (row0, count, dst) -> {
                    stats.staged(dst);
                    st.readFloatsInto(name, (long) row0 * cols, count * cols, dst, 0);
                }));
            }
            stats.float32.add(name);
            float[] values = st.floats(name);
            stats.staged(values);
            return Var.param(backend.upload(values, spec.shape()));
        });
    }
}
