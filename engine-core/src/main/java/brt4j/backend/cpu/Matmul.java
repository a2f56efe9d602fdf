package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision GEMM, c = alpha * op(a) . op(b) + beta * c, in the GotoBLAS/BLIS shape: the k dimension in
 * blocks of KC, a KC x NC block of op(b) packed into NR-wide column panels, an MC x KC block of op(a) packed into
 * MR-high row panels, and a register-tiled MR x NR microkernel (MR = 4 rows times two vectors: 8 independent FMA
 * accumulators, which covers the FMA latency). Packing absorbs the four transpose combinations, so one microkernel
 * serves them all; edge tiles are computed on zero-padded panels into a scratch tile and only their valid part is
 * written. Work is split over threads by column (or, for tall thin products, row) ranges of c; each thread packs
 * its own panels into scratch kept for the life of the backend, so nothing is allocated per tile.
 *
 * <p>Numerics: float32 accumulation inside one KC block, then added to c, i.e. blocked accumulation in float32.
 */
final class Matmul {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    static final int MR = 4;
    static final int UNROLL = 16;
    static final int NR = 2 * L;
    static final int KC = Integer.getInteger("brt.gemm.kc", 256);
    static final int MC = Integer.getInteger("brt.gemm.mc", 72) / MR * MR;
    static final int NC = Integer.getInteger("brt.gemm.nc", 1024) / NR * NR;

    private final CpuPool pool;
    private final float[][] packA, packB, tile;

