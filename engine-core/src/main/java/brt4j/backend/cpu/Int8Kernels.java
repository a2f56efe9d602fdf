package brt4j.backend.cpu;

import brt4j.backend.RowSource;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Int8 weight kernels for inference. y = x W^T with W int8 per-row-scaled (w = q * scale[row]). Generation (one
 * row of x) is memory-bound: each weight row is read once as bytes, widened to float lanes, dotted with x and scaled.
 * A prompt's block (many rows of x) is compute-bound: panels of W are dequantized once and go through the float32
 * GEMM. In between, each weight row is read once and dotted with every row of x from cache.
 * Below {@link #BLOCKED_ROWS} rows a row's result does not depend on how many rows run with it.
 */
final class Int8Kernels {
    private Int8Kernels() {}

    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    /** Bytes that widen to exactly one float vector; null below 256-bit floats (no 32-bit byte vectors): scalar. */
    private static final VectorSpecies<Byte> B = Vec.F.vectorBitSize() < 256 ? null
            : ByteVector.SPECIES_PREFERRED.withShape(jdk.incubator.vector.VectorShape.forBitSize(Vec.F.vectorBitSize() / 4));

    /** Float32 weights staged at a time when quantizing from a {@link RowSource} (256 KB; at least one row). */
    static final int STAGING_FLOATS = 1 << 16;
    /** The staged rows, kept per thread between weights: a whole checkpoint load allocates them once. */
    private static final ThreadLocal<float[]> STAGING = ThreadLocal.withInitial(() -> new float[STAGING_FLOATS]);

    static Int8Tensor quantize(CpuBackend owner, float[] w, int rows, int cols) {
        byte[] q = new byte[rows * cols];
        float[] scale = new float[rows];
        quantizeRows(w, 0, rows, cols, q, scale);
        return new Int8Tensor(owner, q, scale, rows, cols);
    }

    /** The same int8 weights as {@link #quantize(CpuBackend, float[], int, int)}, one block of rows staged at a time. */
    static Int8Tensor quantize(CpuBackend owner, int rows, int cols, RowSource src) {
        byte[] q = new byte[rows * cols];
        float[] scale = new float[rows];
        float[] staging = STAGING.get();
        if (staging.length < cols) STAGING.set(staging = new float[cols]);   // a row longer than the usual block
        int block = Math.clamp(staging.length / cols, 1, rows);
        for (int r0 = 0; r0 < rows; r0 += block) {
            int n = Math.min(block, rows - r0);
            src.read(r0, n, staging);
            quantizeRows(staging, r0, n, cols, q, scale);
        }
        return new Int8Tensor(owner, q, scale, rows, cols);
    }

    /**
     * The one quantization rule, shared by both paths so they give the same bits: rows [row0, row0 + n) of W, held
     * in {@code w[0 ..< n cols]}, become q and scale at row0. Per row, scale = max |w| / 127, q = round(w / scale).
     */
    private static void quantizeRows(float[] w, int row0, int n, int cols, byte[] q, float[] scale) {
        for (int i = 0; i < n; i++) {
            int wo = i * cols, qo = (row0 + i) * cols;
            float max = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[wo + c]));
            float s = max / 127f;
            scale[row0 + i] = s;
            float inv = s == 0 ? 0 : 1 / s;
            for (int c = 0; c < cols; c++) q[qo + c] = (byte) Math.max(-127, Math.min(127, Math.round(w[wo + c] * inv)));
        }
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
    /** The blocked path's dequantized panel and product, per calling thread. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][]{new float[0], new float[0]});

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
        float[][] sc = SCRATCH.get();   // kept between calls: a fresh megabyte per product cost 10% of a prompt
        if (sc[0].length < rows * k) sc[0] = new float[rows * k];
        if (sc[1].length < m * rows) sc[1] = new float[m * rows];
        float[] panel = sc[0], part = sc[1];
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
     * One row of x (a generated token): each int8 weight row is read once, in memory order, widened to float lanes
     * and dotted with x over four FMA chains; memory-bound, so a quarter of float32's bytes is the point. (Four
     * weight rows at once, each with one chain, streamed at half this speed from memory.)
     */
    private static void oneRow(CpuPool pool, int n, int k, float[] a, Int8Tensor w, float[] c, float alpha, float beta) {
        pool.parallelFor(n, SkinnyGemm.grain(pool, n, k, MIN_CHUNK_WEIGHTS), (n0, n1, worker) -> {
            float[] lanes = new float[L];
            for (int j = n0; j < n1; j++) {
                float dot = rowDot(a, 0, w.q, j * k, k, lanes);
                c[j] = dot * (w.scale[j] * alpha) + (beta == 0 ? 0 : beta * c[j]);
            }
        });
    }

    /** A few rows of x (a short chunk, a small batch): each weight row read once from memory, then from cache. */
    private static void fewRows(CpuPool pool, int m, int n, int k, float[] a, Int8Tensor w, float[] c, float alpha, float beta) {
        pool.parallelFor(n, SkinnyGemm.grain(pool, n, (long) k * m, MIN_CHUNK_WEIGHTS), (n0, n1, worker) -> {
            float[] lanes = new float[L];
            for (int j = n0; j < n1; j++) {
                float s = w.scale[j] * alpha;
                for (int r = 0; r < m; r++) {
                    int ci = r * n + j;
                    c[ci] = rowDot(a, r * k, w.q, j * k, k, lanes) * s + (beta == 0 ? 0 : beta * c[ci]);
                }
            }
        });
    }

    /**
     * a[ao .. ao + k) . q[qo .. qo + k): four vector chains, their sum's lanes left to right, then the scalar tail.
     * The one order every row is summed in, alone or with others (a row's result must not depend on its batch).
     */
    private static float rowDot(float[] a, int ao, byte[] q, int qo, int k, float[] lanes) {
        int bound = vectorBound(k), bound4 = bound - bound % (4 * L), i = 0;
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        for (; i < bound4; i += 4 * L) {
            s0 = FloatVector.fromArray(F, a, ao + i).fma(widen(q, qo + i), s0);
            s1 = FloatVector.fromArray(F, a, ao + i + L).fma(widen(q, qo + i + L), s1);
            s2 = FloatVector.fromArray(F, a, ao + i + 2 * L).fma(widen(q, qo + i + 2 * L), s2);
            s3 = FloatVector.fromArray(F, a, ao + i + 3 * L).fma(widen(q, qo + i + 3 * L), s3);
        }
        for (; i < bound; i += L) s0 = FloatVector.fromArray(F, a, ao + i).fma(widen(q, qo + i), s0);
        float s = 0;
        if (bound > 0) {
            s0.add(s1).add(s2.add(s3)).intoArray(lanes, 0);
            for (int l = 0; l < L; l++) s += lanes[l];
        }
        for (; i < k; i++) s += a[ao + i] * q[qo + i];
        return s;
    }

    /** L int8 weights widened to float lanes. */
    private static FloatVector widen(byte[] q, int o) {
        return (FloatVector) ByteVector.fromArray(B, q, o).convertShape(VectorOperators.B2F, F, 0);
    }

    /** Where the vector loop over k stops: no byte species (below 256-bit floats) means all scalar. */
    private static int vectorBound(int k) { return B == null ? 0 : k - k % L; }

    static void embedding(Int8Tensor table, int[] ids, float[] out) {
        int v = table.rows(), cols = table.cols();
        for (int r = 0; r < ids.length; r++) {
            int row = Math.floorMod(ids[r], v);
            float s = table.scale[row];
            for (int c = 0; c < cols; c++) out[r * cols + c] = table.q[row * cols + c] * s;
        }
    }
}
