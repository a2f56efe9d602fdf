package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The small product the fused attention is built from: for r < rows and x < n,
 * {@code c[co + r*ldc + x] (+)= sum_{t < kk} a[ao + r*lda + t] * b[bo + t*ldb + x]}, with n a whole number of
 * vectors. Six rows at a time against two vectors of b (twelve independent FMA accumulators, a broadcast of a per row
 * and t), then four, then one; an odd vector of n takes the one-vector kernel of as many rows (six, four or one).
 * Operands are already laid out by the caller (no packing here), which is why it suits the attention's tiles: q
 * against k^T, p against v, ds against k and q.
 */
final class PanelGemm {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;

    private PanelGemm() {}

    static void mul(int rows, int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb,
                    float[] c, int co, int ldc, int n, boolean acc) {
        int r = 0;
        for (; r + 6 <= rows; r += 6) {
            int x = 0;
            for (; x + 2 * L <= n; x += 2 * L) six2(kk, a, ao + r * lda, lda, b, bo + x, ldb, c, co + r * ldc + x, ldc, acc);
            for (; x < n; x += L) six1(kk, a, ao + r * lda, lda, b, bo + x, ldb, c, co + r * ldc + x, ldc, acc);
        }
        for (; r + 4 <= rows; r += 4) {
            int x = 0;
            for (; x + 2 * L <= n; x += 2 * L) four2(kk, a, ao + r * lda, lda, b, bo + x, ldb, c, co + r * ldc + x, ldc, acc);
            for (; x < n; x += L) four1(kk, a, ao + r * lda, lda, b, bo + x, ldb, c, co + r * ldc + x, ldc, acc);
        }
        for (; r < rows; r++) {
            int x = 0;
            for (; x + 2 * L <= n; x += 2 * L) one2(kk, a, ao + r * lda, b, bo + x, ldb, c, co + r * ldc + x, acc);
            for (; x < n; x += L) one1(kk, a, ao + r * lda, b, bo + x, ldb, c, co + r * ldc + x, acc);
        }
    }

    private static void four2(int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc, boolean acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int a0 = ao, a1 = ao + lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda;
        for (int t = 0; t < kk; t++) {
            int bi = bo + t * ldb;
            FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x0 = FloatVector.broadcast(F, a[a0 + t]);
            c00 = x0.fma(b0, c00); c01 = x0.fma(b1, c01);
            FloatVector x1 = FloatVector.broadcast(F, a[a1 + t]);
            c10 = x1.fma(b0, c10); c11 = x1.fma(b1, c11);
            FloatVector x2 = FloatVector.broadcast(F, a[a2 + t]);
            c20 = x2.fma(b0, c20); c21 = x2.fma(b1, c21);
            FloatVector x3 = FloatVector.broadcast(F, a[a3 + t]);
            c30 = x3.fma(b0, c30); c31 = x3.fma(b1, c31);
        }
        put(c00, c, co, acc); put(c01, c, co + L, acc);
        put(c10, c, co + ldc, acc); put(c11, c, co + ldc + L, acc);
        put(c20, c, co + 2 * ldc, acc); put(c21, c, co + 2 * ldc + L, acc);
        put(c30, c, co + 3 * ldc, acc); put(c31, c, co + 3 * ldc + L, acc);
    }

