package brt4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.BiFunction;
import java.util.function.IntFunction;

/**
 * Runs the replicas of a data-parallel run on one host, one thread per rank (one per GPU). Each thread connects its
 * communicator (NCCL's set-up blocks until every rank has joined), trains, and closes it. When a rank fails, the
 * others are stuck in a collective that will never complete: its communicators are aborted so they return, and the
 * run ends with one error naming the rank that failed first (the others' errors, consequences of the abort, are
 * attached as suppressed). A rank that fails before its communicator exists leaves the others waiting in a set-up
 * that nothing can interrupt (NCCL's blocks until every rank joins): after a grace period the run ends with the
 * error anyway and leaves those threads behind (daemon threads: they do not keep the JVM alive).
 */
public final class DataParallel {
    private DataParallel() {}

    /** A rank's failure, named. */
    public static final class RankFailed extends IllegalStateException {
        private final int rank;

        RankFailed(int rank, int size, Throwable cause) {
            super("rank " + rank + " of " + size + " failed: " + message(cause) + (size > 1 ? "; the other ranks were stopped" : ""), cause);
            this.rank = rank;
        }

        public int rank() { return rank; }
    }

    private static String message(Throwable t) {
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }

    /** How long ranks still joining are waited for once another rank has failed (NCCL's own set-up has no timeout). */
    static final long JOIN_GRACE_MILLIS = 30_000;

    /**
     * Runs {@code train(rank, communicator)} for local ranks 0 .. n-1, each on its own thread with the communicator
     * {@code connect(rank)} made on that thread; returns the results in rank order.
     */
    public static <T> List<T> run(int n, IntFunction<Communicator> connect, BiFunction<Integer, Communicator, T> train) {
        return run(n, connect, train, JOIN_GRACE_MILLIS);
    }

    static <T> List<T> run(int n, IntFunction<Communicator> connect, BiFunction<Integer, Communicator, T> train,
                           long joinGraceMillis) {
        if (n <= 0) throw new IllegalArgumentException("data-parallel run needs at least one rank, got " + n);
        List<Communicator> comms = new CopyOnWriteArrayList<>();
        Object[] results = new Object[n];
        Throwable[] errors = new Throwable[n];
        int[] firstFailed = {-1};
        long[] failedAt = {0};
        AtomicIntegerArray joined = new AtomicIntegerArray(n);   // 1 once the rank's communicator exists
        Thread[] threads = new Thread[n];
        for (int r = 0; r < n; r++) {
            int rank = r;
            threads[r] = Thread.ofPlatform().name("rank-" + r).daemon(true).unstarted(() -> {
                Communicator c = null;
                try {
                    c = connect.apply(rank);
                    joined.set(rank, 1);
                    comms.add(c);
                    synchronized (firstFailed) {   // a rank failed while this one was joining: its abort missed us
                        if (firstFailed[0] >= 0) abortQuietly(c);
                    }
                    results[rank] = train.apply(rank, c);
                } catch (Throwable t) {
                    errors[rank] = t;
                    boolean first;
                    synchronized (firstFailed) {
                        first = firstFailed[0] < 0;
                        if (first) { firstFailed[0] = rank; failedAt[0] = System.nanoTime(); }
                    }
                    // Abort every communicator, this rank's too: closing it normally would wait for peers that are gone.
                    if (first) for (Communicator o : comms) abortQuietly(o);
                    else if (c != null) abortQuietly(c);
                } finally {
                    if (c != null) {
                        try {
                            c.close();   // a no-op after an abort
                        } catch (RuntimeException e) {
                            if (errors[rank] == null) {
                                errors[rank] = e;
                                synchronized (firstFailed) {
                                    if (firstFailed[0] < 0) { firstFailed[0] = rank; failedAt[0] = System.nanoTime(); }
                                }
                            }
                        }
                    }
                }
            });
        }
        for (Thread t : threads) t.start();
        List<Integer> leftJoining = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            try {
                while (threads[r].isAlive()) {
                    threads[r].join(50);
                    long failed;
                    synchronized (firstFailed) { failed = firstFailed[0] >= 0 ? failedAt[0] : 0; }
                    if (failed != 0 && joined.get(r) == 0 && threads[r].isAlive()
                            && System.nanoTime() - failed > joinGraceMillis * 1_000_000L) {
                        leftJoining.add(r);               // still in its communicator's set-up: cannot be stopped
                        break;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                for (Communicator o : comms) abortQuietly(o);
                throw new IllegalStateException("interrupted while the ranks ran", e);
            }
        }
        int f = firstFailed[0];
        if (f >= 0) {
            RankFailed e = new RankFailed(f, n, errors[f]);
            for (int r = 0; r < n; r++) if (r != f && errors[r] != null) e.addSuppressed(errors[r]);
            if (!leftJoining.isEmpty()) {
                e.addSuppressed(new IllegalStateException("ranks " + leftJoining + " were still joining their communicator "
                        + joinGraceMillis / 1000.0 + " s after rank " + f + " failed and were left behind"));
            }
            throw e;
        }
        List<T> out = new ArrayList<>(n);
        for (Object o : results) {
            @SuppressWarnings("unchecked") T t = (T) o;
            out.add(t);
        }
        return out;
    }

    private static void abortQuietly(Communicator c) {
        try {
            c.abort();
        } catch (RuntimeException ignored) {
            // aborting a communicator that is already gone
        }
    }
}
