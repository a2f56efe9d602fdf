package brt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The blocked GEMM's own paths against a float64 loop: edge rows (m not a multiple of MR) and edge columns (n not
 * a multiple of NR), k over several blocks with and without a remainder, a transposed a over several MC blocks,
 * a product wider than NC (op(a) packed once for its column blocks), the column and the row split of two and three
 * threads; and the same bits for every thread count.
 */
class MatmulTest {
    static float[] rand(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    /** c = alpha op(a) op(b) + beta c in float64, rounded once. */
    static float[] oracle(int m, int n, int k, float[] a, boolean ta, float[] b, boolean tb, float[] c0, float alpha, float beta) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = (float) (alpha * s + (beta == 0 ? 0 : (double) beta * c0[i * n + j]));
            }
        }
        return c;
    }

    static float[] run(int threads, int m, int n, int k, float[] a, boolean ta, float[] b, boolean tb, float[] c0, float alpha, float beta) {
        float[] c = c0.clone();
        try (CpuPool pool = new CpuPool(threads)) {
            new Matmul(pool).gemm(1, m, n, k, a, ta, b, tb, c, alpha, beta);
        }
        return c;
    }

    @Test
    void aPlainAsLastRowsGoToFourRowSlivers() {
        // a plain a's 32-row last block of 512 rows: four of six, then the last eight rows as two of four
        assertEquals("6 6 6 6 4 4", widths(32, false));
        assertEquals("6 6 6 6 6 6", widths(32, true), "a transposed a keeps six-row slivers");
        assertEquals("6 4", widths(7, false), "a last row alone takes the four-row kernel");
        assertEquals("6 6", widths(11, false), "five rows stay on the six-row kernel");
        assertEquals("4", widths(3, false));
    }

    private static String widths(int rows, boolean transA) {
        StringBuilder sb = new StringBuilder();
        for (int left = rows, w; left > 0; left -= Math.min(w, left)) {
            w = Matmul.sliverWidth(left, transA);
            sb.append(sb.isEmpty() ? "" : " ").append(w);
        }
        return sb.toString();
    }

    @Test
    void edgesBlocksTransposesAndSplitsAgainstFloat64() {
        SplittableRandom r = new SplittableRandom(11);
        int[][] shapes = {{1, 1, 1}, {4, 15, 17}, {6, 16, 16}, {11, 17, 33}, {131, 33, 520}, {7, 300, 1100},
                {300, 40, 130}, {257, 250, 96}, {Matmul.MC + 3, 2 * Matmul.NR + 1, Matmul.KC + Matmul.UNROLL + 3},
                // wider than its column block over two k blocks: op(a) packed once for all column blocks (on one
                // thread); and at one k block, whose column block is NC
                {2 * Matmul.MC + 7, Matmul.nBlock(Matmul.kBlock(Matmul.KC + 40)) + Matmul.NR + 5, Matmul.KC + 40},
                {Matmul.MC + 2, Matmul.NC + Matmul.NR + 3, 100},
                // k not a whole number of the kernel's STEPS: a plain a's last group of k steps is part zeros
                {13, 1029, 37},
                // a plain a's last eight rows as two four-row slivers (after a full row block, and on two threads)
                {14, 37, 29}, {Matmul.MC + 14, 130, 70},
                // k blocks of 512, the deepest that sweep a run of panels per sliver: two whole runs and part of one
                {2 * Matmul.MC + 5, 2 * Matmul.RUN * Matmul.NR + 3 * Matmul.NR + 5, 512}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                float[] a = rand(r, m * k), b = rand(r, k * n), c0 = rand(r, m * n);
                float alpha = t == 3 ? -0.5f : 1f, beta = t == 1 ? 0.25f : t == 2 ? 1f : 0f;
                float[] want = oracle(m, n, k, a, ta, b, tb, c0, alpha, beta);
                for (int threads : new int[]{1, 2, 3}) {
                    float[] got = run(threads, m, n, k, a, ta, b, tb, c0, alpha, beta);
                    double worst = 0, scale = 1e-30;
                    for (int i = 0; i < want.length; i++) {
                        worst = Math.max(worst, Math.abs(got[i] - want[i]));
                        scale = Math.max(scale, Math.abs(want[i]));
                    }
                    String what = m + "x" + k + (ta ? "^T" : "") + " . " + k + "x" + n + (tb ? "^T" : "") + " on " + threads;
                    assertTrue(worst / scale < 1e-5, what + ": relative error " + worst / scale);
                }
            }
        }
    }

    @Test
    void sameBitsForEveryThreadCount() {
        SplittableRandom r = new SplittableRandom(12);
        // wide (split by columns) and tall-narrow (split by rows), both with edge tiles and two k blocks
        int[][] shapes = {{203, 517, Matmul.KC + 40}, {1003, 21, Matmul.KC + 40},
                {67, Matmul.nBlock(Matmul.kBlock(Matmul.KC + 40)) + 37, Matmul.KC + 40},
                // k not a whole number of STEPS, two and three threads splitting the columns unevenly
                {203, 1041, 70}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            float[] a = rand(r, m * k), b = rand(r, k * n), c0 = rand(r, m * n);
            float[] one = run(1, m, n, k, a, false, b, true, c0, 0.75f, 0.5f);
            for (int threads : new int[]{2, 3}) {
                assertArrayEquals(one, run(threads, m, n, k, a, false, b, true, c0, 0.75f, 0.5f), m + "x" + n + " on " + threads);
            }
        }
    }

    @Test
    void columnBlocksHoldAboutOneMiBOfPackedB() {
        assertEquals(Matmul.NC, Matmul.nBlock(256));
        assertEquals(512, Matmul.nBlock(512));
        assertEquals(256, Matmul.nBlock(1024));
        assertEquals(480, Matmul.nBlock(544));     // whole panels: 262144 / 544 = 481.9 columns, 30 panels
        assertEquals(Matmul.NC, Matmul.nBlock(16));  // never wider than NC
    }
}
