package brt4j.data;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class SyntheticRecallTest {
    @Test void documentsStateTheSetsAndAskForThemBack() {
        SyntheticRecall task = new SyntheticRecall(32, 16, 3, 64);
        for (SyntheticRecall.Doc d : task.documents(50, 1)) {
            int[] t = d.tokens();
            assertEquals(64, t.length);
            assertEquals(SyntheticRecall.BOS, t[0]);
            int[] far = Arrays.copyOfRange(t, 1, 4);
            int[] recalled = Arrays.stream(d.farAnswers()).map(p -> t[p]).toArray();
            assertArrayEquals(Arrays.stream(far).sorted().toArray(), Arrays.stream(recalled).sorted().toArray());
            assertEquals(SyntheticRecall.FAR, t[d.farAnswers()[0] - 1]);
            assertEquals(SyntheticRecall.NEAR, t[d.nearAnswers()[0] - 1]);
            assertTrue(d.farAnswers()[0] - 3 >= task.farDistance(), "far items are at least farDistance back");
            for (int x : t) assertTrue(x > 0 && x < task.vocabSize());
        }
        assertEquals(0.0, new SyntheticRecall(32, 16, 1, 64).perfectBits());
        assertEquals(5.0, new SyntheticRecall(32, 16, 1, 64).blindBits(), 1e-12);
        assertArrayEquals(task.document(new SplittableRandom(3)).tokens(), task.document(new SplittableRandom(3)).tokens());
    }
}