    Matmul(CpuPool pool) {
        this.pool = pool;
        int t = pool.threads();
        packA = new float[t][];
        packB = new float[t][];
        tile = new float[t][MR * NR];
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
            if (parts == 1) {
                pool.parallelFor(1, 1, (s, e, w) -> block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, 0, m, 0, n, w));
            } else if (n >= m || m < parts * MR) {
                int nPanels = (n + NR - 1) / NR, per = (nPanels + parts - 1) / parts;
                pool.parallelFor(parts, 1, (s, e, w) -> {
                    for (int p = s; p < e; p++) {
                        int n0 = Math.min(n, p * per * NR), n1 = Math.min(n, (p + 1) * per * NR);
                        if (n0 < n1) block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, 0, m, n0, n1, w);
                    }
                });
            } else {
                int mPanels = (m + MR - 1) / MR, per = (mPanels + parts - 1) / parts;
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
        float[] pa = packA[w], pb = packB[w];
        int needA = MC * KC, needB = KC * NC;
        if (pa == null) packA[w] = pa = new float[needA];
        if (pb == null) packB[w] = pb = new float[needB];
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
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                boolean set = pc == 0 && beta == 0f;     // first block over beta 0: store without reading c
                packB(b, bo, transB, k, n, pc, kc, jc, nc, pb);
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    packA(a, ao, transA, m, k, ic, mc, pc, kc, pa);
                    for (int jr = 0; jr < nc; jr += NR) {
                        int nr = Math.min(NR, nc - jr);
                        int bOff = jr * kc;
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mr = Math.min(MR, mc - ir);
                            int aOff = ir * kc;
                            int cOff = co + (ic + ir) * n + jc + jr;
                            if (mr == MR && nr == NR) {
                                if (set) kernelSet(kc, pa, aOff, pb, bOff, c, cOff, n, alpha);
                                else kernel(kc, pa, aOff, pb, bOff, c, cOff, n, alpha);
                            } else {
                                java.util.Arrays.fill(ct, 0f);
                                kernel(kc, pa, aOff, pb, bOff, ct, 0, NR, 1f);
                                for (int y = 0; y < mr; y++) {
                                    for (int x = 0; x < nr; x++) {
                                        int ci = cOff + y * n + x;
                                        c[ci] = set ? alpha * ct[y * NR + x] : c[ci] + alpha * ct[y * NR + x];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** Packs op(b)[pc:pc+kc, jc:jc+nc] into NR-wide panels: panel p holds kc rows of NR values, zero padded. */
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

    /** Packs op(a)[ic:ic+mc, pc:pc+kc] into MR-high panels: panel r holds kc columns of MR values, zero padded. */
    private static void packA(float[] a, int ao, boolean transA, int m, int k, int ic, int mc, int pc, int kc, float[] pa) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int dst = ir * kc;
            int i0 = ic + ir;
            if (!transA) {
                for (int y = 0; y < mr; y++) {
                    int src = ao + (i0 + y) * k + pc;
                    for (int p = 0; p < kc; p++) pa[dst + p * MR + y] = a[src + p];
                }
            } else {
                // a is stored k x m: element (i, p) at a[p * m + i]
                for (int p = 0; p < kc; p++) {
                    int src = ao + (pc + p) * m + i0, d = dst + p * MR;
                    for (int y = 0; y < mr; y++) pa[d + y] = a[src + y];
                }
            }
            if (mr < MR) {
                for (int p = 0; p < kc; p++) {
                    for (int y = mr; y < MR; y++) pa[dst + p * MR + y] = 0;
                }
            }
        }
    }

    /**
     * The MR x NR microkernel: c[4 x 2L] += alpha * (pa panel . pb panel), 8 independent FMA accumulators.
     * Shape and unrolling were measured, not guessed (AVX2, 16 vector registers, JDK 25 C2): 6 x 2 vectors (12
     * accumulators, the classic Haswell shape) spilled and ran at ~40 GFLOP/s on one core; 4 x 2 vectors with the
     * k loop unrolled by {@link #UNROLL} through an inner counted loop (which C2 unrolls fully; a hand-written
     * straight-line unroll ran slower) reached 80-90 of the 115 peak. One store form per method: a kernel with beta
     * branches in its stores ran 10x slower once both branches were taken (C2 stopped inlining the stores).
     */
    private static void kernel(int kc, float[] pa, int ao, float[] pb, int bo, float[] c, int co, int ldc, float alpha) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int p = 0;
        for (; p + UNROLL <= kc; p += UNROLL) {
            for (int u = 0; u < UNROLL; u++) {
                int bi = bo + (p + u) * NR, ai = ao + (p + u) * MR;
                FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L);
                FloatVector a = FloatVector.broadcast(F, pa[ai]);
                c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
                a = FloatVector.broadcast(F, pa[ai + 1]);
                c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
                a = FloatVector.broadcast(F, pa[ai + 2]);
                c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
                a = FloatVector.broadcast(F, pa[ai + 3]);
                c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
            }
        }
        for (; p < kc; p++) {
            int bi = bo + p * NR, ai = ao + p * MR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L);
            FloatVector a = FloatVector.broadcast(F, pa[ai]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(F, pa[ai + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(F, pa[ai + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(F, pa[ai + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
        }
        store(c00, c01, c, co, alpha);
        store(c10, c11, c, co + ldc, alpha);
        store(c20, c21, c, co + 2 * ldc, alpha);
        store(c30, c31, c, co + 3 * ldc, alpha);
    }

    private static void store(FloatVector v0, FloatVector v1, float[] c, int o, float alpha) {
        v0.fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, c, o)).intoArray(c, o);
        v1.fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, c, o + L)).intoArray(c, o + L);
    }

    /** {@link #kernel} that overwrites c: c = alpha * acc, used for the first k block when beta is 0. */
    private static void kernelSet(int kc, float[] pa, int ao, float[] pb, int bo, float[] c, int co, int ldc, float alpha) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        int p = 0;
        for (; p + UNROLL <= kc; p += UNROLL) {
            for (int u = 0; u < UNROLL; u++) {
                int bi = bo + (p + u) * NR, ai = ao + (p + u) * MR;
                FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L);
                FloatVector a = FloatVector.broadcast(F, pa[ai]);
                c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
                a = FloatVector.broadcast(F, pa[ai + 1]);
                c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
                a = FloatVector.broadcast(F, pa[ai + 2]);
                c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
                a = FloatVector.broadcast(F, pa[ai + 3]);
                c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
            }
        }
        for (; p < kc; p++) {
            int bi = bo + p * NR, ai = ao + p * MR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bi), b1 = FloatVector.fromArray(F, pb, bi + L);
            FloatVector a = FloatVector.broadcast(F, pa[ai]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(F, pa[ai + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(F, pa[ai + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(F, pa[ai + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
        }
        storeSet(c00, c01, c, co, alpha);
        storeSet(c10, c11, c, co + ldc, alpha);
        storeSet(c20, c21, c, co + 2 * ldc, alpha);
        storeSet(c30, c31, c, co + 3 * ldc, alpha);
    }

    private static void storeSet(FloatVector v0, FloatVector v1, float[] c, int o, float alpha) {
        v0.mul(alpha).intoArray(c, o);
        v1.mul(alpha).intoArray(c, o + L);
    }
}
