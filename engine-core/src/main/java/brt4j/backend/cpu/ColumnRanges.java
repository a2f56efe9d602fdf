package brt4j.backend.cpu;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The column panels of one product shared out among threads, with stealing: each thread starts with an equal
 * contiguous range and takes chunks from its front, whole column blocks while its range is long; a thread whose range
 * is empty takes the back half of the longest range left. So a thread that starts late (a parked worker's wake-up,
 * 0.2-1.8 ms on this VM) or runs on a busier core ends up with less, while most chunks are still whole blocks (each
 * chunk walks all of op(a) again, so many small ones cost more than they even out). Chunks are in panels;
 * {@link #next} hands each panel out exactly once.
 */
final class ColumnRanges {
    private final AtomicLongArray ranges;   // per thread: first panel << 32 | end panel
    private final int block, least;

    /**
     * @param panels the product's panels, split into {@code parts} equal ranges
     * @param block the most panels in one chunk (a column block)
     * @param least the fewest panels a thread halves a range down to
     */
    ColumnRanges(int panels, int parts, int block, int least) {
        this.block = Math.max(1, block);
        this.least = Math.max(1, least);
        ranges = new AtomicLongArray(parts);
        int per = (panels + parts - 1) / parts;
        for (int t = 0; t < parts; t++) ranges.set(t, pack(Math.min(panels, t * per), Math.min(panels, (t + 1) * per)));
    }

    static int first(long chunk) { return (int) (chunk >>> 32); }

    static int end(long chunk) { return (int) chunk; }

    private static long pack(int first, int end) { return (long) first << 32 | end; }

    /** Thread t's next chunk (see {@link #first}, {@link #end}), or -1 when every panel has been handed out. */
    long next(int t) {
        while (true) {   // the front of its own range: a whole block while it is long, then halves of what is left
            long r = ranges.get(t);
            int lo = first(r), hi = end(r), left = hi - lo;
            if (left <= 0) break;
            int take = left > 2 * block ? block : Math.min(left, Math.max(least, (left + 1) / 2));
            if (ranges.compareAndSet(t, r, pack(lo + take, hi))) return pack(lo, lo + take);
        }
        while (true) {   // its own is empty: the back half of the longest range left, at most a block
            int victim = -1, most = 0;
            for (int u = 0; u < ranges.length(); u++) {
                long r = ranges.get(u);
                if (end(r) - first(r) > most) { most = end(r) - first(r); victim = u; }
            }
            if (victim < 0) return -1;
            long r = ranges.get(victim);
            int lo = first(r), hi = end(r), left = hi - lo;
            if (left <= 0) continue;
            int take = Math.min(block, left < 2 * least ? left : left / 2);
            if (ranges.compareAndSet(victim, r, pack(lo, hi - take))) return pack(hi - take, hi);
        }
    }
}
