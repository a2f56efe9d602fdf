package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The vector exp and tanh: accurate, and the same bits before and after the JIT compiles them. */
class VecExpTest {
    static float[] apply(float[] x, boolean tanh) {
        float[] out = new float[x.length];
        for (int i = 0; i + Vec.L <= x.length; i += Vec.L) {
            FloatVector v = FloatVector.fromArray(Vec.F, x, i);
            (tanh ? Vec.tanh(v) : Vec.exp(v)).intoArray(out, i);
        }
        return out;
    }

    @Test
    void accurateOverTheWholeRange() {
        int n = 4096;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -100f + 200f * i / n;
        float[] e = apply(x, false), t = apply(x, true);
        for (int i = 0; i < n; i++) {
            double want = Math.exp(x[i]);
            if (x[i] < -87.33f) assertEquals(0f, e[i]);
            else if (x[i] > 88.3762626647949f) assertEquals(Float.POSITIVE_INFINITY, e[i]);   // documented: inf a little before FLT_MAX
            else assertEquals(want, e[i], want * 4e-7, "exp(" + x[i] + ")");
            assertEquals(Math.tanh(x[i]), t[i], 2e-7, "tanh(" + x[i] + ")");
        }
    }

    /** exp takes no clamp before its polynomial: the lanes out of range must still come out exactly 0, inf or NaN. */
    @Test
    void extremeLanes() {
        float[] x = {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, -1e30f, 1e30f, -0f, -87.33654f,
                Math.nextDown(-87.33654f), 88.3762626647949f, Math.nextUp(88.3762626647949f), -Float.MAX_VALUE,
                Float.MAX_VALUE, -1e7f, 1e7f, Float.MIN_VALUE, -200f};
        float[] e = apply(x, false);
        assertTrue(Float.isNaN(e[0]));
        float[] want = {0, 0, Float.POSITIVE_INFINITY, 0, Float.POSITIVE_INFINITY, 1, (float) Math.exp(-87.33654f), 0,
                (float) Math.exp(88.3762626647949f), Float.POSITIVE_INFINITY, 0, Float.POSITIVE_INFINITY, 0,
                Float.POSITIVE_INFINITY, 1, 0};
        for (int i = 1; i < x.length; i++) assertEquals(want[i], e[i], Math.abs(want[i]) * 4e-7, "exp(" + x[i] + ")");
    }

    @Test
    void sameBitsColdAndHot() {
        float[] x = new float[512];
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 20);
        float[] cold = apply(x, false), coldTanh = apply(x, true);
        for (int i = 0; i < 20_000; i++) apply(x, (i & 1) == 0);       // let C2 compile it
        assertArrayEquals(cold, apply(x, false));
        assertArrayEquals(coldTanh, apply(x, true));
        assertTrue(cold.length > 0);
    }
}
