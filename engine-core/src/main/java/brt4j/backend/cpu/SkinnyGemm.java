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
        // A chunk is worth handing to another thread only with some 64k multiply-adds in it.
        pool.parallelFor(n, Math.max(pool.grain(n, 16), 65536 / Math.max(1, k)), (n0, n1, worker) -> {
            int ub4 = k - k % (4 * L), ub = Vec.bound(k);
            for (int j = n0; j < n1; j++) {
                int bj = j * k;
                // Four accumulators: one FMA chain would wait on its own latency instead of on memory.
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
                int i = 0;
                for (; i < ub4; i += 4 * L) {
                    s0 = FloatVector.fromArray(F, a, i).fma(FloatVector.fromArray(F, b, bj + i), s0);
                    s1 = FloatVector.fromArray(F, a, i + L).fma(FloatVector.fromArray(F, b, bj + i + L), s1);
                    s2 = FloatVector.fromArray(F, a, i + 2 * L).fma(FloatVector.fromArray(F, b, bj + i + 2 * L), s2);
                    s3 = FloatVector.fromArray(F, a, i + 3 * L).fma(FloatVector.fromArray(F, b, bj + i + 3 * L), s3);
                }
                for (; i < ub; i += L) s0 = FloatVector.fromArray(F, a, i).fma(FloatVector.fromArray(F, b, bj + i), s0);
                float dot = Vec.sum(s0.add(s1).add(s2.add(s3)));
                for (; i < k; i++) dot += a[i] * b[bj + i];
                c[j] = alpha * dot + (beta == 0 ? 0 : beta * c[j]);
            }
        });
    }
}
