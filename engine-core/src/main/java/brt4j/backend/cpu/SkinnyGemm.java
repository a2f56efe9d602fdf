package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * c = alpha * a . b^T + beta * c for a few rows of a (m <= {@link #MAX_M}): generation's one token a step. Packing b,
 * as {@link Matmul} does, would copy the whole weight matrix for every token; here each row of b (a weight row,
 * contiguous in k) is read once and dotted with every row of a, so the product runs at the speed of reading the
 * weights, which is what bounds generation. Threads split the columns of c.
 */
final class SkinnyGemm {
    private SkinnyGemm() {}

    static final int MAX_M = 4;
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;

    static void matmulTransB(CpuPool pool, int m, int n, int k, float[] a, int ao, float[] b, int bo, float[] c, int co,
                             float alpha, float beta) {
        pool.parallelFor(n, pool.grain(n, 64), (n0, n1, worker) -> {
            for (int j = n0; j < n1; j++) {
                int bj = bo + j * k;
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
                int i = 0, ub = Vec.bound(k);
                for (; i < ub; i += L) {
                    FloatVector w = FloatVector.fromArray(F, b, bj + i);
                    s0 = FloatVector.fromArray(F, a, ao + i).fma(w, s0);
                    if (m > 1) s1 = FloatVector.fromArray(F, a, ao + k + i).fma(w, s1);
                    if (m > 2) s2 = FloatVector.fromArray(F, a, ao + 2 * k + i).fma(w, s2);
                    if (m > 3) s3 = FloatVector.fromArray(F, a, ao + 3 * k + i).fma(w, s3);
                }
                for (int r = 0; r < m; r++) {
                    float dot = Vec.sum(r == 0 ? s0 : r == 1 ? s1 : r == 2 ? s2 : s3);
                    for (int t = i; t < k; t++) dot += a[ao + r * k + t] * b[bj + t];
                    int ci = co + r * n + j;
                    c[ci] = alpha * dot + (beta == 0 ? 0 : beta * c[ci]);
                }
            }
        });
    }
}
