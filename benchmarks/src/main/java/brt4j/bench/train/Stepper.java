package brt4j.bench.train;

import brt4j.backend.cpu.CpuBackend;
import brt4j.data.InMemoryTokens;
import brt4j.model.BrtModel;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.train.TrainListener;
import brt4j.train.TrainOptions;
import brt4j.train.Trainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.SynchronousQueue;

/**
 * One training step per {@link #run}, on the data and options of {@link TrainThroughput}: the real trainer runs on
 * its own thread and its listener holds it between steps. {@link StepAB} makes one in each of two class loaders (an
 * old and a new engine) and alternates their steps in one JVM. Only {@link Runnable} crosses the loaders.
 */
public final class Stepper implements Runnable {
    private final SynchronousQueue<Boolean> go = new SynchronousQueue<>(), done = new SynchronousQueue<>();

    public Stepper(String config, int threads, boolean dropout) throws Exception {
        ModelConfig loaded = ModelConfig.load(Path.of(config));
        ModelConfig c = dropout ? loaded : loaded.withDropout(0, 0);
        Random r = new Random(0);
        List<int[]> docs = new ArrayList<>();
        for (int d = 0; d < 64; d++) {
            int[] t = new int[c.segment() * 8];
            for (int i = 0; i < t.length; i++) t[i] = 1 + r.nextInt(c.vocabSize() - 1);
            docs.add(t);
        }
        BrtModel m = new BrtModel(Parameters.initialize(c, new CpuBackend(threads), 1));
        TrainOptions o = new TrainOptions(1, 1, Integer.MAX_VALUE, "adamw", "constant", 1e-3, 1e-3, 0, 0.01, 0.9, 0.98, 1.0,
                Integer.MAX_VALUE, 0, 0, 0, 1, 0.0);
        Trainer trainer = new Trainer(m, o, new InMemoryTokens(docs), Files.createTempDirectory("stepper"), new TrainListener() {
            @Override public void step(Step s) { handOff(done, go); }
        }, null);
        Thread t = new Thread(() -> {
            if (take(go)) trainer.run();
        }, "stepper");
        t.setDaemon(true);            // holds the trainer between steps until the JVM exits
        t.start();
    }

    /** Runs one step and returns when the trainer has finished it. */
    @Override public void run() { handOff(go, done); }

    private static void handOff(SynchronousQueue<Boolean> give, SynchronousQueue<Boolean> await) {
        try {
            give.put(true);
            await.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("stepper interrupted", e);
        }
    }

    private static boolean take(SynchronousQueue<Boolean> q) {
        try {
            return q.take();
        } catch (InterruptedException e) {
            return false;
        }
    }
}
