package brt4j.backend.cpu;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Float arrays of freed tensors, kept by length for the next tensor of that size. A training step allocates the
 * same activations every step (~200 MB for configs/laptop.json); left to the garbage collector, every young
 * collection copied the live half of a step (pauses of 0.2-0.4 s every few steps with ParallelGC), and every new
 * array was zeroed by the JVM and faulted in fresh. With the graph freeing its tensors after each step, the steady
 * state allocates nothing; a reused array is cleared only if its first op reads it ({@link FloatTensor}). Kept
 * arrays are capped in total ({@code -Dbrt.cpu.poolMiB}, default a quarter of the heap limit); past the cap a freed
 * array is left to the collector, as before.
 */
final class ArrayPool {
    private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();
    private final long capFloats;
    private long kept;

    ArrayPool() {
        this(Long.getLong("brt.cpu.poolMiB", Runtime.getRuntime().maxMemory() / 4 / (1 << 20)) * (1 << 20) / Float.BYTES);
    }

    ArrayPool(long capFloats) { this.capFloats = capFloats; }

    /** A kept array of n floats (old values in it), or null if none is kept. */
    synchronized float[] takeKept(int n) {
        ArrayDeque<float[]> q = free.get(n);
        float[] a = q == null ? null : q.poll();
        if (a != null) kept -= n;
        return a;
    }

    /** Keeps an array no tensor uses any more. */
    synchronized void give(float[] a) {
        if (a.length == 0 || kept + a.length > capFloats) return;
        free.computeIfAbsent(a.length, k -> new ArrayDeque<>()).push(a);
        kept += a.length;
    }

    /** Floats kept now (for tests). */
    synchronized long keptFloats() { return kept; }
}
