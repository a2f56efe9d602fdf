package brt4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * One parameter of the model: its name and shape in the checkpoint (design.md's table) and its initializer (spec
 * §1.14). {@link #all(ModelConfig)} is the single table of names and shapes that initialization, checkpoints,
 * parameter counts and tests all read.
 */
public record ParamSpec(String name, int[] shape, Init init) {

    /** How a parameter starts. Linear weights are [out, in]: fan_in is the last dimension. */
    public sealed interface Init {
        double[] sample(int[] shape, Random rng);
    }

    /** N(0, std). */
    public record Normal(double std) implements Init {
        public double[] sample(int[] shape, Random rng) {
            double[] x = new double[size(shape)];
            for (int i = 0; i < x.length; i++) x[i] = rng.nextGaussian() * std;
            return x;
        }
    }

    /**
     * Flax's variance_scaling(scale, fan_in, truncated_normal): a normal truncated to two standard deviations,
     * rescaled (by 0.8796...) so that the truncated distribution has variance scale / fan_in.
     */
    public record VarianceScaling(double scale) implements Init {
        static final double TRUNCATED_STD = 0.87962566103423978;

        public double[] sample(int[] shape, Random rng) {
            double std = Math.sqrt(scale / shape[shape.length - 1]) / TRUNCATED_STD;
            double[] x = new double[size(shape)];
            for (int i = 0; i < x.length; i++) {
                double z;
                do { z = rng.nextGaussian(); } while (Math.abs(z) > 2);
                x[i] = z * std;
            }
            return x;
        }
    }

    public record Constant(double value) implements Init {
        public double[] sample(int[] shape, Random rng) {
            double[] x = new double[size(shape)];
            Arrays.fill(x, value);
            return x;
        }
    }

    public int size() { return size(shape); }

    static int size(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    // ---------------------------------------------------------------- the table

    private static final Init DENSE = new VarianceScaling(1.0);
    private static final Init ONES = new Constant(1.0);

    public static List<ParamSpec> all(ModelConfig c) {
        List<ParamSpec> p = new ArrayList<>();
        int d = c.dModel(), hd = c.hd(), h = c.nHeads(), f = c.dFf(), s = c.nStates();
        p.add(new ParamSpec("embed.weight", new int[]{c.vocabSize(), d}, new Normal(1.0)));
        for (int i = 0; i < c.nLayers(); i++) {
            String l = "layers." + i + ".";
            p.add(new ParamSpec(l + "attn_norm.scale", new int[]{d}, ONES));
            for (String w : List.of("q", "k", "v")) p.add(new ParamSpec(l + "attn." + w + ".weight", new int[]{hd, d}, DENSE));
            p.add(new ParamSpec(l + "attn.o.weight", new int[]{d, c.readsState(i) ? 2 * hd : hd}, DENSE));
            p.add(new ParamSpec(l + "attn.temperature", new int[]{h}, ONES));
            // UNVERIFIED (spec §1.14): Flax's default embedding init for the T5 table, variance scaling 1.0 over
            // fan_in = features (here H): N(0, 1/sqrt(H)).
            p.add(new ParamSpec(l + "attn.rel_bias", new int[]{h, c.relBuckets()}, new Normal(1 / Math.sqrt(h))));
            if (c.readsState(i)) {
                p.add(new ParamSpec(l + "attn.q_cross.weight", new int[]{hd, d}, DENSE));
                p.add(new ParamSpec(l + "attn.temperature_cross", new int[]{h}, ONES));
            }
            p.add(new ParamSpec(l + "ffn_norm.scale", new int[]{d}, ONES));
            p.add(new ParamSpec(l + "ffn.w1.weight", new int[]{f, d}, DENSE));
            p.add(new ParamSpec(l + "ffn.w2.weight", new int[]{d, f}, DENSE));
            if (c.isRecurrent(i)) addState(p, c, l + "state.");
        }
        p.add(new ParamSpec("final_norm.scale", new int[]{d}, ONES));
        return p;
    }

    private static void addState(List<ParamSpec> p, ModelConfig c, String st) {
        int d = c.dModel(), hd = c.hd(), h = c.nHeads(), f = c.dFf(), s = c.nStates();
        p.add(new ParamSpec(st + "norm.scale", new int[]{d}, ONES));
        p.add(new ParamSpec(st + "ids", new int[]{s, d}, new Normal(1.0)));
        p.add(new ParamSpec(st + "init", new int[]{s, d}, new Normal(0.1)));
        for (String w : List.of("q", "q_cross", "k", "v")) p.add(new ParamSpec(st + w + ".weight", new int[]{hd, d}, DENSE));
        p.add(new ParamSpec(st + "temperature", new int[]{h}, ONES));
        p.add(new ParamSpec(st + "temperature_cross", new int[]{h}, ONES));
        switch (c.stateFfn()) {
            case SKIP -> {
                p.add(new ParamSpec(st + "o.weight", new int[]{d, 2 * hd}, DENSE));
                addGate(p, c, st + "gate.", 2 * hd);
            }
            case SINGLE -> {
                p.add(new ParamSpec(st + "ffn.w1.weight", new int[]{f, 2 * hd}, DENSE));
                p.add(new ParamSpec(st + "ffn.w2.weight", new int[]{d, f}, DENSE));
                addGate(p, c, st + "gate.", f);
            }
            case DUAL -> {
                p.add(new ParamSpec(st + "o.weight", new int[]{d, 2 * hd}, DENSE));
                addGate(p, c, st + "gate.", 2 * hd);
                p.add(new ParamSpec(st + "ffn_norm.scale", new int[]{d}, ONES));
                p.add(new ParamSpec(st + "ffn.w1.weight", new int[]{f, d}, DENSE));
                p.add(new ParamSpec(st + "ffn.w2.weight", new int[]{d, f}, DENSE));
                addGate(p, c, st + "gate2.", f);
            }
        }
    }

    private static void addGate(List<ParamSpec> p, ModelConfig c, String g, int in) {
        int d = c.dModel();
        if (c.gate() == ModelConfig.Gate.FIXED) {
            p.add(new ParamSpec(g + "bias", new int[]{d}, new Normal(0.1)));
        } else {
            p.add(new ParamSpec(g + "forget.weight", new int[]{d, in}, new VarianceScaling(0.1)));
            p.add(new ParamSpec(g + "input.weight", new int[]{d, in}, new VarianceScaling(0.1)));
            p.add(new ParamSpec(g + "forget.bias", new int[]{d}, new Normal(0.1)));
            p.add(new ParamSpec(g + "input.bias", new int[]{d}, new Normal(0.1)));
        }
    }

    /**
     * Whether int8 inference quantizes this parameter: the linear weights and the embedding/head table (every
     * "*.weight", all matrices); norm scales, biases, state IDs and initial state stay float32.
     */
    public static boolean quantizedForInference(String name) { return name.endsWith(".weight"); }

    /** Number of parameters outside the embedding table (the paper's "non-embedding" count, spec §2.1). */
    public static long nonEmbeddingCount(ModelConfig c) {
        long n = 0;
        for (ParamSpec p : all(c)) if (!p.name.equals("embed.weight")) n += p.size();
        return n;
    }

    @Override public String toString() { return name + Arrays.toString(shape); }
}
