package brt4j.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one vector species every CPU kernel uses, chosen once at class initialization and held in a {@code static
 * final} field so that C2 intrinsifies the vector operations (benchmarking.md: a non-constant species ran ~40x
 * slower). {@code -Dbrt.vector.bits=128|256|512} forces a narrower width, so the 128-bit paths that ARM machines
 * take are tested here too; the default is the platform's preferred width.
 */
final class Vec {
    private Vec() {}

    static final VectorSpecies<Float> F = pick(Integer.getInteger("brt.vector.bits", 0));

    /** Lanes per vector. */
    static final int L = F.length();

    private static VectorSpecies<Float> pick(int bits) {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        if (bits <= 0 || bits >= preferred.vectorBitSize()) return preferred;
        return switch (bits) {
            case 64 -> FloatVector.SPECIES_64;
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            default -> throw new IllegalArgumentException("brt.vector.bits must be 64, 128, 256 or 512, got " + bits);
        };
    }

    /** n rounded up to a whole number of vectors. */
    static int roundUp(int n) { return (n + L - 1) / L * L; }

    /** The largest multiple of the vector length not above n. */
    static int bound(int n) { return n - n % L; }

    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f;     // 1.5 * 2^23: adding and subtracting it rounds to an integer
    private static final float EXP_MIN = -87.33654f, EXP_MAX = 88.3762626647949f;

    /**
     * e^x per lane, Cephes' expf polynomial (about 1 ulp), built only from add, multiply and FMA. Not
     * {@code lanewise(EXP)}: that gave different bits before and after C2 compiled the caller (26 of 512 lanes in a
     * test), so a run was not repeatable across processes; IEEE add/mul/fma are the same in every mode. Below
     * EXP_MIN the result is 0, above EXP_MAX (a little before the float range ends) infinity, NaN stays NaN.
     *
     * <p>Out-of-range lanes are not clamped first: whatever the arithmetic makes of them, the two blends replace it
     * (Java's min/max cost several instructions a lane on AVX2 for their NaN and -0 rules). The scale 2^n is read
     * from the bits of n + ROUND, whose low mantissa bits hold n, rather than by a float-to-int conversion (which
     * Java's saturating semantics make a sequence). Both give the same bits as before: 0.77 against 0.99 ns a
     * lane, 128-lane rows.
     */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_MIN), over = x.compare(VectorOperators.GT, EXP_MAX);
        FloatVector shifted = x.mul(LOG2E).add(ROUND), n = shifted.sub(ROUND);   // round(x / ln 2), and + ROUND
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);                      // x - n ln 2, in two parts
        FloatVector y = r.fma(FloatVector.broadcast(F, 1.9875691500e-4f), FloatVector.broadcast(F, 1.3981999507e-3f));
        y = y.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        y = y.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        y = y.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        y = y.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        y = y.fma(r.mul(r), r).add(1f);
        // shifted's bits are 0x4B400000 + n; shifting by 23 drops the 0x4B4 part: (n + 127) << 23, the float 2^n
        IntVector bits = ((IntVector) shifted.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector result = y.mul(bits.reinterpretAsFloats());
        return result.blend(0f, under).blend(Float.POSITIVE_INFINITY, over);
    }

    /** tanh(x) = 1 - 2 / (e^{2x} + 1), on {@link #exp} for the same reason. */
    static FloatVector tanh(FloatVector x) {
        return FloatVector.broadcast(F, 1f).sub(FloatVector.broadcast(F, 2f).div(exp(x.mul(2f)).add(1f)));
    }

    /**
     * The sum of the lanes, left to right. Not {@code reduceLanes(ADD)}: its order of additions is unspecified and
     * differs between the interpreter and C2, so the same inputs gave different last bits depending on what had been
     * compiled (a resumed training run drifted from the uninterrupted one). Used once per row, so the cost is small.
     *
     * <p>Inside a very large compiled method (the fused attention's), C2 may stop inlining at its node budget: a
     * vector passed to a call it did not inline is boxed, a heap allocation per row. Such callers spell the loop out
     * (lane() is always inlined), as {@link #expShiftSum} does.
     */
    static float sum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < L; i++) s += v.lane(i);
        return s;
    }

    /** {@link #sum} for double vectors. */
    static double sum(DoubleVector v) {
        double s = 0;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    /** x[o : o+n] = exp(x - m) in place (the softmax numerators of one row); returns their sum. */
    static float expShiftSum(float[] x, int o, int n, float m) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, ub = bound(n);
        for (; i < ub; i += L) {
            FloatVector e = exp(FloatVector.fromArray(F, x, o + i).sub(m));
            e.intoArray(x, o + i);
            acc = acc.add(e);
        }
        float sum = 0;
        for (int lane = 0; lane < L; lane++) sum += acc.lane(lane);    // sum(acc), spelled out: see sum
        for (; i < n; i++) {
            float e = (float) StrictMath.exp(x[o + i] - m);
            x[o + i] = e;
            sum += e;
        }
        return sum;
    }

    /** x[o : o+n] *= f. */
    static void scale(float[] x, int o, int n, float f) {
        int i = 0, ub = bound(n);
        for (; i < ub; i += L) FloatVector.fromArray(F, x, o + i).mul(f).intoArray(x, o + i);
        for (; i < n; i++) x[o + i] *= f;
    }
}
