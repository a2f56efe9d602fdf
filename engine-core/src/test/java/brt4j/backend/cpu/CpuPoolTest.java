package brt4j.backend.cpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spinning pool: every index once, the round-robin deal, failures, nested and concurrent calls. */
class CpuPoolTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void everyIndexRunsExactlyOnceOnItsDealtWorker(int threads) {
        try (CpuPool pool = new CpuPool(threads)) {
            for (int call = 0; call < 2000; call++) {         // many calls back to back: the hand-off under test
                int n = 1 + call % 97, grain = 1 + call % 7;
                AtomicIntegerArray seen = new AtomicIntegerArray(n);
                int[] by = new int[n];
                pool.parallelFor(n, grain, (s, e, w) -> {
                    for (int i = s; i < e; i++) { seen.incrementAndGet(i); by[i] = w; }
                });
                int chunks = (n + grain - 1) / grain, participants = Math.min(threads, chunks);
                for (int i = 0; i < n; i++) {
                    assertEquals(1, seen.get(i), "index " + i + " of call " + call);
                    // the deal is fixed (chunk c on worker c mod participants): kernels' partial sums depend on it
                    int expected = chunks == 1 || threads == 1 ? 0 : (i / grain) % participants;
                    assertEquals(expected, by[i], "worker of index " + i + " of call " + call);
                }
            }
        }
    }

    @Test
    void aFailingBodyThrowsOnTheCallerAndThePoolStaysUsable() {
        try (CpuPool pool = new CpuPool(3)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.parallelFor(30, 1, (s, en, w) -> {
                if (s == 29) throw new IllegalStateException("chunk 29");
            }));
            assertEquals("chunk 29", e.getMessage());
            AtomicIntegerArray seen = new AtomicIntegerArray(30);
            pool.parallelFor(30, 1, (s, en, w) -> seen.incrementAndGet(s));
            for (int i = 0; i < 30; i++) assertEquals(1, seen.get(i));
        }
    }

    @Test
    void nestedCallsRunSeriallyInsideTheBody() {
        try (CpuPool pool = new CpuPool(2)) {
            AtomicIntegerArray seen = new AtomicIntegerArray(64);
            pool.parallelFor(8, 1, (s, e, w) -> pool.parallelFor(8, 1, (s2, e2, w2) -> {
                for (int j = s2; j < e2; j++) seen.incrementAndGet(s * 8 + j);
            }));
            for (int i = 0; i < 64; i++) assertEquals(1, seen.get(i));
        }
    }

    @Test
    void callsFromTwoThreadsAtOnceBothComplete() throws Exception {
        try (CpuPool pool = new CpuPool(2)) {
            long[] sums = new long[2];
            Thread[] ts = new Thread[2];
            for (int t = 0; t < 2; t++) {
                final int id = t;
                ts[t] = new Thread(() -> {
                    for (int call = 0; call < 500; call++) {
                        long[] part = new long[2];
                        pool.parallelFor(100, 10, (s, e, w) -> { for (int i = s; i < e; i++) part[w] += i; });
                        sums[id] += part[0] + part[1];
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) t.join(60_000);
            assertEquals(500L * 4950, sums[0]);
            assertEquals(500L * 4950, sums[1]);
            assertTrue(!ts[0].isAlive() && !ts[1].isAlive());
        }
    }
}
