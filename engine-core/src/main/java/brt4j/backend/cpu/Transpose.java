package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Transposed copies of a strided block, the operand layouts that put a matrix's other index along the vector lanes:
 * a product's transposed b packed into panels, and the attention's k^T and v^T. With 8-lane vectors (AVX2) whole
 * 8 x 8 blocks are transposed in registers: three rounds of lane swaps at distance 1, 2 and 4 (a rearrange and a
 * blend per vector and round), 0.3 ns a float against 0.74 for one element at a time (k^T of a 640 x 256 training
 * segment, four heads: 51 against 121 us). Other widths, and the edges, copy one element at a time.
 */
final class Transpose {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final boolean BLOCKS = Vec.L == 8;
    /** Per round s (distance 1 << s): each lane's partner, and the lanes that take their partner's value. */
    private static final VectorShuffle<Float> S0 = swap(0), S1 = swap(1), S2 = swap(2);
    private static final VectorMask<Float> M0 = upper(0), M1 = upper(1), M2 = upper(2);

    private Transpose() {}

    /** dst[dOff + c * ldd + r] = src[so + r * lds + c] for r < rows, c < cols. */
    static void copy(float[] src, int so, int lds, int rows, int cols, float[] dst, int dOff, int ldd) {
        int r8 = BLOCKS ? rows / 8 * 8 : 0, c8 = BLOCKS ? cols / 8 * 8 : 0;
        for (int r = 0; r < r8; r += 8) {
            for (int c = 0; c < c8; c += 8) block8(src, so + r * lds + c, lds, dst, dOff + c * ldd + r, ldd);
        }
        for (int r = 0; r < rows; r++) {
            int s = so + r * lds;
            for (int c = r < r8 ? c8 : 0; c < cols; c++) dst[dOff + c * ldd + r] = src[s + c];
        }
    }

    /**
     * One 8 x 8 block: rows v0..v7 loaded, then in round s the pairs (i, i + 2^s) for i with bit s clear exchange
     * the lanes that differ in bit s (the lower row keeps its lanes with the bit clear and takes its partner's, moved
     * down, where it is set; the upper row the other way round). After three rounds row i holds column i.
     */
    private static void block8(float[] src, int so, int lds, float[] dst, int dOff, int ldd) {
        FloatVector v0 = FloatVector.fromArray(F, src, so), v1 = FloatVector.fromArray(F, src, so + lds),
                v2 = FloatVector.fromArray(F, src, so + 2 * lds), v3 = FloatVector.fromArray(F, src, so + 3 * lds),
                v4 = FloatVector.fromArray(F, src, so + 4 * lds), v5 = FloatVector.fromArray(F, src, so + 5 * lds),
                v6 = FloatVector.fromArray(F, src, so + 6 * lds), v7 = FloatVector.fromArray(F, src, so + 7 * lds), a, b;
        a = v0; b = v1; v0 = a.blend(b.rearrange(S0), M0); v1 = a.rearrange(S0).blend(b, M0);
        a = v2; b = v3; v2 = a.blend(b.rearrange(S0), M0); v3 = a.rearrange(S0).blend(b, M0);
        a = v4; b = v5; v4 = a.blend(b.rearrange(S0), M0); v5 = a.rearrange(S0).blend(b, M0);
        a = v6; b = v7; v6 = a.blend(b.rearrange(S0), M0); v7 = a.rearrange(S0).blend(b, M0);
        a = v0; b = v2; v0 = a.blend(b.rearrange(S1), M1); v2 = a.rearrange(S1).blend(b, M1);
        a = v1; b = v3; v1 = a.blend(b.rearrange(S1), M1); v3 = a.rearrange(S1).blend(b, M1);
        a = v4; b = v6; v4 = a.blend(b.rearrange(S1), M1); v6 = a.rearrange(S1).blend(b, M1);
        a = v5; b = v7; v5 = a.blend(b.rearrange(S1), M1); v7 = a.rearrange(S1).blend(b, M1);
        a = v0; b = v4; v0 = a.blend(b.rearrange(S2), M2); v4 = a.rearrange(S2).blend(b, M2);
        a = v1; b = v5; v1 = a.blend(b.rearrange(S2), M2); v5 = a.rearrange(S2).blend(b, M2);
        a = v2; b = v6; v2 = a.blend(b.rearrange(S2), M2); v6 = a.rearrange(S2).blend(b, M2);
        a = v3; b = v7; v3 = a.blend(b.rearrange(S2), M2); v7 = a.rearrange(S2).blend(b, M2);
        v0.intoArray(dst, dOff);
        v1.intoArray(dst, dOff + ldd);
        v2.intoArray(dst, dOff + 2 * ldd);
        v3.intoArray(dst, dOff + 3 * ldd);
        v4.intoArray(dst, dOff + 4 * ldd);
        v5.intoArray(dst, dOff + 5 * ldd);
        v6.intoArray(dst, dOff + 6 * ldd);
        v7.intoArray(dst, dOff + 7 * ldd);
    }

    private static VectorShuffle<Float> swap(int s) {
        if (!BLOCKS) return null;
        int[] to = new int[8];
        for (int i = 0; i < 8; i++) to[i] = i ^ (1 << s);
        return VectorShuffle.fromArray(F, to, 0);
    }

    private static VectorMask<Float> upper(int s) {
        if (!BLOCKS) return null;
        boolean[] m = new boolean[8];
        for (int i = 0; i < 8; i++) m[i] = (i & (1 << s)) != 0;
        return VectorMask.fromArray(F, m, 0);
    }
}
