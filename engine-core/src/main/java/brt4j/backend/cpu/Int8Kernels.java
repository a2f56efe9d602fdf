package brt4j.backend.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Int8 weight kernels for inference. y = x W^T with W int8 per-row-scaled: for each output column n the row W[n]
 * is read once as bytes, widened to float lanes and multiplied into up to four rows of x at a time, then scaled by
 * scale[n]. Generation (one row of x) is memory-bound, so reading a quarter of the bytes is the point.
 */
final class Int8Kernels {
    private Int8Kernels() {}

    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    /** Bytes that widen to exactly one float vector; null below 256-bit floats (no 32-bit byte vectors): scalar. */
    private static final VectorSpecies<Byte> B = Vec.F.vectorBitSize() < 256 ? null
            : ByteVector.SPECIES_PREFERRED.withShape(jdk.incubator.vector.VectorShape.forBitSize(Vec.F.vectorBitSize() / 4));

    static Int8Tensor quantize(CpuBackend owner, float[] w, int rows, int cols) {
        byte[] q = new byte[rows * cols];
        float[] scale = new float[rows];
        for (int r = 0; r < rows; r++) {
            float max = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[r * cols + c]));
            float s = max / 127f;
            scale[r] = s;
            float inv = s == 0 ? 0 : 1 / s;
            for (int c = 0; c < cols; c++) q[r * cols + c] = (byte) Math.max(-127, Math.min(127, Math.round(w[r * cols + c] * inv)));
        }
        return new Int8Tensor(owner, q, scale, rows, cols);
    }

    static float[] dequantize(Int8Tensor t) {
        int rows = t.rows(), cols = t.cols();
        float[] w = new float[rows * cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) w[r * cols + c] = t.q[r * cols + c] * t.scale[r];
        return w;
    }

    /** c[m, n] = alpha * sum_k a[m, k] * W[n, k] + beta * c[m, n]. */
    static void matmulTransB(CpuPool pool, int m, int n, int k, float[] a, Int8Tensor w, float[] c, float alpha, float beta) {
        // A chunk is worth handing to another thread only with some 64k multiply-adds in it.
        pool.parallelFor(n, Math.max(pool.grain(n, 16), 65536 / Math.max(1, k * Math.min(m, 4))), (n0, n1, worker) -> {
            float[] dots = new float[4];   // once per task, not per output
            // Weight row j outer, rows of x inner: each int8 row is read from memory once while x stays in cache.
            for (int j = n0; j < n1; j++) {
                float s = w.scale[j] * alpha;
                for (int m0 = 0; m0 < m; m0 += 4) {
                    int rowsHere = Math.min(4, m - m0);
                    dot4(a, m0, rowsHere, k, w.q, j * k, dots);
                    for (int r = 0; r < rowsHere; r++) {
                        int ci = (m0 + r) * n + j;
                        c[ci] = dots[r] * s + (beta == 0 ? 0 : beta * c[ci]);
                    }
                }
            }
        });
    }

    /** dots[r] = a[m0 + r] . q[qo .. qo + k) for r < rows. */
    private static void dot4(float[] a, int m0, int rows, int k, byte[] q, int qo, float[] dots) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int bound = B == null ? 0 : k - k % L;
        int a0 = m0 * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
        for (int i = 0; i < bound; i += L) {
            FloatVector wv = (FloatVector) ByteVector.fromArray(B, q, qo + i).convertShape(VectorOperators.B2F, F, 0);
            s0 = FloatVector.fromArray(F, a, a0 + i).fma(wv, s0);
            if (rows > 1) s1 = FloatVector.fromArray(F, a, a1 + i).fma(wv, s1);
            if (rows > 2) s2 = FloatVector.fromArray(F, a, a2 + i).fma(wv, s2);
            if (rows > 3) s3 = FloatVector.fromArray(F, a, a3 + i).fma(wv, s3);
        }
        dots[0] = Vec.sum(s0);
        dots[1] = rows > 1 ? Vec.sum(s1) : 0;
        dots[2] = rows > 2 ? Vec.sum(s2) : 0;
        dots[3] = rows > 3 ? Vec.sum(s3) : 0;
        for (int i = bound; i < k; i++) {
            float wq = q[qo + i];
            for (int r = 0; r < rows; r++) dots[r] += a[(m0 + r) * k + i] * wq;
        }
    }

    static void embedding(Int8Tensor table, int[] ids, float[] out) {
        int v = table.rows(), cols = table.cols();
        for (int r = 0; r < ids.length; r++) {
            int row = Math.floorMod(ids[r], v);
            float s = table.scale[row];
            for (int c = 0; c < cols; c++) out[r * cols + c] = table.q[row * cols + c] * s;
        }
    }
}
