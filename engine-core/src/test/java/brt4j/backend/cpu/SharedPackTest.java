package brt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SharedPackTest {
    @Test
    void eachBlockIsPackedOnceWhereAllReadItAndNoThreadWaits() throws InterruptedException {
        for (int threads : new int[]{2, 3, 5}) {
            int blocks = 300, width = 64;
            SharedPack sp = new SharedPack();
            sp.prepare(threads, 16, width, (long) blocks * width, blocks);
            AtomicIntegerArray packers = new AtomicIntegerArray(blocks);
            AtomicReference<String> wrong = new AtomicReference<>();
            Race.run(threads, id -> {
                for (int q = 0; q < blocks; q++) {
                    int i = id % 2 == 1 ? blocks - 1 - q : q;   // as Matmul: odd threads from the other end
                    int take = sp.take(i);
                    int base = take == SharedPack.PACK_OWN ? sp.ownA(id) : sp.aBase() + i * width;
                    if (take != SharedPack.PACKED) {
                        if (take == SharedPack.PACK_IT) packers.incrementAndGet(i);
                        for (int x = 0; x < width; x++) sp.array[base + x] = i + 1;   // plain writes
                        if (take == SharedPack.PACK_IT) sp.done(i);
                    }
                    for (int x = 0; x < width; x++) {
                        if (sp.array[base + x] != i + 1) wrong.compareAndSet(null, "thread " + id + " block " + i);
                    }
                }
            });
            assertNull(wrong.get(), "a thread read a block before it was packed");
            for (int i = 0; i < blocks; i++) assertEquals(1, packers.get(i), threads + " threads, block " + i);
        }
    }

    @Test
    void aBlockBeingPackedIsCopiedNotWaitedFor() {
        SharedPack sp = new SharedPack();
        sp.prepare(2, 8, 4, 8, 2);
        assertEquals(SharedPack.PACK_IT, sp.take(0));
        assertEquals(SharedPack.PACK_OWN, sp.take(0), "another thread's pack in progress");
        sp.done(0);
        assertEquals(SharedPack.PACKED, sp.take(0));
        assertEquals(SharedPack.PACK_IT, sp.take(1), "blocks are claimed one by one");
    }

    @Test
    void regionsDoNotOverlapAndTheNextProductStartsUnpacked() {
        SharedPack sp = new SharedPack();
        sp.prepare(3, 100, 10, 50, 2);
        assertEquals(0, sp.bBase(0));
        assertEquals(100, sp.ownA(0));
        assertEquals(110, sp.bBase(1));
        assertEquals(320, sp.ownA(2));
        assertEquals(330, sp.aBase());
        assertTrue(sp.array.length >= 380);
        assertEquals(SharedPack.PACK_IT, sp.take(0));
        sp.done(0);
        sp.prepare(3, 100, 10, 50, 2);
        assertEquals(SharedPack.PACK_IT, sp.take(0), "a new product packs again");
    }
}
