package brt4j.model;

import brt4j.autograd.Graph;
import brt4j.backend.Backend;
import brt4j.backend.ref.ReferenceBackend;

import java.util.Random;

/** Tiny configurations of every model family, and helpers to run them, for the model tests. */
final class Tiny {
    private Tiny() {}

    static final int V = 13;

    static ModelConfig config(String family, int window, int segment) {
        ModelConfig.Gate gate = family.contains("lstm") ? ModelConfig.Gate.LSTM : ModelConfig.Gate.FIXED;
        ModelConfig.StateFfn ffn = family.endsWith("dual") ? ModelConfig.StateFfn.DUAL
                : family.endsWith("single") ? ModelConfig.StateFfn.SINGLE : ModelConfig.StateFfn.SKIP;
        boolean rec = family.startsWith("Rec") || family.startsWith("Feedback");
        boolean xl = family.startsWith("XL");
        int layers = family.startsWith("Feedback") ? 3 : 2;
        return new ModelConfig(V, 8, layers, 2, 4, 12, xl ? segment : window, segment, 3,
                rec ? new int[]{1} : new int[0], gate, ffn, family.startsWith("Feedback"), true,
                ModelConfig.LogitScale.INV_SQRT_VOCAB, 32, 128, 1e-6, 0, 0);
    }

    static BrtModel model(ModelConfig c, long seed) { return model(c, new ReferenceBackend(), seed); }

    static BrtModel model(ModelConfig c, Backend be, long seed) {
        return new BrtModel(Parameters.initialize(c, be, seed));
    }

    static int[][] tokens(int rows, int n, long seed) {
        Random r = new Random(seed);
        int[][] t = new int[rows][n];
        for (int[] row : t) for (int i = 0; i < n; i++) row[i] = 1 + r.nextInt(V - 1);
        return t;
    }

    static boolean[] flags(boolean... f) { return f; }

    /** Forward without recording; returns the result. */
    /** A forward whose graph stays open: the result's logits are read after it returns (the GC reclaims it). */
    static SegmentResult run(BrtModel m, Batch b, Memory mem, boolean trace) {
        return m.forward(new Graph(m.backend(), false, 0), b, mem, trace);
    }

    static double[] logits(BrtModel m, SegmentResult r) { return m.backend().downloadDouble(r.logits().value); }
}
