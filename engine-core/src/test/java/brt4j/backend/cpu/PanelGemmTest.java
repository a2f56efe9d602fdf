package brt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The attention's small products against a float64 loop, at every row count from 1 to 13 (so each mix of the six-,
 * four- and one-row kernels runs) and column counts of one to five vectors, on strided operands inside larger
 * arrays; the cells of c outside the product must stay as they were.
 */
class PanelGemmTest {
    private static final int L = Vec.L;

    @Test
    void mulMatchesDoubleLoop() {
        Random r = new Random(3);
        for (int rows = 1; rows <= 13; rows++) {
            for (int vecs = 1; vecs <= 5; vecs++) {
                for (int kk : new int[]{1, 7, 33}) {
                    for (boolean acc : new boolean[]{false, true}) check(r, rows, kk, vecs * L, acc, false);
                }
            }
        }
    }

    @Test
    void mulTransposedAMatchesDoubleLoop() {
        Random r = new Random(4);
        for (int rows = 1; rows <= 13; rows++) {
            for (int n : new int[]{L, 2 * L, 3 * L + 3, 4 * L}) {
                for (int kk : new int[]{1, 17, 64}) check(r, rows, kk, n, true, true);
            }
        }
    }

    /** c (+)= op(a) . b with a rows x kk (stored kk x rows when transposed), b kk x n, all with padded strides. */
    private static void check(Random r, int rows, int kk, int n, boolean acc, boolean transA) {
        int lda = (transA ? rows : kk) + 5, ldb = n + 2 * L + 3, ldc = n + L + 1, ao = 3, bo = 2, co = 1;
        float[] a = rand(r, ao + (transA ? kk : rows) * lda), b = rand(r, bo + kk * ldb + 2 * L), c = rand(r, co + rows * ldc + L);
        float[] before = c.clone();
        if (transA) PanelGemm.mulTransposedA(rows, kk, a, ao, lda, b, bo, ldb, c, co, ldc, n);
        else PanelGemm.mul(rows, kk, a, ao, lda, b, bo, ldb, c, co, ldc, n, acc);
        for (int i = 0; i < c.length; i++) {
            int rel = i - co, row = Math.floorDiv(rel, ldc), col = Math.floorMod(rel, ldc);
            if (rel < 0 || row >= rows || col >= n) {
                assertEquals(before[i], c[i], "cell " + i + " outside the product was written");
                continue;
            }
            double want = acc ? before[i] : 0;
            for (int t = 0; t < kk; t++) {
                double av = transA ? a[ao + t * lda + row] : a[ao + row * lda + t];
                want += av * b[bo + t * ldb + col];
            }
            assertEquals(want, c[i], 1e-5 * (1 + Math.abs(want)) * Math.sqrt(kk),
                    "rows " + rows + " kk " + kk + " n " + n + " at (" + row + ", " + col + ")");
        }
    }

    private static float[] rand(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }
}
