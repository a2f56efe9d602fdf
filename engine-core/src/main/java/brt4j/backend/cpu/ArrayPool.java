package brt4j.backend.cpu;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.SoftReference;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Float arrays of freed tensors, kept by length for the next tensor of that size. A training step allocates the
 * same activations every step (~200 MB for configs/laptop.json); left to the garbage collector, every young
 * collection copied the live half of a step (pauses of 0.2-0.4 s every few steps with ParallelGC), and every new
 * array was zeroed by the JVM and faulted in fresh. With the graph freeing its tensors after each step, the steady
 * state allocates nothing; a reused array is cleared only if its first op reads it ({@link FloatTensor}).
 *
 * <p>Kept arrays are held softly: the collector takes them back before it would run out of memory, so a heap sized
 * for a model (generation under a small {@code -Xmx}) needs no more room than without the pool. They are also capped
 * in total ({@code -Dbrt.cpu.poolMiB}, default half the heap limit); past the cap a freed array is left to the
 * collector. A quarter was too little for {@code brt train}'s own batch: 8 segments of the laptop config keep ~1.7 GB
 * of activations, and the default heap on this 23 GB machine (5.9 GB) then left 270 MB a step to the collector.
 */
final class ArrayPool {
    /** A kept array, softly; remembers its length for the count once the collector has cleared it. */
    private static final class Kept extends SoftReference<float[]> {
        final int length;

        Kept(float[] a, ReferenceQueue<float[]> q) {
            super(a, q);
            length = a.length;
        }
    }

    private final Map<Integer, ArrayDeque<Kept>> free = new HashMap<>();
    private final ReferenceQueue<float[]> cleared = new ReferenceQueue<>();
    private final long capFloats;
    private long kept;

    ArrayPool() {
        this(Long.getLong("brt.cpu.poolMiB", Runtime.getRuntime().maxMemory() / 2 / (1 << 20)) * (1 << 20) / Float.BYTES);
    }

    ArrayPool(long capFloats) { this.capFloats = capFloats; }

    /** A kept array of n floats (old values in it), or null if none is kept. */
    synchronized float[] takeKept(int n) {
        forgetCleared();
        ArrayDeque<Kept> q = free.get(n);
        if (q == null) return null;
        for (Kept k; (k = q.poll()) != null; ) {
            kept -= n;                                  // off the deque, off the count (forgetCleared skips it then)
            float[] a = k.get();
            if (a != null) return a;
        }
        return null;
    }

    /** Keeps an array no tensor uses any more. */
    synchronized void give(float[] a) {
        forgetCleared();
        if (a.length == 0 || kept + a.length > capFloats) return;
        free.computeIfAbsent(a.length, k -> new ArrayDeque<>()).push(new Kept(a, cleared));
        kept += a.length;
    }

    /** Floats kept now (for tests). */
    synchronized long keptFloats() {
        forgetCleared();
        return kept;
    }

    /** What the collector does to every kept array when memory runs short (for tests). */
    synchronized void clearAsCollectorWould() {
        for (ArrayDeque<Kept> q : free.values()) for (Kept k : q) { k.clear(); k.enqueue(); }
    }

    /** Arrays the collector took back while kept: off their deque and the count (unless takeKept got there first). */
    private void forgetCleared() {
        for (Object r; (r = cleared.poll()) != null; ) {
            Kept k = (Kept) r;
            ArrayDeque<Kept> q = free.get(k.length);
            if (q != null && q.remove(k)) kept -= k.length;
        }
    }
}
