package brt4j.bench.train;

import brt4j.train.TrainListener;
import brt4j.train.Trainer;

import java.nio.file.Path;
import java.util.concurrent.SynchronousQueue;

/**
 * One training step per {@link #run}, on the data and options of {@link TrainThroughput}: the real trainer runs on
 * its own thread and its listener holds it between steps. {@link StepAB} makes one in each of two class loaders (an
 * old and a new engine) and alternates their steps in one JVM. Only {@link Runnable} crosses the loaders.
 */
public final class Stepper implements Runnable {
    private final SynchronousQueue<Boolean> go = new SynchronousQueue<>(), done = new SynchronousQueue<>();

    public Stepper(String config, int threads, boolean dropout) throws Exception {
        Trainer trainer = TrainThroughput.trainer(Path.of(config), threads, 1, Integer.MAX_VALUE, dropout, new TrainListener() {
            @Override public void step(Step s) { handOff(done, go); }
        });
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
