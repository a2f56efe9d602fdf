package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * c = alpha * a . b^T + beta * c for one row of a: generation's one token a step. Packing b, as {@link Matmul} does,
 * would copy the whole weight matrix for every token; here each row of b (a weight row, contiguous in k) is read once
 * and dotted with a, so the product runs at the speed of reading the weights, which is what bounds generation.
 * Threads split the columns of c.
 *
 * <p>Only for a single row: a row's result must not depend on how many rows run together (evaluating a batch of
 * documents gives the same bits as evaluating each alone), and this kernel sums in another order than {@link Matmul}.
 * A batch of rows never has exactly one row where it matters (a segment has at least W tokens).
 */
final class SkinnyGemm {
    private SkinnyGemm() {}

    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;

    static void vectorTimesTransposed(CpuPool pool, int n, int k, float[] a, float[] b, float[] c, float alpha, float beta) {
        pool.parallelFor(n, pool.grain(n, 64), (n0, n1, worker) -> {
            for (int j = n0; j < n1; j++) {
                int bj = j * k;
                FloatVector s = FloatVector.zero(F);
                int i = 0, ub = Vec.bound(k);
                for (; i < ub; i += L) s = FloatVector.fromArray(F, a, i).fma(FloatVector.fromArray(F, b, bj + i), s);
                float dot = Vec.sum(s);
                for (; i < k; i++) dot += a[i] * b[bj + i];
                c[j] = alpha * dot + (beta == 0 ? 0 : beta * c[j]);
            }
        });
    }
}
