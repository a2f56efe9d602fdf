package brt4j.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CounterRngTest {
    /** The integer test of keepMultipliers must agree with keep's float compare everywhere, boundaries included. */
    @Test
    void keepMultipliersAgreeWithKeep() {
        // 0.25 and 0.5 put the threshold on an integer (u == threshold is kept); the others fall between integers
        double[] rates = {0, 1e-9, 0.05, 0.1, 0.25, 0.5, 0.3333333, 0.9, 1 - 0x1.0p-24, 1 - 1e-12};
        long[] seeds = {0, 1, 7, -3, Long.MAX_VALUE};
        float scale = 1.75f;
        int n = 4099;
        float[] out = new float[n + 3];
        for (double rate : rates) {
            for (long seed : seeds) {
                long index0 = seed * 31 + 12345;
                java.util.Arrays.fill(out, -1f);
                CounterRng.keepMultipliers(seed, index0, rate, scale, out, 2, n);
                int kept = 0;
                for (int y = 0; y < n; y++) {
                    boolean keep = CounterRng.keep(seed, index0 + y, rate);
                    assertEquals(keep ? scale : 0f, out[2 + y], "rate " + rate + " seed " + seed + " index " + (index0 + y));
                    if (keep) kept++;
                }
                assertEquals(-1f, out[0]); assertEquals(-1f, out[1]); assertEquals(-1f, out[n + 2]);
                double expected = n * (1 - rate);
                assertTrue(Math.abs(kept - expected) < 6 * Math.sqrt(n * rate * (1 - rate)) + 1, "rate " + rate + ": kept " + kept);
            }
        }
    }

    /** Exactly at the threshold: a uniform value equal to the rate survives (keep is uniform >= rate). */
    @Test
    void valueEqualToTheRateIsKept() {
        // find an index whose uniform value is exactly some u / 2^24, then use that as the rate
        long seed = 5;
        float u = CounterRng.uniform(seed, 100);
        float[] out = new float[1];
        CounterRng.keepMultipliers(seed, 100, u, 1f, out, 0, 1);
        assertEquals(1f, out[0]);
        CounterRng.keepMultipliers(seed, 100, Math.nextUp((double) u), 1f, out, 0, 1);
        assertEquals(0f, out[0]);
    }
}
