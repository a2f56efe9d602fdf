package brt4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Checks the bf16 and f16 conversions against slow scalar references written independently here: decode the
 * candidate 16-bit values by the textbook formula, pick the nearer one in exact (double) arithmetic, ties to the even
 * bit pattern. Inputs: every bf16 upper half with the low halves that make ties and near-ties, the special values,
 * and random floats.
 */
class HalfPrecisionTest {
    /** The low 16 bits that matter for rounding to bf16: zero, just below/at/above the tie, and extremes. */
    private static final int[] LOW_HALVES = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1234, 0xC000};

    @Test
    void bf16WideningIsExactForEveryPattern() {
        for (int i = 0; i < 65536; i++) {
            int b = i;
            float f = HalfPrecision.bf16ToFloat((short) b);
            if (Float.isNaN(f)) {
                assertTrue(((b >>> 7) & 0xFF) == 0xFF && (b & 0x7F) != 0);
            } else {
                assertEquals((short) b, HalfPrecision.floatToBf16(f), () -> "pattern " + Integer.toHexString(b));
            }
        }
    }

    @Test
    void bf16RoundingMatchesReference() {
        for (int hi = 0; hi < 65536; hi++) {
            for (int lo : LOW_HALVES) {
                checkBf16(Float.intBitsToFloat((hi << 16) | lo));
            }
        }
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < 200_000; i++) {
            checkBf16(Float.intBitsToFloat(rnd.nextInt()));
        }
        for (float f : specials()) {
            checkBf16(f);
        }
    }

    @Test
    void f16RoundingMatchesReference() {
        for (int hi = 0; hi < 65536; hi++) {
            for (int lo : LOW_HALVES) {
                checkF16(Float.intBitsToFloat((hi << 16) | lo));
            }
        }
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = 0; i < 200_000; i++) {
            checkF16(Float.intBitsToFloat(rnd.nextInt()));
            // Also floats near the f16 range, where most interesting cases are.
            checkF16((float) (rnd.nextDouble(-70000, 70000) * Math.pow(2, -rnd.nextInt(30))));
        }
        for (float f : specials()) {
            checkF16(f);
        }
    }

    @Test
    void specialValuesConvertAsExpected() {
        assertEquals((short) 0x8000, HalfPrecision.floatToBf16(-0.0f));
        assertEquals((short) 0x8000, HalfPrecision.floatToF16(-0.0f));
        assertEquals((short) 0x7F80, HalfPrecision.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFC00, HalfPrecision.floatToF16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7F80, HalfPrecision.floatToBf16(Float.MAX_VALUE)); // rounds up past the largest bf16
        assertEquals((short) 0x7C00, HalfPrecision.floatToF16(65520f)); // the f16 overflow tie goes to infinity
        assertEquals((short) 0x7BFF, HalfPrecision.floatToF16(65519.996f));
        assertEquals((short) 0x0001, HalfPrecision.floatToF16(0x1p-24f)); // smallest f16 subnormal
        assertEquals((short) 0x0000, HalfPrecision.floatToF16(0x1p-25f)); // tie to even: zero
        assertEquals((short) 0x0001, HalfPrecision.floatToF16(0x1.000002p-25f));
        assertEquals((short) 0x0001, HalfPrecision.floatToBf16(Float.MIN_VALUE * 65536)); // bf16 subnormal
        // A NaN whose payload sits only in the low 16 bits must not truncate to infinity.
        float lowNaN = Float.intBitsToFloat(0x7F80_0001);
        assertTrue(Float.isNaN(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(lowNaN))));
        assertTrue(Float.isNaN(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(lowNaN))));
        assertEquals((short) 0xFFC1, HalfPrecision.floatToBf16(Float.intBitsToFloat(0xFF81_0000)));
    }

    private static float[] specials() {
        return new float[] {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE,
            -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1f, -1f, 0.1f, 65504f,
            65519f, 65520f, 65536f, 6.1035156e-5f, 5.9604645e-8f, 2.9802322e-8f, 1e-10f, 3.3895314e38f};
    }

    private static void checkBf16(float f) {
        short got = HalfPrecision.floatToBf16(f);
        if (Float.isNaN(f)) {
            assertTrue(Float.isNaN(HalfPrecision.bf16ToFloat(got)));
            assertEquals(Float.floatToRawIntBits(f) >>> 31, (got >>> 15) & 1, "NaN keeps its sign");
            return;
        }
        int sign = Float.floatToRawIntBits(f) & 0x8000_0000;
        if (Float.isInfinite(f)) {
            assertEquals((short) ((sign >>> 16) | 0x7F80), got);
            return;
        }
        double x = Math.abs((double) f);
        int down = (Float.floatToRawIntBits(f) & 0x7FFF_FFFF) >>> 16; // truncation: the bf16 at or below |f|
        int up = down + 1;
        double a = bf16Value(down);
        double b = up >= 0x7F80 ? 0x1p128 : bf16Value(up); // past the largest finite: infinity, spaced as 2^128
        int expected = nearest(x, down, a, up, b);
        assertEquals((short) ((sign >>> 16) | expected), got, () -> "bf16 of " + f + " (" + Float.floatToRawIntBits(f) + ")");
    }

    private static void checkF16(float f) {
        short got = HalfPrecision.floatToF16(f);
        if (Float.isNaN(f)) {
            assertTrue(Float.isNaN(HalfPrecision.f16ToFloat(got)));
            return;
        }
        int sign = (Float.floatToRawIntBits(f) >>> 16) & 0x8000;
        double x = Math.abs((double) f);
        int expected;
        if (x >= 65520) {
            expected = 0x7C00; // at or past the overflow tie (65504 + half an ulp of 32)
        } else {
            // Binary search over the non-negative finite patterns, which are ordered like their values.
            int lo = 0;
            int hi = 0x7BFF;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (f16Value(mid) <= x) lo = mid; else hi = mid - 1;
            }
            int up = lo + 1;
            double b = up == 0x7C00 ? 65536 : f16Value(up);
            expected = nearest(x, lo, f16Value(lo), up, b);
        }
        assertEquals((short) (sign | expected), got, () -> "f16 of " + f);
    }

    /** The nearer of two adjacent patterns, ties to the even one. */
    private static int nearest(double x, int down, double a, int up, double b) {
        double dDown = x - a;
        double dUp = b - x;
        if (dDown < dUp) return down;
        if (dUp < dDown) return up;
        return (down & 1) == 0 ? down : up;
    }

    /** Value of a non-negative finite bf16 pattern: sign bit 0, 8 exponent bits, 7 mantissa bits. */
    private static double bf16Value(int bits) {
        int e = bits >>> 7;
        int m = bits & 0x7F;
        return e == 0 ? m * Math.pow(2, -133) : (128 + m) * Math.pow(2, e - 134);
    }

    /** Value of a non-negative finite f16 pattern: 5 exponent bits (bias 15), 10 mantissa bits. */
    private static double f16Value(int bits) {
        int e = bits >>> 10;
        int m = bits & 0x3FF;
        return e == 0 ? m * Math.pow(2, -24) : (1024 + m) * Math.pow(2, e - 25);
    }
}
