package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * c = alpha * a . b^T + beta * c for one row of a: generation's one token a step. Packing b, as {@link Matmul} does,
 * would copy the whole weight matrix for every token; here each row of b (a weight row, contiguous in k) is read once
 * and dotted with a, so the product runs at the speed of reading the weights, which is what bounds generation.
 * One weight row at a time, so the weights stream through memory in order (four rows at once ran at half the speed
 * from memory in the int8 kernel), with four independent FMA chains over k to hide the FMA latency.
 *
 * <p>A row's lane sums go through a scratch array, added left to right, not {@code lane(i)} calls (which C2 leaves
 * as a slow loop: they took most of the int8 kernel's time); a result does not depend on the thread count.
 *
 * <p>Only for a single row: a row's result must not depend on how many rows run together (evaluating a batch of
 * documents gives the same bits as evaluating each alone), and this kernel sums in another order than {@link Matmul}.
 * A batch of rows never has exactly one row where it matters (a segment has at least W tokens).
 */
final class SkinnyGemm {
    private SkinnyGemm() {}

    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    /**
     * Weight bytes a chunk must read before it is handed to another thread: waking a worker and waiting for it costs
     * tens of microseconds, about what one core needs to stream 1 MB, so smaller products stay on the calling thread
     * (two threads must never be slower than one for generation).
     */
    static final int MIN_CHUNK_BYTES = 1 << 20;

    /** Rows of b per chunk: a multiple of 4, with at least {@code minPerChunk} of what a row holds {@code perRow} of. */
    static int grain(CpuPool pool, int n, long perRow, long minPerChunk) {
        long rows = Math.max(pool.grain(n, 16), (minPerChunk + perRow - 1) / Math.max(1, perRow));
        return (int) Math.min(n, (rows + 3) / 4 * 4);
    }

    static void vectorTimesTransposed(CpuPool pool, int n, int k, float[] a, float[] b, float[] c, float alpha, float beta) {
        pool.parallelFor(n, grain(pool, n, 4L * k, MIN_CHUNK_BYTES), (n0, n1, worker) -> {
            float[] lanes = new float[L];
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
                s0.add(s1).add(s2.add(s3)).intoArray(lanes, 0);
                store(c, j, finish(lanes, 0, a, b, bj, ub, k), alpha, beta);
            }
        });
    }

    /** The lanes [lo, lo + L) added left to right, then the scalar tail a[ub..k) . b[bo + ub..). */
    static float finish(float[] lanes, int lo, float[] a, float[] b, int bo, int ub, int k) {
        float s = 0;
        for (int l = 0; l < L; l++) s += lanes[lo + l];
        for (int i = ub; i < k; i++) s += a[i] * b[bo + i];
        return s;
    }

    static void store(float[] c, int j, float dot, float alpha, float beta) {
        c[j] = alpha * dot + (beta == 0 ? 0 : beta * c[j]);
    }
}