    private static void six2(int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc, boolean acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        int a0 = ao, a1 = ao + lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda, a4 = ao + 4 * lda, a5 = ao + 5 * lda;
        for (int t = 0; t < kk; t++) {
            int bi = bo + t * ldb;
            FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x0 = FloatVector.broadcast(F, a[a0 + t]);
            c00 = x0.fma(b0, c00); c01 = x0.fma(b1, c01);
            FloatVector x1 = FloatVector.broadcast(F, a[a1 + t]);
            c10 = x1.fma(b0, c10); c11 = x1.fma(b1, c11);
            FloatVector x2 = FloatVector.broadcast(F, a[a2 + t]);
            c20 = x2.fma(b0, c20); c21 = x2.fma(b1, c21);
            FloatVector x3 = FloatVector.broadcast(F, a[a3 + t]);
            c30 = x3.fma(b0, c30); c31 = x3.fma(b1, c31);
            FloatVector x4 = FloatVector.broadcast(F, a[a4 + t]);
            c40 = x4.fma(b0, c40); c41 = x4.fma(b1, c41);
            FloatVector x5 = FloatVector.broadcast(F, a[a5 + t]);
            c50 = x5.fma(b0, c50); c51 = x5.fma(b1, c51);
        }
        // the stores written out, not through put(): at six2's size C2 can reach its node budget and leave a put()
        // out of line, and a vector passed to a call that is not inlined is boxed (an allocation per call)
        if (acc) {
            c00 = c00.add(FloatVector.fromArray(F, c, co)); c01 = c01.add(FloatVector.fromArray(F, c, co + L));
            c10 = c10.add(FloatVector.fromArray(F, c, co + ldc)); c11 = c11.add(FloatVector.fromArray(F, c, co + ldc + L));
            c20 = c20.add(FloatVector.fromArray(F, c, co + 2 * ldc)); c21 = c21.add(FloatVector.fromArray(F, c, co + 2 * ldc + L));
            c30 = c30.add(FloatVector.fromArray(F, c, co + 3 * ldc)); c31 = c31.add(FloatVector.fromArray(F, c, co + 3 * ldc + L));
            c40 = c40.add(FloatVector.fromArray(F, c, co + 4 * ldc)); c41 = c41.add(FloatVector.fromArray(F, c, co + 4 * ldc + L));
            c50 = c50.add(FloatVector.fromArray(F, c, co + 5 * ldc)); c51 = c51.add(FloatVector.fromArray(F, c, co + 5 * ldc + L));
        }
        c00.intoArray(c, co); c01.intoArray(c, co + L);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + L);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + L);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + L);
        c40.intoArray(c, co + 4 * ldc); c41.intoArray(c, co + 4 * ldc + L);
        c50.intoArray(c, co + 5 * ldc); c51.intoArray(c, co + 5 * ldc + L);
    }

    /**
     * Six rows against one vector of b: the odd vector of an attention score row (n = 136 at W 128). It was four1
     * plus two one1, and one1 is a single FMA chain (one FMA per latency, an eighth of the FMA rate): that half panel
     * cost as much as two and a half full ones. Six chains here.
     */
    private static void six1(int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc, boolean acc) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        int a0 = ao, a1 = ao + lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda, a4 = ao + 4 * lda, a5 = ao + 5 * lda;
        for (int t = 0; t < kk; t++) {
            FloatVector b0 = FloatVector.fromArray(F, b, bo + t * ldb);
            c0 = FloatVector.broadcast(F, a[a0 + t]).fma(b0, c0);
            c1 = FloatVector.broadcast(F, a[a1 + t]).fma(b0, c1);
            c2 = FloatVector.broadcast(F, a[a2 + t]).fma(b0, c2);
            c3 = FloatVector.broadcast(F, a[a3 + t]).fma(b0, c3);
            c4 = FloatVector.broadcast(F, a[a4 + t]).fma(b0, c4);
            c5 = FloatVector.broadcast(F, a[a5 + t]).fma(b0, c5);
        }
        // written out rather than through put(), as in six2
        if (acc) {
            c0 = c0.add(FloatVector.fromArray(F, c, co)); c1 = c1.add(FloatVector.fromArray(F, c, co + ldc));
            c2 = c2.add(FloatVector.fromArray(F, c, co + 2 * ldc)); c3 = c3.add(FloatVector.fromArray(F, c, co + 3 * ldc));
            c4 = c4.add(FloatVector.fromArray(F, c, co + 4 * ldc)); c5 = c5.add(FloatVector.fromArray(F, c, co + 5 * ldc));
        }
        c0.intoArray(c, co); c1.intoArray(c, co + ldc); c2.intoArray(c, co + 2 * ldc);
        c3.intoArray(c, co + 3 * ldc); c4.intoArray(c, co + 4 * ldc); c5.intoArray(c, co + 5 * ldc);
    }

    private static void four1(int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc, boolean acc) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int a0 = ao, a1 = ao + lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda;
        for (int t = 0; t < kk; t++) {
            FloatVector b0 = FloatVector.fromArray(F, b, bo + t * ldb);
            c0 = FloatVector.broadcast(F, a[a0 + t]).fma(b0, c0);
            c1 = FloatVector.broadcast(F, a[a1 + t]).fma(b0, c1);
            c2 = FloatVector.broadcast(F, a[a2 + t]).fma(b0, c2);
            c3 = FloatVector.broadcast(F, a[a3 + t]).fma(b0, c3);
        }
        put(c0, c, co, acc); put(c1, c, co + ldc, acc); put(c2, c, co + 2 * ldc, acc); put(c3, c, co + 3 * ldc, acc);
    }

    private static void one2(int kk, float[] a, int ao, float[] b, int bo, int ldb, float[] c, int co, boolean acc) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0;
        for (int t = 0; t < kk; t++) {
            int bi = bo + t * ldb;
            FloatVector x = FloatVector.broadcast(F, a[ao + t]);
            c0 = x.fma(FloatVector.fromArray(F, b, bi), c0);
            c1 = x.fma(FloatVector.fromArray(F, b, bi + L), c1);
        }
        put(c0, c, co, acc); put(c1, c, co + L, acc);
    }

    private static void one1(int kk, float[] a, int ao, float[] b, int bo, int ldb, float[] c, int co, boolean acc) {
        FloatVector c0 = FloatVector.zero(F);
        for (int t = 0; t < kk; t++) c0 = FloatVector.broadcast(F, a[ao + t]).fma(FloatVector.fromArray(F, b, bo + t * ldb), c0);
        put(c0, c, co, acc);
    }

    /**
     * {@code c[co + r*ldc + x] += sum_{t < kk} a[ao + t*lda + r] * b[bo + t*ldb + x]}: {@link #mul} with a read
     * transposed (attention's dk += ds^T q and dv += p^T dOut straight from the score tile, which no longer needs a
     * transposed copy). Five (or four) rows of c take five (four) neighbouring values of a per t, the rest one at a
     * time; an odd vector of n goes through a scalar loop. Sums run over t in order, as in {@link #mul}.
     */
    static void mulTransposedA(int rows, int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb,
                               float[] c, int co, int ldc, int n) {
        int n2 = n / (2 * L) * (2 * L);
        for (int r = 0, rr; r < rows; r += rr) {
            rr = rows - r >= 5 ? 5 : Math.min(4, rows - r);
            for (int x = 0; x < n2; x += 2 * L) {
                if (rr == 5) five2T(kk, a, ao + r, lda, b, bo + x, ldb, c, co + r * ldc + x, ldc);
                else if (rr == 4) four2T(kk, a, ao + r, lda, b, bo + x, ldb, c, co + r * ldc + x, ldc);
                else for (int y = r; y < r + rr; y++) one2T(kk, a, ao + y, lda, b, bo + x, ldb, c, co + y * ldc + x);
            }
            for (int y = r; y < r + rr; y++) {
                for (int x = n2; x < n; x++) {
                    float sum = 0;
                    for (int t = 0; t < kk; t++) sum = Math.fma(a[ao + t * lda + y], b[bo + t * ldb + x], sum);
                    c[co + y * ldc + x] += sum;
                }
            }
        }
    }

    /** One row of {@link #four2T}. */
    private static void one2T(int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0;
        int bi = bo;
        for (int ai = ao, aEnd = ao + kk * lda; ai < aEnd; ai += lda, bi += ldb) {
            FloatVector x = FloatVector.broadcast(F, a[ai]);
            c0 = x.fma(FloatVector.fromArray(F, b, bi), c0);
            c1 = x.fma(FloatVector.fromArray(F, b, bi + L), c1);
        }
        put(c0, c, co, true); put(c1, c, co + L, true);
    }

    /**
     * {@link #six2} with a transposed, five rows: a's index runs by lda per t, the five rows at displacements 0-4.
     * Not six: with six rows' twelve accumulators, C2 hoisted three broadcasts above their FMAs and spilled both b
     * vectors to the stack every step (read off the machine code); six2T ran at 52-58 GFLOP/s, this at 78-85
     * (L1-resident, kk 64-128, n 64-128).
     */
    private static void five2T(int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
        int bi = bo;
        for (int ai = ao, aEnd = ao + kk * lda; ai < aEnd; ai += lda, bi += ldb) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x0 = FloatVector.broadcast(F, a[ai]);
            c00 = x0.fma(b0, c00); c01 = x0.fma(b1, c01);
            FloatVector x1 = FloatVector.broadcast(F, a[ai + 1]);
            c10 = x1.fma(b0, c10); c11 = x1.fma(b1, c11);
            FloatVector x2 = FloatVector.broadcast(F, a[ai + 2]);
            c20 = x2.fma(b0, c20); c21 = x2.fma(b1, c21);
            FloatVector x3 = FloatVector.broadcast(F, a[ai + 3]);
            c30 = x3.fma(b0, c30); c31 = x3.fma(b1, c31);
            FloatVector x4 = FloatVector.broadcast(F, a[ai + 4]);
            c40 = x4.fma(b0, c40); c41 = x4.fma(b1, c41);
        }
        // written out rather than through put(), as in six2
        c00.add(FloatVector.fromArray(F, c, co)).intoArray(c, co);
        c01.add(FloatVector.fromArray(F, c, co + L)).intoArray(c, co + L);
        c10.add(FloatVector.fromArray(F, c, co + ldc)).intoArray(c, co + ldc);
        c11.add(FloatVector.fromArray(F, c, co + ldc + L)).intoArray(c, co + ldc + L);
        c20.add(FloatVector.fromArray(F, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
        c21.add(FloatVector.fromArray(F, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
        c30.add(FloatVector.fromArray(F, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
        c31.add(FloatVector.fromArray(F, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
        c40.add(FloatVector.fromArray(F, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
        c41.add(FloatVector.fromArray(F, c, co + 4 * ldc + L)).intoArray(c, co + 4 * ldc + L);
    }

    /** {@link #four2} with a transposed: a's index runs by lda per t, the four rows at displacements 0-3. */
    private static void four2T(int kk, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int bi = bo;
        for (int ai = ao, aEnd = ao + kk * lda; ai < aEnd; ai += lda, bi += ldb) {
            FloatVector b0 = FloatVector.fromArray(F, b, bi), b1 = FloatVector.fromArray(F, b, bi + L);
            FloatVector x0 = FloatVector.broadcast(F, a[ai]);
            c00 = x0.fma(b0, c00); c01 = x0.fma(b1, c01);
            FloatVector x1 = FloatVector.broadcast(F, a[ai + 1]);
            c10 = x1.fma(b0, c10); c11 = x1.fma(b1, c11);
            FloatVector x2 = FloatVector.broadcast(F, a[ai + 2]);
            c20 = x2.fma(b0, c20); c21 = x2.fma(b1, c21);
            FloatVector x3 = FloatVector.broadcast(F, a[ai + 3]);
            c30 = x3.fma(b0, c30); c31 = x3.fma(b1, c31);
        }
        put(c00, c, co, true); put(c01, c, co + L, true);
        put(c10, c, co + ldc, true); put(c11, c, co + ldc + L, true);
        put(c20, c, co + 2 * ldc, true); put(c21, c, co + 2 * ldc + L, true);
        put(c30, c, co + 3 * ldc, true); put(c31, c, co + 3 * ldc + L, true);
    }

    private static void put(FloatVector v, float[] c, int o, boolean acc) {
        (acc ? v.add(FloatVector.fromArray(F, c, o)) : v).intoArray(c, o);
    }
}
