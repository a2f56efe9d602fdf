package brt4j.train;

import brt4j.autograd.Var;
import brt4j.backend.AdafactorSpec;
import brt4j.backend.Backend;
import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.SafeTensorsWriter;
import brt4j.model.Parameters;
import brt4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An optimizer over the model's parameters with its state on the backend (moments live beside the parameters and
 * never come to the host except to be saved). State is saved as named float32 tensors
 * ({@code <slot>/<parameter name>}) in {@code optimizer.safetensors}; loading it back gives bit-identical updates.
 */
public abstract class Optimizer {
    protected final Parameters params;
    protected final Backend be;
    /** slot name -> parameter name -> tensor. */
    protected final Map<String, Map<String, Tensor>> slots = new LinkedHashMap<>();

    protected Optimizer(Parameters params) {
        this.params = params;
        this.be = params.backend();
    }

    public static Optimizer create(String name, Parameters params, TrainOptions o) {
        return switch (name) {
            case "adamw" -> new AdamW(params, o.beta1(), o.beta2(), 1e-8, o.weightDecay());
            case "adafactor" -> new Adafactor(params, AdafactorSpec.PAPER);
            default -> throw new IllegalArgumentException("unknown optimizer " + name);
        };
    }

    /** Applies one update with learning rate lr; {@code step} counts optimizer steps from 1. */
    public abstract void update(double lr, long step);

    protected Tensor slot(String slot, String param, int... shape) {
        return slots.computeIfAbsent(slot, k -> new LinkedHashMap<>()).computeIfAbsent(param, k -> be.zeros(shape));
    }

    public void save(SafeTensorsWriter w) {
        slots.forEach((slot, m) -> m.forEach((name, t) -> {
            int[] s = t.shape();
            long[] shape = new long[s.length];
            for (int i = 0; i < s.length; i++) shape[i] = s[i];
            w.add(slot + "/" + name, DType.F32, be.download(t), shape);
        }));
    }

    /** Loads every slot tensor that {@code st} holds; a tensor of a parameter this model lacks is refused. */
    public void load(SafeTensors st) {
        for (String key : st.names()) {
            int slash = key.indexOf('/');
            if (slash < 0) continue;
            String slot = key.substring(0, slash), name = key.substring(slash + 1);
            if (!params.has(name)) throw new IllegalArgumentException(st.file() + ": optimizer state for unknown parameter " + name);
            long[] s = st.shape(key);
            int[] shape = new int[s.length];
            for (int i = 0; i < s.length; i++) shape[i] = Math.toIntExact(s[i]);
            Tensor t = slot(slot, name, shape);
            be.copy(be.upload(st.floats(key), shape), t);
        }
    }

    /** AdamW, decoupled weight decay on matrices only (not on norms' scales, temperatures, biases, state vectors). */
    static final class AdamW extends Optimizer {
        private final double b1, b2, eps, wd;

        AdamW(Parameters p, double b1, double b2, double eps, double wd) {
            super(p);
            this.b1 = b1; this.b2 = b2; this.eps = eps; this.wd = wd;
        }

        @Override public void update(double lr, long step) {
            for (Map.Entry<String, Var> e : params.all().entrySet()) {
                Var v = e.getValue();
                if (v.grad() == null) continue;
                String n = e.getKey();
                boolean decay = v.value.rank() == 2 && !n.endsWith(".ids") && !n.endsWith(".init") && !n.endsWith("rel_bias");
                be.adamW(v.value, v.grad(), slot("m", n, v.shape()), slot("v", n, v.shape()), lr, b1, b2, eps, decay ? wd : 0, step);
            }
        }
    }

    /** The paper's Adafactor (flax.optim defaults, beta1 0.9, factored moments for large matrices). */
    static final class Adafactor extends Optimizer {
        private final AdafactorSpec spec;

        Adafactor(Parameters p, AdafactorSpec spec) {
            super(p);
            this.spec = spec;
        }

        @Override public void update(double lr, long step) {
            for (Map.Entry<String, Var> e : params.all().entrySet()) {
                Var v = e.getValue();
                if (v.grad() == null) continue;
                String n = e.getKey();
                boolean factored = spec.factored(v.value);
                Tensor m = spec.beta1() > 0 ? slot("m", n, v.shape()) : null;
                Tensor full = factored ? null : slot("v", n, v.shape());
                Tensor row = factored ? slot("v_row", n, v.value.rows()) : null;
                Tensor col = factored ? slot("v_col", n, v.value.cols()) : null;
                be.adafactor(v.value, v.grad(), m, full, row, col, lr, step - 1, spec);   // flax counts from 0
            }
        }
    }
}
