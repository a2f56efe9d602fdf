package brt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ColumnRangesTest {
    @Test
    void oneThreadTakesItsOwnRangeInBlocksThenStealsTheRest() {
        // 2 ranges of 50 panels, blocks of 16: thread 0 alone (the pool's serial fallback) must end with all 100
        ColumnRanges r = new ColumnRanges(100, 2, 16, 1);
        int[] seen = new int[100];
        long first = r.next(0);
        assertEquals(0, ColumnRanges.first(first));
        assertEquals(16, ColumnRanges.end(first), "a long range is taken a whole block at a time");
        for (long c = first; c >= 0; c = r.next(0)) {
            int lo = ColumnRanges.first(c), hi = ColumnRanges.end(c);
            assertTrue(lo < hi && hi - lo <= 16, "chunk " + lo + ".." + hi);
            for (int p = lo; p < hi; p++) seen[p]++;
        }
        for (int p = 0; p < 100; p++) assertEquals(1, seen[p], "panel " + p);
        assertEquals(-1, r.next(1), "nothing left for the other thread");
    }

    @Test
    void theOtherThreadsRangeIsStolenFromItsBack() {
        ColumnRanges r = new ColumnRanges(64, 2, 8, 1);
        // thread 0 uses up its range [0, 32): blocks while more than two are left, then halves of the rest
        int[] sizes = new int[7];
        for (int i = 0; i < sizes.length; i++) {
            long c = r.next(0);
            sizes[i] = ColumnRanges.end(c) - ColumnRanges.first(c);
        }
        assertArrayEquals(new int[]{8, 8, 8, 4, 2, 1, 1}, sizes);
        long stolen = r.next(0);
        assertEquals(64, ColumnRanges.end(stolen), "from the back of thread 1's untouched [32, 64)");
        assertEquals(8, ColumnRanges.end(stolen) - ColumnRanges.first(stolen), "at most a block");
        assertEquals(32, ColumnRanges.first(r.next(1)), "thread 1 still starts at its front");
    }

    @Test
    void threadsRacingForChunksGetEachPanelOnce() throws InterruptedException {
        for (int parts : new int[]{2, 3, 5}) {
            int panels = 1000 + parts;
            ColumnRanges r = new ColumnRanges(panels, parts, 16, 1);
            AtomicIntegerArray seen = new AtomicIntegerArray(panels);
            Race.run(parts, id -> {
                for (long c = r.next(id); c >= 0; c = r.next(id)) {
                    for (int p = ColumnRanges.first(c); p < ColumnRanges.end(c); p++) seen.incrementAndGet(p);
                    if (id == 0) Thread.onSpinWait();   // uneven speeds: the others steal from thread 0
                }
            });
            for (int p = 0; p < panels; p++) assertEquals(1, seen.get(p), parts + " threads, panel " + p);
        }
    }
}
