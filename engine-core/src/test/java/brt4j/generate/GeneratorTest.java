package brt4j.generate;

import brt4j.backend.cpu.CpuBackend;
import brt4j.model.BrtModel;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GeneratorTest {
    static BrtModel tinyModel(int window) {
        ModelConfig c = new ModelConfig(32, 16, 2, 2, 8, 32, window, window * 2, 4, new int[]{1},
                ModelConfig.Gate.FIXED, ModelConfig.StateFfn.SKIP, false, true, ModelConfig.LogitScale.NONE, 32, 128, 1e-6, 0, 0);
        return new BrtModel(Parameters.initialize(c, new CpuBackend(1), 5));
    }

    @Test
    void sameSeedSameTextAndTheStateCarriesBetweenTurns() {
        BrtModel m = tinyModel(4);
        List<Integer> a = new ArrayList<>(), b = new ArrayList<>();
        try (Generator g = new Generator(m, new Sampling(1.0, 0, 0, 9))) { g.generate(new int[]{1, 2, 3}, 30, a::add); }
        try (Generator g = new Generator(m, new Sampling(1.0, 0, 0, 9))) { g.generate(new int[]{1, 2, 3}, 30, b::add); }
        assertEquals(a, b);
        try (Generator g = new Generator(m, Sampling.greedy())) {
            g.generate(new int[]{1, 2, 3, 4, 5}, 3, id -> true);
            assertEquals(8, g.position());
            float[] continued = g.lastLogits();
            g.reset();
            g.feed(new int[]{7});
            assertTrue(!java.util.Arrays.equals(continued, g.lastLogits()));
        }
    }

    /** A vocabulary limit (a tokenizer smaller than the model's head) keeps every drawn id below it. */
    @Test
    void drawsOnlyIdsBelowTheVocabularyLimit() {
        BrtModel m = tinyModel(4);
        List<Integer> all = new ArrayList<>(), limited = new ArrayList<>();
        // a high temperature spreads the draws over the whole vocabulary (this random model's logits are sharp)
        try (Generator g = new Generator(m, new Sampling(1000.0, 0, 0, 3))) { g.generate(new int[]{1, 2}, 200, all::add); }
        try (Generator g = new Generator(m, new Sampling(1000.0, 0, 0, 3), 5)) { g.generate(new int[]{1, 2}, 200, limited::add); }
        assertTrue(all.stream().anyMatch(id -> id >= 5), "the unlimited draw reaches ids past 5: " + all);
        assertTrue(limited.stream().allMatch(id -> id >= 0 && id < 5), "limited to 5: " + limited);
        assertThrows(IllegalArgumentException.class, () -> new Generator(m, Sampling.greedy(), 33));
        assertThrows(IllegalArgumentException.class, () -> new Generator(m, Sampling.greedy(), 0));
    }

    /** Generation runs in constant memory: the heap after 200k tokens is what it was after the first blocks. */
    @Test
    void heapStaysFlatOver200kTokens() {
        BrtModel m = tinyModel(8);
        Runtime rt = Runtime.getRuntime();
        long[] used = new long[2];
        try (Generator g = new Generator(m, new Sampling(1.0, 0, 0, 1))) {
            g.feed(new int[]{1});
            int total = 200_000;
            for (int i = 0; i < total; i++) {
                g.next();
                if (i == 20_000 || i == total - 1) used[i == 20_000 ? 0 : 1] = settledHeap(rt);
            }
            assertEquals(total + 1, g.position());
        }
        long growth = used[1] - used[0];
        assertTrue(growth < 4 << 20, "heap grew by " + (growth >> 10) + " KiB between token 20k and 200k");
    }

    static long settledHeap(Runtime rt) {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            best = Math.min(best, rt.totalMemory() - rt.freeMemory());
        }
        return best;
    }
}
