package brt4j.backend.cpu;

import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The packs of one product that threads split by columns, in one array: each thread's block of op(b)
 * ({@link #bBase}) and a row block of op(a) of its own ({@link #ownA}), then op(a) packed once for all of them
 * ({@link #aBase}), a row block at a time by whichever thread comes to it first ({@link #take}). Packing all of op(a)
 * in every thread cost each of two threads 1.7% (512x512x2048) and 3.9% (1024^3) of the product in perf; OpenBLAS's
 * threads share their packed operand the same way. One array, not a shared one beside each thread's own: the kernel
 * then keeps one base register for both packs.
 *
 * <p>A thread never waits for another: one that finds a row block being packed packs a copy into its own region and
 * goes on. Waiting instead cost 0.8% of two-thread time at 512x512x2048, most of it in a few waits of 1-8 ms (the
 * packing vCPU descheduled by the host), which stalled the whole product.
 *
 * <p>Reused from product to product; {@link #prepare} is called before the threads start (their hand-off publishes
 * the reset), and only one product uses it at a time.
 */
final class SharedPack {
    /** What {@link #take} tells a thread to do with a row block. */
    static final int PACKED = 0, PACK_IT = 1, PACK_OWN = 2;
    private static final int FREE = 0, PACKING = 1, DONE = 2;

    float[] array = new float[0];
    private int bRegion, ownRegion, aBase;
    private AtomicIntegerArray state = new AtomicIntegerArray(0);

    /**
     * Makes room for {@code threads} blocks of op(b) of {@code bRegion} floats and row blocks of op(a) of
     * {@code ownRegion}, and a packed op(a) of {@code aFloats} in {@code blocks} row blocks, all unpacked.
     */
    void prepare(int threads, int bRegion, int ownRegion, long aFloats, int blocks) {
        long size = (long) threads * (bRegion + ownRegion) + aFloats;
        if (size > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("matmul: packs of " + size + " floats");
        if (array.length < size) array = new float[(int) size];
        this.bRegion = bRegion;
        this.ownRegion = ownRegion;
        aBase = threads * (bRegion + ownRegion);
        if (state.length() < blocks) state = new AtomicIntegerArray(blocks);
        for (int i = 0; i < blocks; i++) state.set(i, FREE);
    }

    int bBase(int thread) { return thread * (bRegion + ownRegion); }

    int ownA(int thread) { return bBase(thread) + bRegion; }

    int aBase() { return aBase; }

    /**
     * Row block i: {@link #PACKED} (read it at its place after {@link #aBase}), {@link #PACK_IT} (the caller packs it
     * there, then calls {@link #done}), or {@link #PACK_OWN} (another thread is packing it: the caller packs a copy at
     * {@link #ownA} for now).
     */
    int take(int i) {
        int s = state.get(i);
        if (s == DONE) return PACKED;
        if (s == FREE && state.compareAndSet(i, FREE, PACKING)) return PACK_IT;
        return state.get(i) == DONE ? PACKED : PACK_OWN;
    }

    /** Row block i is packed: its floats are visible to the threads whose {@link #take} says so after this. */
    void done(int i) { state.set(i, DONE); }
}
