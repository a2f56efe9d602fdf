package brt4j.train;

import brt4j.backend.cpu.CpuBackend;
import brt4j.data.InMemoryTokens;
import brt4j.data.TokenSource;
import brt4j.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Tiny models and corpora for the trainer tests. */
final class TrainFixtures {
    private TrainFixtures() {}

    static final int V = 20;

    /** 2 layers, layer 1 recurrent, W = 4, N = 8, with dropout on (resume must replay the same masks). */
    static ModelConfig config(double dropout) {
        return new ModelConfig(V, 16, 2, 2, 8, 32, 4, 8, 4, new int[]{1}, ModelConfig.Gate.FIXED, ModelConfig.StateFfn.SKIP,
                false, true, ModelConfig.LogitScale.INV_SQRT_VOCAB, 32, 128, 1e-6, dropout, dropout);
    }

    /** A wider model (about 1 MB of checkpoint) so that a kill often lands while a checkpoint is being written. */
    static ModelConfig bigConfig() {
        return new ModelConfig(V, 64, 2, 2, 32, 256, 4, 8, 4, new int[]{1}, ModelConfig.Gate.FIXED, ModelConfig.StateFfn.SKIP,
                false, true, ModelConfig.LogitScale.INV_SQRT_VOCAB, 32, 128, 1e-6, 0, 0);
    }

    /** Random documents of random lengths 3..30 over ids 1..V-1. */
    static TokenSource randomDocs(int n, long seed) {
        Random r = new Random(seed);
        List<int[]> docs = new ArrayList<>();
        for (int d = 0; d < n; d++) {
            int[] t = new int[3 + r.nextInt(28)];
            for (int i = 0; i < t.length; i++) t[i] = 1 + r.nextInt(V - 1);
            docs.add(t);
        }
        return new InMemoryTokens(docs);
    }

    static TrainOptions options(String optimizer, long steps, int checkpointEvery) {
        return new TrainOptions(3, 2, steps, optimizer, optimizer.equals("adafactor") ? "rsqrt" : "cosine",
                optimizer.equals("adafactor") ? 1.0 : 1e-2, 1e-3, 2, 0.01, 0.9, 0.98, 0.5, 1, 4, 2, checkpointEvery, 9, 0.2);
    }

    static CpuBackend backend() { return new CpuBackend(Integer.getInteger("test.threads", 1)); }
}
