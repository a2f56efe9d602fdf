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

    @Test
    void keptArraysStayUnderTheCap() {
        ArrayPool pool = new ArrayPool(1500);
        pool.give(new float[1000]);
        assertEquals(1000, pool.keptFloats());
        pool.give(new float[501]);                              // over the cap: left to the collector
        assertEquals(1000, pool.keptFloats());
        float[] kept = pool.take(1000);
        kept[7] = 3;
        assertEquals(0, pool.keptFloats());
        pool.give(kept);
        assertEquals(0f, pool.take(1000)[7]);
    }
}
