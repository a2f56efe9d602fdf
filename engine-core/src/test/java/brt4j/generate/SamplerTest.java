package brt4j.generate;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    final float[] logits = {0.1f, 2.0f, -1f, 1.9f, 0.5f};

    @Test
    void greedyAndDegenerateFiltersPickTheArgmax() {
        assertEquals(1, new Sampler(Sampling.greedy()).next(logits, 0, 5));
        Sampler topOne = new Sampler(new Sampling(1.0, 1, 0, 7));
        Sampler tinyNucleus = new Sampler(new Sampling(1.0, 0, 1e-9, 7));
        for (int i = 0; i < 50; i++) {
            assertEquals(1, topOne.next(logits, 0, 5));
            assertEquals(1, tinyNucleus.next(logits, 0, 5));
        }
    }

    @Test
    void samplingFollowsTheSoftmaxAndTheFilters() {
        Sampler s = new Sampler(new Sampling(1.0, 0, 0, 3));
        int[] counts = new int[5];
        int n = 200_000;
        for (int i = 0; i < n; i++) counts[s.next(logits, 0, 5)]++;
        double z = 0;
        for (float l : logits) z += Math.exp(l);
        for (int i = 0; i < 5; i++) assertEquals(Math.exp(logits[i]) / z, counts[i] / (double) n, 0.005, "token " + i);
        Sampler top2 = new Sampler(new Sampling(1.0, 2, 0, 3));
        for (int i = 0; i < 1000; i++) { int id = top2.next(logits, 0, 5); assertTrue(id == 1 || id == 3); }
    }

    @Test
    void sameSeedSameTokens() {
        Sampler a = new Sampler(new Sampling(0.7, 3, 0.9, 11)), b = new Sampler(new Sampling(0.7, 3, 0.9, 11));
        for (int i = 0; i < 100; i++) assertEquals(a.next(logits, 0, 5), b.next(logits, 0, 5));
    }

    @Test
    void badSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Sampling(-1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampling(1, -2, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampling(1, 0, 1.5, 0));
    }

    @Test
    void stopStringsHoldBackPartialMatchesAndCutAtTheStop() {
        StopStrings s = new StopStrings(List.of("\n\n", "END"));
        StringBuilder shown = new StringBuilder();
        for (String piece : new String[]{"Hello", " E", "N", "d of it", "\n", "x", "\n", "\nafter"}) shown.append(s.accept(piece));
        assertTrue(s.stopped());
        assertEquals("Hello ENd of it\nx", shown.toString());
        StopStrings t = new StopStrings(List.of("END"));
        assertEquals("abc ", t.accept("abc EN"));
        assertEquals("", t.accept("D tail"));
        assertTrue(t.stopped());
        StopStrings u = new StopStrings(List.of("END"));
        assertEquals("ab", u.accept("abE"));
        assertEquals("E", u.flush());
    }
}
