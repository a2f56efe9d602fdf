package brt4j.backend.cpu;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A fixed pool of worker threads, one per core, that runs a loop body over index chunks. The calling thread works
 * too (as worker 0), so {@code threads} threads compute in all. Chunks are dealt round-robin (worker w runs chunks
 * w, w + P, w + 2P, ... of P participants), not claimed dynamically: kernels that keep per-worker partial sums
 * (norm-scale and attention-parameter gradients) then add the same numbers in the same order on every run, so a
 * run is bit-for-bit repeatable for a given thread count (training resume depends on it). Each body learns its
 * worker index, so kernels can keep per-thread scratch without locks.
 *
 * <p>Invariants: a body never calls back into the pool (a nested call, or a call from a pool thread, runs serially
 * on the caller); callers parallelize over rows, heads or groups, never across a recurrence.
 */
final class CpuPool implements AutoCloseable {
    /** A loop body over indices [start, end) run by worker {@code worker} in [0, threads). */
    @FunctionalInterface
    interface Body { void run(int start, int end, int worker); }

    private final int threads;
    private final ExecutorService exec;
    private final ThreadLocal<Boolean> inside = ThreadLocal.withInitial(() -> false);

    CpuPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("cpu backend: threads must be positive, got " + threads);
        this.threads = threads;
        this.exec = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "brt4j-cpu");
            t.setDaemon(true);
            return t;
        });
    }

    int threads() { return threads; }

    /**
     * Runs body over [0, n) in chunks of {@code grain} indices (the last may be shorter). Serial when there is
     * only one chunk, one thread, or when called from inside a body.
     */
    void parallelFor(int n, int grain, Body body) {
        if (n <= 0) return;
        grain = Math.max(1, grain);
        int chunks = (n + grain - 1) / grain;
        if (threads == 1 || chunks == 1 || inside.get()) {
            body.run(0, n, 0);
            return;
        }
        int helpers = Math.min(threads, chunks) - 1;
        int participants = helpers + 1;
        AtomicBoolean stop = new AtomicBoolean();
        final int g = grain;
        @SuppressWarnings("unchecked")
        Future<?>[] fs = new Future<?>[helpers];
        for (int w = 1; w <= helpers; w++) {
            final int worker = w;
            fs[w - 1] = exec.submit(() -> work(n, g, chunks, participants, stop, body, worker));
        }
        Throwable failure = null;
        try {
            work(n, g, chunks, participants, stop, body, 0);
        } catch (Throwable t) {
            failure = t;
            stop.set(true);
        }
        for (Future<?> f : fs) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error er) throw er;
        if (failure != null) throw new RuntimeException(failure);
    }

    private void work(int n, int grain, int chunks, int participants, AtomicBoolean stop, Body body, int worker) {
        boolean was = inside.get();
        inside.set(true);
        try {
            for (int c = worker; c < chunks && !stop.get(); c += participants) {
                int s = c * grain;
                body.run(s, Math.min(n, s + grain), worker);
            }
        } finally {
            inside.set(was);
        }
    }

    /** A grain that gives each thread a few chunks of at least {@code minGrain} indices. */
    int grain(int n, int minGrain) {
        return Math.max(minGrain, (n + 4 * threads - 1) / (4 * threads));
    }

    @Override public void close() { if (exec != null) exec.shutdownNow(); }
}
