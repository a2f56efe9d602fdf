package brt4j.generate;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import brt4j.model.Batch;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A trained small model keeps its bits per token within 1% when its weights are int8. */
class Int8ModelTest {
    @TempDir Path tmp;

    /** Text with structure to learn: a small grammar of words. */
    static int[][] text(Random r, int rows, int n) {
        String[] words = {"the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran ", "far ", "away. "};
        int[][] t = new int[rows][n];
        for (int b = 0; b < rows; b++) {
            StringBuilder s = new StringBuilder();
            while (s.length() < n) s.append(words[(s.length() / 3 + r.nextInt(3)) % words.length]);
            for (int i = 0; i < n; i++) t[b][i] = 3 + s.charAt(i);
        }
        return t;
    }

    @Test
    void bitsPerTokenChangeLessThanOnePercent() {
        ModelConfig c = new ModelConfig(259, 64, 2, 4, 16, 128, 16, 32, 8, new int[]{1}, ModelConfig.Gate.FIXED,
                ModelConfig.StateFfn.SKIP, false, true, ModelConfig.LogitScale.INV_SQRT_D, 32, 128, 1e-6, 0, 0);
        Backend be = new CpuBackend(2);
        BrtModel m = new BrtModel(Parameters.initialize(c, be, 3));
        Random r = new Random(4);
        int step = 0;
        java.util.Map<Var, Var[]> moments = new java.util.HashMap<>();
        for (; step < 150; step++) {
            m.parameters().zeroGrads();
            try (Graph g = new Graph(be, true, step)) {
                m.forward(g, new Batch(text(r, 4, 32), new boolean[]{true, true, true, true}), Memory.empty(c, be, 4), false);
                g.backward();
            }
            for (Var p : m.parameters().vars()) {
                if (p.grad() == null) continue;
                Var[] mv = moments.computeIfAbsent(p, k -> new Var[]{Var.constant(be.zeros(k.shape())), Var.constant(be.zeros(k.shape()))});
                be.adamW(p.value, p.grad(), mv[0].value, mv[1].value, 3e-3, 0.9, 0.98, 1e-9, 0, step + 1);
            }
        }
        Path dir = tmp.resolve("trained");
        ModelCheckpoint.save(dir, m);
        BrtModel f32 = ModelCheckpoint.load(dir, be), i8 = ModelCheckpoint.load(dir, be, true);
        int[][] held = text(new Random(99), 8, 32);
        double bitsF32 = bits(f32, held), bitsI8 = bits(i8, held);
        assertTrue(bitsF32 < 4.0, "the model did not learn (" + bitsF32 + " bits/token)");
        double change = Math.abs(bitsI8 - bitsF32) / bitsF32;
        assertTrue(change < 0.01, "int8 changed bits/token by " + 100 * change + "% (" + bitsF32 + " -> " + bitsI8 + ")");
    }

    static double bits(BrtModel m, int[][] tokens) {
        boolean[] start = new boolean[tokens.length];
        java.util.Arrays.fill(start, true);
        try (Graph g = new Graph(m.backend(), false, 0)) {
            return m.forward(g, new Batch(tokens, start), Memory.empty(m.config(), m.backend(), tokens.length), false).bitsPerToken();
        }
    }
}
