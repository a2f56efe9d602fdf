package brt4j.data;

import brt4j.model.Batch;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class DocumentStreamsTest {
    /** Document d holds tokens 100*d + 1, 100*d + 2, ... */
    static TokenSource docs(int... lengths) {
        List<int[]> l = new ArrayList<>();
        for (int d = 0; d < lengths.length; d++) {
            int[] t = new int[lengths[d]];
            for (int i = 0; i < t.length; i++) t[i] = 100 * d + i + 1;
            l.add(t);
        }
        return new InMemoryTokens(l);
    }

    @Test void onePassStreamsEachDocumentInSegmentsWithStartFlagsAndPadding() {
        TokenSource src = docs(5, 2, 9);
        DocumentStreams s = DocumentStreams.onePass(src, new int[]{0, 1, 2}, 2, 4);
        var a = s.next();   // row 0: doc 0 [0,4); row 1: doc 1 (shorter than a segment), padded
        assertArrayEquals(new int[]{1, 2, 3, 4}, a.batch().tokens()[0]);
        assertArrayEquals(new int[]{101, 102, 0, 0}, a.batch().tokens()[1]);
        assertArrayEquals(new boolean[]{true, true}, a.batch().start());
        var b = s.next();   // row 0: doc 0 [4,5) padded, continuing; row 1: doc 2 starts
        assertArrayEquals(new int[]{5, 0, 0, 0}, b.batch().tokens()[0]);
        assertArrayEquals(new int[]{201, 202, 203, 204}, b.batch().tokens()[1]);
        assertArrayEquals(new boolean[]{false, true}, b.batch().start());
        assertEquals(4, b.offset()[0]);
        var c = s.next();   // row 0 has nothing left: all padding; row 1 continues doc 2
        assertEquals(-1, c.doc()[0]);
        assertArrayEquals(new int[4], c.batch().tokens()[0]);
        assertArrayEquals(new int[]{205, 206, 207, 208}, c.batch().tokens()[1]);
        assertFalse(c.batch().start()[1]);
        assertFalse(s.exhausted());
        var d = s.next();
        assertArrayEquals(new int[]{209, 0, 0, 0}, d.batch().tokens()[1]);
        assertTrue(s.exhausted());
    }

    @Test void trainingStreamsVisitEveryDocumentEachEpochAndRestoreExactly() {
        TokenSource src = docs(3, 7, 4, 1, 6);
        int[] all = {0, 1, 2, 3, 4};
        DocumentStreams s = DocumentStreams.training(src, all, 2, 4, 42);
        Set<Integer> started = new HashSet<>();
        int starts = 0;
        for (int i = 0; i < 6; i++) {
            var seg = s.next();
            for (int r = 0; r < 2; r++) {
                if (seg.batch().start()[r]) { started.add(seg.doc()[r]); starts++; }
                else assertEquals(seg.doc()[r], seg.doc()[r]);
            }
        }
        assertEquals(Set.of(0, 1, 2, 3, 4), started, "the first epoch reaches every document");
        // restore: a copy continues with the same segments
        DocumentStreams.State st = s.state();
        DocumentStreams t = DocumentStreams.training(src, all, 2, 4, 42);
        t.restore(st);
        for (int i = 0; i < 20; i++) {
            Batch x = s.next().batch(), y = t.next().batch();
            assertTrue(Arrays.deepEquals(x.tokens(), y.tokens()) && Arrays.equals(x.start(), y.start()), "segment " + i);
        }
    }

    @Test void aRowReadsItsDocumentInOrder() {
        TokenSource src = docs(10, 10, 10);
        DocumentStreams s = DocumentStreams.training(src, new int[]{0, 1, 2}, 1, 4, 7);
        var a = s.next(); var b = s.next(); var c = s.next();
        int d = a.doc()[0];
        assertTrue(a.batch().start()[0]);
        assertFalse(b.batch().start()[0]);
        assertEquals(d, b.doc()[0]);
        assertEquals(100 * d + 5, b.batch().tokens()[0][0]);
        assertArrayEquals(new int[]{100 * d + 9, 100 * d + 10, 0, 0}, c.batch().tokens()[0]);
        assertTrue(s.next().batch().start()[0], "the next document starts after the padded tail");
    }

    @Test void splitIsDeterministicDisjointAndComplete() {
        TokenSource src = docs(new int[40]);
        for (int d = 0; d < 40; d++) assertEquals(0, src.length(d));
        TokenSource real = docs(3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0);
        Split a = Split.of(real, 0.2, 5), b = Split.of(real, 0.2, 5), c = Split.of(real, 0.2, 6);
        assertArrayEquals(a.validation(), b.validation());
        assertEquals(2, a.validation().length);
        assertEquals(8, a.train().length, "the empty document is in neither");
        Set<Integer> u = new HashSet<>();
        for (int x : a.train()) u.add(x);
        for (int x : a.validation()) assertTrue(u.add(x));
        assertEquals(10, u.size());
        assertEquals(1, Split.of(docs(3, 3), 0.01, 1).validation().length, "at least one validation document");
        assertNotNull(c);
    }

    @Test void replicasReadDisjointRowsWhoseUnionIsTheWholeBatch() {
        TokenSource src = docs(3, 7, 4, 1, 6, 9, 2, 5);
        int[] all = {0, 1, 2, 3, 4, 5, 6, 7};
        DocumentStreams whole = DocumentStreams.training(src, all, 6, 4, 7);
        DocumentStreams[] parts = new DocumentStreams[3];
        for (int r = 0; r < 3; r++) parts[r] = DocumentStreams.training(src, all, 6, 4, 7, 2 * r, 2);
        for (int step = 0; step < 20; step++) {   // several epochs
            var w = whole.next();
            for (int r = 0; r < 3; r++) {
                var p = parts[r].next();
                assertEquals(2, p.batch().rows());
                for (int i = 0; i < 2; i++) {
                    assertArrayEquals(w.batch().tokens()[2 * r + i], p.batch().tokens()[i], "step " + step + " rank " + r + " row " + i);
                    assertEquals(w.batch().start()[2 * r + i], p.batch().start()[i]);
                    assertEquals(w.doc()[2 * r + i], p.doc()[i]);
                }
                assertEquals(whole.state().cursor(), parts[r].state().cursor(), "every replica follows the global queue");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> DocumentStreams.training(src, all, 6, 4, 7, 5, 2));
    }
}
