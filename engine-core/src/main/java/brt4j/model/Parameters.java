package brt4j.model;

import brt4j.autograd.Var;
import brt4j.backend.Backend;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;

/** The model's parameters on one backend, by checkpoint name, in {@link ParamSpec#all} order. */
public final class Parameters {
    private final ModelConfig config;
    private final Backend backend;
    private final Map<String, Var> vars = new LinkedHashMap<>();

    private Parameters(ModelConfig config, Backend backend) {
        this.config = config;
        this.backend = backend;
    }

    /** Fresh parameters per spec §1.14; each tensor's stream depends only on (seed, name). */
    public static Parameters initialize(ModelConfig config, Backend backend, long seed) {
        Parameters p = new Parameters(config, backend);
        for (ParamSpec s : ParamSpec.all(config)) {
            Random rng = new Random(seed * 0x9e3779b97f4a7c15L ^ s.name().hashCode());
            p.vars.put(s.name(), Var.param(backend.upload(s.init().sample(s.shape(), rng), s.shape())));
        }
        return p;
    }

    /**
     * Parameters from named float arrays (a checkpoint). Every tensor of the table must be present with its
     * shape; a missing, misshapen or unexpected tensor is refused with a sentence naming it.
     */
    public static Parameters fromArrays(ModelConfig config, Backend backend, Map<String, float[]> arrays,
                                        Map<String, int[]> shapes, String source) {
        checkTensors(config, shapes, source);
        return build(config, backend, s -> Var.param(backend.upload(arrays.get(s.name()), s.shape())));
    }

    /**
     * Refuses, with a sentence naming the tensor, a set of named shapes that is not exactly the config's table:
     * a tensor missing, misshapen or not part of the model. Checked before any data is read.
     */
    static void checkTensors(ModelConfig config, Map<String, int[]> shapes, String source) {
        Set<String> expected = new HashSet<>();
        for (ParamSpec s : ParamSpec.all(config)) {
            expected.add(s.name());
            int[] shape = shapes.get(s.name());
            if (shape == null) {
                throw new IllegalArgumentException(source + ": missing tensor " + s.name() + " " + Arrays.toString(s.shape())
                        + ", which the config requires");
            }
            if (!Arrays.equals(shape, s.shape())) {
                throw new IllegalArgumentException(source + ": tensor " + s.name() + " has shape " + Arrays.toString(shape)
                        + ", but the config requires " + Arrays.toString(s.shape()));
            }
        }
        for (String name : shapes.keySet()) {
            if (!expected.contains(name)) {
                throw new IllegalArgumentException(source + ": tensor " + name + " is not part of a model with this config"
                        + " (config and checkpoint disagree)");
            }
        }
    }

    /** Parameters made one at a time, in table order, by {@code make} (which sees each spec once). */
    static Parameters build(ModelConfig config, Backend backend, Function<ParamSpec, Var> make) {
        Parameters p = new Parameters(config, backend);
        for (ParamSpec s : ParamSpec.all(config)) p.vars.put(s.name(), make.apply(s));
        return p;
    }

    /**
     * Replaces every linear weight and the embedding table ({@link ParamSpec#quantizedForInference}) by int8 with
     * per-row scales, for inference: they then take a quarter of their float32 memory. Gradients cannot flow into
     * them afterwards. (Loading a checkpoint with int8 quantizes as it reads instead, never holding the float32 model.)
     */
    public void quantizeInt8() {
        for (var e : vars.entrySet()) {
            if (!ParamSpec.quantizedForInference(e.getKey())) continue;
            Var old = e.getValue();
            Var q = Var.constant(backend.quantizeInt8(old.value));
            backend.free(old.value);
            e.setValue(q);
        }
    }

    public ModelConfig config() { return config; }

    public Backend backend() { return backend; }

    public Var get(String name) {
        Var v = vars.get(name);
        if (v == null) throw new IllegalStateException("no parameter " + name);
        return v;
    }

    public boolean has(String name) { return vars.containsKey(name); }

    public Map<String, Var> all() { return java.util.Collections.unmodifiableMap(vars); }

    public Collection<Var> vars() { return vars.values(); }

    public void zeroGrads() { for (Var v : vars.values()) v.zeroGrad(); }

    public long count() {
        long n = 0;
        for (Var v : vars.values()) n += v.value.size();
        return n;
    }
}
