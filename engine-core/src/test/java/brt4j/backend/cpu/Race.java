package brt4j.backend.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.function.IntConsumer;

/** For the concurrency tests: n threads released at once on one latch, each running body with its id; waits for all. */
final class Race {
    private Race() {}

    static void run(int n, IntConsumer body) throws InterruptedException {
        CountDownLatch start = new CountDownLatch(1);
        Thread[] ts = new Thread[n];
        for (int t = 0; t < n; t++) {
            int id = t;
            ts[t] = new Thread(() -> {
                try { start.await(); } catch (InterruptedException e) { return; }
                body.accept(id);
            });
            ts[t].start();
        }
        start.countDown();
        for (Thread t : ts) t.join();
    }
}
