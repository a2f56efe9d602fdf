package brt4j.backend.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Int8 weight kernels for inference. y = x W^T with W int8 per-row-scaled (w = q * scale[row]). Generation (one
 * row of x) is memory-bound: each weight row is read once as bytes, widened to float lanes, dotted with x and scaled,
 * four weight rows at a time. A prompt's block (many rows of x) is compute-bound: panels of W are dequantized once
 * and go through the float32 GEMM. In between, each weight row is dotted with up to four rows of x at a time.
 * Below {@link #BLOCKED_ROWS} rows a row's result does not depend on how many rows run with it.
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

    /** From this many rows of x (a prompt's block), dequantized panels of W go through {@link Matmul}. */
    static final int BLOCKED_ROWS = 16;
    /**
     * Int8 weights a one-token chunk must hold before it is handed to another thread. Widening bytes to floats makes
     * this kernel compute-bound (about 13 G weights/s on one core here, from cache), so a second core helps it more
     * than it helps the float32 kernel: half a million weights is some 40 microseconds, above a hand-off's cost.
     */
    static final int MIN_CHUNK_WEIGHTS = 1 << 19;
    /** Weight rows dequantized at a time on the blocked path. */
    static final int PANEL_ROWS = 256;

    /** c[m, n] = alpha * sum_k a[m, k] * W[n, k] + beta * c[m, n]. */
    static void matmulTransB(CpuPool pool, Matmul matmul, int m, int n, int k, float[] a, Int8Tensor w, float[] c,
                             float alpha, float beta) {
        if (m >= BLOCKED_ROWS) blocked(matmul, m, n, k, a, w, c, alpha, beta);
        else if (m == 1) oneRow(pool, n, k, a, w, c, alpha, beta);
        else fewRows(pool, m, n, k, a, w, c, alpha, beta);
    }

    /**
     * A block of rows (prompt ingestion): a panel of PANEL_ROWS weight rows is dequantized to float32 once and
     * multiplied into all m rows by the packed GEMM, so the per-row cost is the float32 product's; the dequantizing
     * (n k conversions) is 1/m of it. The panel's columns of c are gathered from a scratch [m, panel] product.
     */
    private static void blocked(Matmul matmul, int m, int n, int k, float[] a, Int8Tensor w, float[] c, float alpha, float beta) {
        int rows = Math.min(PANEL_ROWS, n);
        float[] panel = new float[rows * k], part = new float[m * rows];
        for (int n0 = 0; n0 < n; n0 += rows) {
            int nb = Math.min(rows, n - n0);
            int bound = vectorBound(k);
            for (int r = 0; r < nb; r++) {
                float s = w.scale[n0 + r];
                int qo = (n0 + r) * k, po = r * k, i = 0;
                for (; i < bound; i += L) widen(w.q, qo + i).mul(s).intoArray(panel, po + i);
                for (; i < k; i++) panel[po + i] = w.q[qo + i] * s;   // exactly the dequantized weight, as above
            }
            matmul.gemm(1, m, nb, k, a, false, panel, true, part, alpha, 0);
            for (int i = 0; i < m; i++) {
                int co = i * n + n0, po = i * nb;
                for (int j = 0; j < nb; j++) c[co + j] = part[po + j] + (beta == 0 ? 0 : beta * c[co + j]);
            }
        }
    }

    /**
     * One row of x (a generated token): four int8 weight rows at a time, each read once as bytes and widened to
     * float lanes, four independent FMA chains; memory-bound, so a quarter of float32's bytes is the point.
     */
    private static void oneRow(CpuPool pool, int n, int k, float[] a, Int8Tensor w, float[] c, float alpha, float beta) {
        byte[] q = w.q;
        pool.parallelFor(n, SkinnyGemm.grain(pool, n, k, MIN_CHUNK_WEIGHTS), (n0, n1, worker) -> {
            float[] lanes = new float[4 * L];
            int bound = vectorBound(k), j = n0;
            for (; j + 4 <= n1; j += 4) {
                int q0 = j * k, q1 = q0 + k, q2 = q1 + k, q3 = q2 + k;
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
                for (int i = 0; i < bound; i += L) {
                    FloatVector av = FloatVector.fromArray(F, a, i);
                    s0 = av.fma(widen(q, q0 + i), s0);
                    s1 = av.fma(widen(q, q1 + i), s1);
                    s2 = av.fma(widen(q, q2 + i), s2);
                    s3 = av.fma(widen(q, q3 + i), s3);
                }
                s0.intoArray(lanes, 0);
                s1.intoArray(lanes, L);
                s2.intoArray(lanes, 2 * L);
                s3.intoArray(lanes, 3 * L);
                for (int r = 0; r < 4; r++) {
                    float dot = finish(lanes, r * L, a, 0, q, (j + r) * k, bound, k);
                    SkinnyGemm.store(c, j + r, dot * (w.scale[j + r] * alpha), 1f, beta);
                }
            }
            for (; j < n1; j++) {
                FloatVector s = FloatVector.zero(F);
                for (int i = 0; i < bound; i += L) s = FloatVector.fromArray(F, a, i).fma(widen(q, j * k + i), s);
                s.intoArray(lanes, 0);
                SkinnyGemm.store(c, j, finish(lanes, 0, a, 0, q, j * k, bound, k) * (w.scale[j] * alpha), 1f, beta);
            }
        });
    }

    /** A few rows of x (a short chunk, a small batch): each weight row read once and dotted with up to four rows. */
    private static void fewRows(CpuPool pool, int m, int n, int k, float[] a, Int8Tensor w, float[] c, float alpha, float beta) {
        pool.parallelFor(n, SkinnyGemm.grain(pool, n, (long) k * m, MIN_CHUNK_WEIGHTS), (n0, n1, worker) -> {
            float[] lanes = new float[4 * L];
            int bound = vectorBound(k);
            for (int j = n0; j < n1; j++) {
                float s = w.scale[j] * alpha;
                for (int m0 = 0; m0 < m; m0 += 4) {
                    int rowsHere = Math.min(4, m - m0);
                    dot4(a, m0, rowsHere, k, w.q, j * k, bound, lanes);
                    for (int r = 0; r < rowsHere; r++) {
                        float dot = finish(lanes, r * L, a, (m0 + r) * k, w.q, j * k, bound, k);
                        int ci = (m0 + r) * n + j;
                        c[ci] = dot * s + (beta == 0 ? 0 : beta * c[ci]);
                    }
                }
            }
        });
    }

    /** lanes[r * L ..] = the vector partial sums of a[m0 + r] . q[qo ..] over [0, bound), for r < rows. */
    private static void dot4(float[] a, int m0, int rows, int k, byte[] q, int qo, int bound, float[] lanes) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int a0 = m0 * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
        for (int i = 0; i < bound; i += L) {
            FloatVector wv = widen(q, qo + i);
            s0 = FloatVector.fromArray(F, a, a0 + i).fma(wv, s0);
            if (rows > 1) s1 = FloatVector.fromArray(F, a, a1 + i).fma(wv, s1);
            if (rows > 2) s2 = FloatVector.fromArray(F, a, a2 + i).fma(wv, s2);
            if (rows > 3) s3 = FloatVector.fromArray(F, a, a3 + i).fma(wv, s3);
        }
        s0.intoArray(lanes, 0);
        s1.intoArray(lanes, L);
        s2.intoArray(lanes, 2 * L);
        s3.intoArray(lanes, 3 * L);
    }

    /** L int8 weights widened to float lanes. */
    private static FloatVector widen(byte[] q, int o) {
        return (FloatVector) ByteVector.fromArray(B, q, o).convertShape(VectorOperators.B2F, F, 0);
    }

    /** Where the vector loop over k stops: no byte species (below 256-bit floats) means all scalar. */
    private static int vectorBound(int k) { return B == null ? 0 : k - k % L; }

    /** One dot product's lanes added left to right, then the scalar tail over [bound, k): the same order for any m. */
    private static float finish(float[] lanes, int lo, float[] a, int ao, byte[] q, int qo, int bound, int k) {
        float s = 0;
        if (bound > 0) for (int l = 0; l < L; l++) s += lanes[lo + l];
        for (int i = bound; i < k; i++) s += a[ao + i] * q[qo + i];
        return s;
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
