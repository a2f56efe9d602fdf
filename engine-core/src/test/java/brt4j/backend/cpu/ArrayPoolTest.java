package brt4j.backend.cpu;

import brt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Freed CPU tensors: their arrays come back zeroed for the next tensor of the size, never while a view is alive. */
class ArrayPoolTest {
    @Test
    void aFreedTensorsArrayIsReusedZeroedAndTheOldHandleThrows() {
        try (CpuBackend be = new CpuBackend(1)) {
            Tensor a = be.upload(new float[]{1, 2, 3, 4, 5, 6}, 2, 3);
            float[] storage = be.storage(a);
            be.free(a);
            be.free(a);                                            // a second free is a no-op
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> be.download(a));
            assertTrue(e.getMessage().contains("[2, 3] was used after it was freed"), e.getMessage());
            Tensor b = be.zeros(3, 2);                             // same size: the kept array
            assertSame(storage, be.storage(b));
            assertArrayEquals(new float[6], be.download(b));
            assertNotSame(storage, be.storage(be.zeros(3, 2)));    // kept once, handed out once
        }
    }

    @Test
    void anArrayStaysOutOfThePoolWhileAViewOfItLives() {
        try (CpuBackend be = new CpuBackend(1)) {
            Tensor a = be.upload(new float[]{1, 2, 3, 4}, 4);
            Tensor v = be.view(a, 2, 2);
            float[] storage = be.storage(v);
            be.free(a);
            assertArrayEquals(new float[]{1, 2, 3, 4}, be.download(v));
            assertNotSame(storage, be.storage(be.zeros(4)));
            be.free(v);
            assertSame(storage, be.storage(be.zeros(2, 2)));
            assertThrows(IllegalStateException.class, () -> be.view(v, 4));
        }
    }

    /** A freed tensor of `size` ones, so that the next tensor of that size gets an array full of old values. */
    private static void leaveOldValues(CpuBackend be, int size) {
        float[] ones = new float[size];
        java.util.Arrays.fill(ones, 1f);
        be.free(be.upload(ones, size));
    }

    @Test
    void aReusedArrayReadsAsZerosAndAFirstAccumulationIntoItOverwrites() {
        try (CpuBackend be = new CpuBackend(2)) {
            leaveOldValues(be, 6);
            assertArrayEquals(new float[6], be.download(be.zeros(2, 3)));          // read: cleared first

            Tensor a = be.upload(new float[]{1, 2, 3, 4, 5, 6}, 2, 3), b = be.upload(new float[]{1, 0, 0, 1, 1, 1}, 3, 2);
            leaveOldValues(be, 4);
            Tensor c = be.zeros(2, 2);
            be.matmul(a, false, b, false, c, 1, 1);                                // c += a b into fresh zeros
            assertArrayEquals(new float[]{4, 5, 10, 11}, be.download(c));
            be.matmul(a, false, b, false, c, 1, 1);                                // a second time accumulates
            assertArrayEquals(new float[]{8, 10, 20, 22}, be.download(c));

            leaveOldValues(be, 6);
            Tensor y = be.zeros(6);
            be.axpy(2, be.view(a, 6), y);
            assertArrayEquals(new float[]{2, 4, 6, 8, 10, 12}, be.download(y));
            leaveOldValues(be, 9);
            Tensor y9 = be.zeros(9);                                                 // a whole vector and a tail
            be.axpy(-1, be.upload(new float[]{0, 1, 2, 3, 4, 5, 6, 7, 0}, 9), y9);
            float[] got9 = be.download(y9);
            assertEquals(0, Float.floatToRawIntBits(got9[0]));                        // +0, as 0 + (-1 * 0) gives
            assertEquals(0, Float.floatToRawIntBits(got9[8]));

            // a concatenation writes every row of a reused output; a slice accumulated into fresh zeros copies
            Tensor p1 = be.upload(new float[]{1, 2, 3, 4}, 2, 1, 2), p2 = be.upload(new float[]{5, -0f, 7, 8}, 2, 1, 2);
            leaveOldValues(be, 8);
            Tensor cat = be.zeros(2, 2, 2);
            be.concatRows(java.util.List.of(p1, p2), cat);
            assertArrayEquals(new float[]{1, 2, 5, -0f, 3, 4, 7, 8}, be.download(cat));
            leaveOldValues(be, 4);
            Tensor part = be.zeros(2, 1, 2);
            be.sliceRowsAccumulate(cat, 1, part);
            float[] sliced = be.download(part);
            assertArrayEquals(new float[]{5, 0, 7, 8}, sliced);
            assertEquals(0, Float.floatToRawIntBits(sliced[1]));                    // +0, as 0 + (-0) gives
            be.sliceRowsAccumulate(cat, 1, part);                                   // a second time adds
            assertArrayEquals(new float[]{10, 0, 14, 16}, be.download(part));

            leaveOldValues(be, 6);
            Tensor dx = be.zeros(6);
            be.activationBackward(brt4j.backend.Backend.Activation.RELU, be.upload(new float[]{1, -1, 2, 0, 3, -2}, 6),
                    be.upload(new float[]{5, 6, -0f, 8, 9, 10}, 6), dx);                 // dx = dy where x > 0, into fresh zeros
            float[] got = be.download(dx);
            assertArrayEquals(new float[]{5, 0, 0, 0, 9, 0}, got);
            assertEquals(0, Float.floatToRawIntBits(got[2]));                          // +0, as 0 + (-0) gives
            Tensor logits = be.upload(new float[]{0, 0, 5, -1, 2, 2}, 3, 2);
            leaveOldValues(be, 6);
            Tensor dLogits = be.zeros(3, 2);
            be.crossEntropyBackward(logits, new int[]{0, 1, 0}, new boolean[]{true, false, true}, 1, dLogits);
            float[] d = be.download(dLogits);
            assertArrayEquals(new float[]{-0.5f, 0.5f, 0, 0, -0.5f, 0.5f}, d, 1e-6f);   // the masked row stays 0
        }
    }

    /** fill(0) leaves the clearing to the next op, like a reused array; other values, and -0, are written at once. */
    @Test
    void fillWithZerosIsLazyAndReadsAsZeros() {
        try (CpuBackend be = new CpuBackend(1)) {
            Tensor a = be.upload(new float[]{1, 2, 3, 4}, 2, 2), b = be.upload(new float[]{1, 0, 0, 1}, 2, 2);
            Tensor c = be.upload(new float[]{9, 9, 9, 9}, 2, 2);
            be.fill(c, 0);
            assertTrue(((FloatTensor) c).zeroPending());
            be.matmul(a, false, b, false, c, 1, 1);                                // c += a b: the first accumulation
            assertArrayEquals(new float[]{1, 2, 3, 4}, be.download(c));
            be.fill(c, 0);
            assertArrayEquals(new float[]{0, 0, 0, 0}, be.download(c));             // a read clears it
            be.fill(c, -0.0);
            assertFalse(((FloatTensor) c).zeroPending());
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(be.download(c)[3]));
            be.fill(c, 2.5);
            assertArrayEquals(new float[]{2.5f, 2.5f, 2.5f, 2.5f}, be.download(c));
        }
    }

    /**
     * The loss and its gradient in one call write a reused (pending) array in place and add into any other; both
     * must give the same bits, or a resumed run (a fresh pool) would drift from the uninterrupted one.
     */
    @Test
    void crossEntropyWithGradientHasTheSameBitsIntoAReusedArrayAsIntoAFreshOne() {
        try (CpuBackend be = new CpuBackend(2)) {
            java.util.Random r = new java.util.Random(5);
            int rows = 7, v = 1003;
            float[] x = new float[rows * v];
            for (int i = 0; i < x.length; i++) x[i] = (float) (4 * r.nextGaussian());
            Tensor logits = be.upload(x, rows, v);
            int[] targets = {5, 1002, 0, 77, 3, 900, 12};
            boolean[] mask = {true, true, false, true, true, true, false};
            Tensor fresh = be.zeros(rows, v), lossFresh = be.zeros(rows);
            double a = be.crossEntropyWithGradient(logits, targets, mask, 0.25, lossFresh, fresh);
            leaveOldValues(be, rows * v);
            leaveOldValues(be, rows);
            Tensor reused = be.zeros(rows, v), lossReused = be.zeros(rows);
            assertTrue(((FloatTensor) reused).zeroPending(), "the test needs a reused array");
            double b = be.crossEntropyWithGradient(logits, targets, mask, 0.25, lossReused, reused);
            assertEquals(a, b);
            assertArrayEquals(be.download(lossFresh), be.download(lossReused));
            assertArrayEquals(be.download(fresh), be.download(reused));
            // and the loss as the forward alone gives it
            Tensor lossAlone = be.zeros(rows);
            assertEquals(be.crossEntropy(logits, targets, mask, lossAlone), a);
            assertArrayEquals(be.download(lossAlone), be.download(lossFresh));
        }
    }

    @Test
    void arraysTheCollectorTookBackLeaveThePoolAndItsCount() {
        ArrayPool pool = new ArrayPool(10_000);
        pool.give(new float[1000]);
        pool.give(new float[1000]);
        pool.give(new float[300]);
        assertEquals(2300, pool.keptFloats());
        pool.clearAsCollectorWould();                           // held softly: memory pressure takes them back
        assertEquals(0, pool.keptFloats());
        assertNull(pool.takeKept(1000));
        assertNull(pool.takeKept(300));
        pool.give(new float[1000]);                            // and the pool keeps working afterwards
        assertEquals(1000, pool.takeKept(1000).length);
    }

    @Test
    void keptArraysStayUnderTheCap() {
        ArrayPool pool = new ArrayPool(1500);
        assertNull(pool.takeKept(1000));
        pool.give(new float[1000]);
        assertEquals(1000, pool.keptFloats());
        pool.give(new float[501]);                              // over the cap: left to the collector
        assertEquals(1000, pool.keptFloats());
        float[] kept = pool.takeKept(1000);
        assertEquals(1000, kept.length);
        assertEquals(0, pool.keptFloats());
        assertNull(pool.takeKept(1000));
    }
}
