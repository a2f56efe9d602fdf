package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision GEMM, c = alpha * op(a) . op(b) + beta * c, in the GotoBLAS/BLIS shape: the k dimension in
 * blocks of at most KC, a kc x NC block of op(b) packed into NR-wide column panels, MC rows of op(a) at a time, and a
 * register-tiled MR x NR microkernel (5 rows times two vectors: 10 independent FMA accumulators). op(a) is read in
 * place, MR rows at a time (each row a contiguous stream), when it is not transposed; a transposed a is first packed
 * into mc row-major rows of kc values, so one microkernel serves all four transpose combinations. Edge tiles run the
 * same kernel on zero-padded copies into a scratch tile and only their valid part is written.
 *
 * <p>Threads split c by columns (whole NR panels) so each packs only its own part of b and reads a shared; products
 * too narrow for that, and those with a transposed a (whose packing costs more than b's), split by rows. Per-thread
 * scratch lives as long as the backend: nothing is allocated per tile.
 *
 * <p>Numerics: each element is a float32 sum over one k block in order, then fused into c (c + alpha * sum); the k
 * blocks depend on k only, and the tile an element falls in computes it the same way, so the bits do not depend on
 * the thread count or the split.
 */
final class Matmul {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    static final int MR = 5;
    static final int UNROLL = 16;
    static final int NR = 2 * L;
    static final int KC = Integer.getInteger("brt.gemm.kc", 512);
    static final int MC = Math.max(MR, Integer.getInteger("brt.gemm.mc", 120) / MR * MR);
    static final int NC = Math.max(NR, Integer.getInteger("brt.gemm.nc", 1024) / NR * NR);

    private final CpuPool pool;
    private final float[][] packA, packB, edgeA, tile;

    Matmul(CpuPool pool) {
        this.pool = pool;
        int t = pool.threads();
        packA = new float[t][];
        packB = new float[t][];
        edgeA = new float[t][];
        tile = new float[t][MR * NR];
    }

    /**
     * The k block size for a product of inner dimension k: k in about equal blocks of at most KC, rounded up to a
     * whole number of UNROLL steps (a block that runs the kernel's remainder loop made C2 compile the hot loop 4x
     * slower), so only a k that is not a multiple of UNROLL has a remainder, in its last block.
     */
    static int kBlock(int k) {
        int blocks = (k + KC - 1) / KC;
        int kc = (k + blocks - 1) / blocks;
        return Math.min(KC, (kc + UNROLL - 1) / UNROLL * UNROLL);
    }

    void gemm(int batch, int m, int n, int k, float[] a, boolean transA, float[] b, boolean transB, float[] c,
              float alpha, float beta) {
        if (m == 0 || n == 0) return;
        long flops = 2L * m * n * k;
        int threads = pool.threads();
        if (batch > 1 && (flops < (1L << 22) || batch >= 2 * threads)) {
            // many small products: one thread per product
            pool.parallelFor(batch, 1, (s, e, w) -> {
                for (int bi = s; bi < e; bi++) {
                    block(m, n, k, a, bi * m * k, transA, b, bi * k * n, transB, c, bi * m * n, alpha, beta, 0, m, 0, n, w);
                }
            });
            return;
        }
        for (int bi = 0; bi < batch; bi++) {
            int ao = bi * m * k, bo = bi * k * n, co = bi * m * n;
            int parts = flops < (1L << 18) ? 1 : threads;
            int nPanels = (n + NR - 1) / NR, mSlivers = (m + MR - 1) / MR;
            if (parts == 1) {
                pool.parallelFor(1, 1, (s, e, w) -> block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, 0, m, 0, n, w));
            } else if (!(transA && mSlivers >= 2 * parts) && (nPanels >= 2 * parts || nPanels >= mSlivers)) {
                int per = (nPanels + parts - 1) / parts;
                pool.parallelFor(parts, 1, (s, e, w) -> {
                    for (int p = s; p < e; p++) {
                        int n0 = Math.min(n, p * per * NR), n1 = Math.min(n, (p + 1) * per * NR);
                        if (n0 < n1) block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, 0, m, n0, n1, w);
                    }
                });
            } else {
                int per = (mSlivers + parts - 1) / parts;
                pool.parallelFor(parts, 1, (s, e, w) -> {
                    for (int p = s; p < e; p++) {
                        int m0 = Math.min(m, p * per * MR), m1 = Math.min(m, (p + 1) * per * MR);
                        if (m0 < m1) block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, m0, m1, 0, n, w);
                    }
                });
            }
        }
    }

    /** Computes rows [m0, m1) x columns [n0, n1) of one product on worker w. */
    private void block(int m, int n, int k, float[] a, int ao, boolean transA, float[] b, int bo, boolean transB,
                       float[] c, int co, float alpha, float beta, int m0, int m1, int n0, int n1, int w) {
        if (k == 0) {
            for (int i = m0; i < m1; i++) {
                for (int j = n0; j < n1; j++) {
                    int ci = co + i * n + j;
                    c[ci] = beta == 0 ? 0 : beta * c[ci];
                }
            }
            return;
        }
        int kcMax = kBlock(k);
        float[] pa = packA[w], pb = packB[w], ea = edgeA[w];
        if (transA && (pa == null || pa.length < MC * kcMax)) packA[w] = pa = new float[MC * kcMax];
        if (pb == null || pb.length < kcMax * NC) packB[w] = pb = new float[kcMax * NC];
        if (ea == null || ea.length < MR * kcMax) edgeA[w] = ea = new float[MR * kcMax];
        float[] ct = tile[w];
        // c = beta c first, so the microkernel has a single store: c += alpha acc (beta 0: old c, even NaN, is ignored)
        if (beta != 1f && beta != 0f) {
            for (int i = m0; i < m1; i++) {
                int o = co + i * n;
                for (int j = n0; j < n1; j++) c[o + j] *= beta;
            }
        }
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += kcMax) {
                int kc = Math.min(kcMax, k - pc);
                boolean set = pc == 0 && beta == 0f;     // first block over beta 0: store without reading c
                packB(b, bo, transB, k, n, pc, kc, jc, nc, pb);
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    // the rows of op(a)[ic:ic+mc, pc:pc+kc]: in place (row stride k), or packed row-major (stride kc)
                    float[] as = a;
                    int aBase = ao + ic * k + pc, lda = k;
                    if (transA) {
                        packTransposedA(a, ao, m, ic, mc, pc, kc, pa);
                        as = pa; aBase = 0; lda = kc;
                    }
                    int fullRows = mc - mc % MR;
                    for (int jr = 0; jr < nc; jr += NR) {
                        int nr = Math.min(NR, nc - jr);
                        int bOff = jr * kc;
                        int cCol = co + jc + jr;
                        for (int ir = 0; ir < fullRows; ir += MR) {
                            int cOff = cCol + (ic + ir) * n;
                            if (nr == NR) {
                                if (set) kernelSet(kc, as, aBase + ir * lda, lda, pb, bOff, c, cOff, n, alpha);
                                else kernel(kc, as, aBase + ir * lda, lda, pb, bOff, c, cOff, n, alpha);
                            } else {
                                edge(kc, as, aBase + ir * lda, lda, pb, bOff, ct, c, cOff, n, MR, nr, alpha, set);
                            }
                        }
                        if (fullRows < mc) {
                            // the last rows, fewer than MR: a zero-padded copy of them, so the kernel reads no further
                            int mr = mc - fullRows;
                            if (jr == 0) copyRows(as, aBase + fullRows * lda, lda, mr, kc, ea);
                            edge(kc, ea, 0, kc, pb, bOff, ct, c, cCol + (ic + fullRows) * n, n, mr, nr, alpha, set);
                        }
                    }
                }
            }
        }
    }

    /** An edge tile: the kernel into the zeroed scratch tile, then only the valid mr x nr part into c. */
    private static void edge(int kc, float[] a, int ao, int lda, float[] pb, int bo, float[] ct, float[] c, int cOff,
                             int ldc, int mr, int nr, float alpha, boolean set) {
        java.util.Arrays.fill(ct, 0f);
        kernel(kc, a, ao, lda, pb, bo, ct, 0, NR, 1f);
        for (int y = 0; y < mr; y++) {
            for (int x = 0; x < nr; x++) {
                int ci = cOff + y * ldc + x;
                float v = ct[y * NR + x];
                c[ci] = set ? v * alpha : Math.fma(v, alpha, c[ci]);     // the same roundings as kernel/kernelSet
            }
        }
    }

    /** Copies mr < MR rows of kc values (row stride lda) into dst as MR rows of stride kc, the rest zero. */
    private static void copyRows(float[] a, int ao, int lda, int mr, int kc, float[] dst) {
        for (int y = 0; y < MR; y++) {
            if (y < mr) System.arraycopy(a, ao + y * lda, dst, y * kc, kc);
            else java.util.Arrays.fill(dst, y * kc, (y + 1) * kc, 0f);
        }
    }

    /**
     * Packs op(b)[pc:pc+kc, jc:jc+nc] into NR-wide panels: panel p holds kc rows of NR values, zero padded. A
     * transposed b (stored n x k) is read a row at a time and scattered with stride NR inside the panel (kc x NR
     * floats, 32 KiB at kc 512); filling a panel row at a time, or eight columns at a time, measured 3-6% slower.
     */
    private static void packB(float[] b, int bo, boolean transB, int k, int n, int pc, int kc, int jc, int nc, float[] pb) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int dst = jr * kc;
            int j0 = jc + jr;
            if (!transB) {
                if (nr == NR) {
                    for (int p = 0; p < kc; p++) {
                        int src = bo + (pc + p) * n + j0;
                        FloatVector.fromArray(F, b, src).intoArray(pb, dst + p * NR);
                        FloatVector.fromArray(F, b, src + L).intoArray(pb, dst + p * NR + L);
                    }
                } else {
                    for (int p = 0; p < kc; p++) {
                        int src = bo + (pc + p) * n + j0, d = dst + p * NR;
                        for (int x = 0; x < nr; x++) pb[d + x] = b[src + x];
                        for (int x = nr; x < NR; x++) pb[d + x] = 0;
                    }
                }
            } else {
                // b is stored n x k: element (p, j) at b[j * k + p]
                for (int x = 0; x < nr; x++) {
                    int src = bo + (j0 + x) * k + pc;
                    for (int p = 0; p < kc; p++) pb[dst + p * NR + x] = b[src + p];
                }
                for (int x = nr; x < NR; x++) {
                    for (int p = 0; p < kc; p++) pb[dst + p * NR + x] = 0;
                }
            }
        }
    }

    /**
     * Packs op(a)[ic:ic+mc, pc:pc+kc] of a transposed a (stored k x m) into mc rows of kc values, row-major, eight
     * rows at a time: writing all mc rows per p would scatter over lines 4 * kc bytes apart, which fall into a few
     * L1 sets and evict each other.
     */
    private static void packTransposedA(float[] a, int ao, int m, int ic, int mc, int pc, int kc, float[] pa) {
        for (int y0 = 0; y0 < mc; y0 += 8) {
            int y1 = Math.min(mc, y0 + 8);
            for (int p = 0; p < kc; p++) {
                int src = ao + (pc + p) * m + ic;
                for (int y = y0; y < y1; y++) pa[y * kc + p] = a[src + y];
            }
        }
    }

    /**
     * The MR x NR microkernel: c[5 x 2L] += alpha * (a rows . pb panel), 10 independent FMA accumulators; row r of
     * the sliver is a[ao + r * lda + q] (the matrix itself, or a packed sliver with lda = kc). Shape and unrolling
     * were measured in isolation, not guessed (AVX2, 16 vector registers, JDK 25 C2, GFLOP/s on one core of ~95
     * reachable): 6 x 2 vectors (12 accumulators, the Haswell shape) spills under C2 (~42); 4 x 2 reaches 72-82;
     * 5 x 2 (10 accumulators, more slack over the 4-cycle FMA latency of two pipes) 80-85, with the k loop unrolled
     * by {@link #UNROLL} through an inner counted loop that C2 unrolls fully (8: 74-80). Reading a's rows in place
     * runs as fast as a packed interleaved sliver, so a is not packed unless transposed. One store form per method:
     * a kernel with beta branches in its stores ran 10x slower once both branches were taken.
     */
    private static void kernel(int kc, float[] a, int ao, int lda, float[] pb, int bo, float[] c, int co, int ldc, float alpha) {
        FloatVector z = FloatVector.zero(F), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z;
        int a0 = ao, a1 = ao + 1 * lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda, a4 = ao + 4 * lda;
        int p = 0;
        for (; p + UNROLL <= kc; p += UNROLL) {
            for (int u = 0; u < UNROLL; u++) {
                int q = p + u, bi = bo + q * NR;
                FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L), x;
                x = FloatVector.broadcast(F, a[a0 + q]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
                x = FloatVector.broadcast(F, a[a1 + q]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
                x = FloatVector.broadcast(F, a[a2 + q]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
                x = FloatVector.broadcast(F, a[a3 + q]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
                x = FloatVector.broadcast(F, a[a4 + q]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            }
        }
        for (; p < kc; p++) {
            int q = p, bi = bo + q * NR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L), x;
            x = FloatVector.broadcast(F, a[a0 + q]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a[a1 + q]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a[a2 + q]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a[a3 + q]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(F, a[a4 + q]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
        }
        store(c00, c01, c, co, alpha);
        store(c10, c11, c, co + 1 * ldc, alpha);
        store(c20, c21, c, co + 2 * ldc, alpha);
        store(c30, c31, c, co + 3 * ldc, alpha);
        store(c40, c41, c, co + 4 * ldc, alpha);
    }

    private static void store(FloatVector v0, FloatVector v1, float[] c, int o, float alpha) {
        v0.fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, c, o)).intoArray(c, o);
        v1.fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, c, o + L)).intoArray(c, o + L);
    }

    /** {@link #kernel} that overwrites c: c = alpha * acc, used for the first k block when beta is 0. */
    private static void kernelSet(int kc, float[] a, int ao, int lda, float[] pb, int bo, float[] c, int co, int ldc, float alpha) {
        FloatVector z = FloatVector.zero(F), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z;
        int a0 = ao, a1 = ao + 1 * lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda, a4 = ao + 4 * lda;
        int p = 0;
        for (; p + UNROLL <= kc; p += UNROLL) {
            for (int u = 0; u < UNROLL; u++) {
                int q = p + u, bi = bo + q * NR;
                FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L), x;
                x = FloatVector.broadcast(F, a[a0 + q]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
                x = FloatVector.broadcast(F, a[a1 + q]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
                x = FloatVector.broadcast(F, a[a2 + q]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
                x = FloatVector.broadcast(F, a[a3 + q]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
                x = FloatVector.broadcast(F, a[a4 + q]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            }
        }
        for (; p < kc; p++) {
            int q = p, bi = bo + q * NR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L), x;
            x = FloatVector.broadcast(F, a[a0 + q]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(F, a[a1 + q]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(F, a[a2 + q]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(F, a[a3 + q]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(F, a[a4 + q]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
        }
        storeSet(c00, c01, c, co, alpha);
        storeSet(c10, c11, c, co + 1 * ldc, alpha);
        storeSet(c20, c21, c, co + 2 * ldc, alpha);
        storeSet(c30, c31, c, co + 3 * ldc, alpha);
        storeSet(c40, c41, c, co + 4 * ldc, alpha);
    }

    private static void storeSet(FloatVector v0, FloatVector v1, float[] c, int o, float alpha) {
        v0.mul(alpha).intoArray(c, o);
        v1.mul(alpha).intoArray(c, o + L);
    }
}
