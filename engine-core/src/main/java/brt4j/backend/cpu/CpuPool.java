package brt4j.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed pool of worker threads, one per core, that runs a loop body over index chunks. The calling thread works
 * too (as worker 0), so {@code threads} threads compute in all. Chunks are dealt round-robin (worker w runs chunks
 * w, w + P, w + 2P, ... of P participants), not claimed dynamically: kernels that keep per-worker partial sums
 * (norm-scale and attention-parameter gradients) then add the same numbers in the same order on every run, so a
 * run is bit-for-bit repeatable for a given thread count (training resume depends on it). Each body learns its
 * worker index, so kernels can keep per-thread scratch without locks.
 *
 * <p>Hand-off: workers spin for a while ({@code brt.cpu.spinMicros}, default 2000 us) after each job before they
 * park, and the caller spins while it waits for them. A training step makes hundreds of parallel calls a few
 * microseconds apart; a parked worker must be woken by the kernel, and on a virtual machine an idle vCPU sleeps in
 * the hypervisor, so each wake-up cost about 85 us here (a 512 x 256 add took 16 us on one thread, 100 us on two
 * with an ExecutorService). OpenMP runtimes spin for the same reason. 2 ms rather than 0.2: a two-thread training
 * step has serial stretches longer than 0.2 ms (the optimizer's many small tensors, bookkeeping), after which every
 * small op paid the wake-up; 2 ms was faster in 4 of 5 alternated runs (median 1611 against 1554 tokens/s). On a
 * loaded machine spinning steals time from other processes, hence the bound; {@code -Dbrt.cpu.spinMicros=0} parks
 * at once.
 *
 * <p>Invariants: a body never calls back into the pool (a nested call, or a call from a pool thread, runs serially
 * on the caller); callers parallelize over rows, heads or groups, never across a recurrence. Calls from two
 * threads at once take turns: the kernels keep scratch per worker index (packs, tiles, partial sums), so a second
 * caller running its loop as worker 0 beside the first caller's worker 0 computed wrong products
 * ({@code ConcurrentCallersTest}); it now waits for the pool instead.
 */
final class CpuPool implements AutoCloseable {
    /** A loop body over indices [start, end) run by worker {@code worker} in [0, threads). */
    @FunctionalInterface
    interface Body { void run(int start, int end, int worker); }

    private static final long SPIN_NANOS = Long.getLong("brt.cpu.spinMicros", 2000) * 1000;

    private final int threads;
    private final Thread[] workers;
    /** One calling thread at a time; a nested call from a body on that thread re-enters it (hold count 2). */
    private final ReentrantLock callers = new ReentrantLock();

    /** One parallelFor call; published whole through the volatile {@link #job}, so a worker never sees a mix. */
    private record Job(long generation, int n, int grain, int chunks, int participants, Body body) {}

    private volatile Job job = new Job(0, 0, 1, 0, 0, null);
    private volatile boolean stop, closed;
    private volatile Throwable failure;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Thread waiter;

    CpuPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("cpu backend: threads must be positive, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int w = 1; w < threads; w++) {
            final int worker = w;
            Thread t = new Thread(() -> workerLoop(worker), "brt4j-cpu-" + w);
            t.setDaemon(true);
            workers[w - 1] = t;
            t.start();
        }
    }

    int threads() { return threads; }

    /**
     * Runs body over [0, n) in chunks of {@code grain} indices (the last may be shorter). Serial when there is
     * only one chunk, one thread, or when called from inside a body; a call from another thread while one is in
     * flight waits for it.
     */
    void parallelFor(int n, int grain, Body body) {
        if (n <= 0) return;
        if (isWorker(Thread.currentThread())) {   // nested, from a body on a pool thread: that thread's own loop
            body.run(0, n, 0);
            return;
        }
        grain = Math.max(1, grain);
        int chunks = (n + grain - 1) / grain;
        callers.lock();
        try {
            if (threads == 1 || chunks == 1 || callers.getHoldCount() > 1) body.run(0, n, 0);   // or nested: serial
            else run(n, grain, chunks, body);
        } finally {
            callers.unlock();
        }
    }

    private boolean isWorker(Thread t) {
        for (Thread w : workers) if (w == t) return true;
        return false;
    }

    /** One call across the workers, the caller as worker 0; the caller holds {@link #callers}. */
    private void run(int n, int grain, int chunks, Body body) {
        int participants = Math.min(threads, chunks);
        stop = false;
        failure = null;
        waiter = Thread.currentThread();
        pending.set(participants - 1);
        job = new Job(job.generation() + 1, n, grain, chunks, participants, body);   // publishes it
        for (int w = 1; w < participants; w++) LockSupport.unpark(workers[w - 1]);   // cheap if not parked
        try {
            work(n, grain, chunks, participants, body, 0);
        } catch (Throwable t) {
            recordFailure(t);
        }
        awaitWorkers();
        Throwable f = failure;
        if (f instanceof RuntimeException re) throw re;
        if (f instanceof Error er) throw er;
        if (f != null) throw new RuntimeException(f);
    }

    private void awaitWorkers() {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (pending.get() != 0) {
            if (System.nanoTime() < spinUntil) Thread.onSpinWait();
            else LockSupport.parkNanos(this, 50_000);     // the last worker to finish unparks us
        }
    }

    private void workerLoop(int worker) {
        long seen = 0;
        while (true) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            Job j;
            while ((j = job).generation() == seen && !closed) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);                    // parallelFor unparks; a stray wake-up just loops
            }
            if (closed) return;
            seen = j.generation();
            if (worker >= j.participants()) continue;   // not needed for this job (the caller does not wait for us)
            try {
                work(j.n(), j.grain(), j.chunks(), j.participants(), j.body(), worker);
            } catch (Throwable t) {
                recordFailure(t);
            }
            if (pending.decrementAndGet() == 0) LockSupport.unpark(waiter);
        }
    }

    private void recordFailure(Throwable t) {
        synchronized (this) {
            if (failure == null) failure = t;
        }
        stop = true;
    }

    private void work(int n, int grain, int chunks, int participants, Body body, int worker) {
        for (int c = worker; c < chunks && !stop; c += participants) {
            int s = c * grain;
            body.run(s, Math.min(n, s + grain), worker);
        }
    }

    /** A grain that gives each thread a few chunks of at least {@code minGrain} indices. */
    int grain(int n, int minGrain) {
        return Math.max(minGrain, (n + 4 * threads - 1) / (4 * threads));
    }

    @Override public void close() {
        closed = true;
        for (Thread t : workers) LockSupport.unpark(t);
    }
}
