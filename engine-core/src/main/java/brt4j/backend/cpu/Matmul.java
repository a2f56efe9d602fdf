package brt4j.backend.cpu;

/**
 * Single-precision GEMM, c = alpha * op(a) . op(b) + beta * c, in the GotoBLAS/BLIS shape: the k dimension in
 * blocks of at most KC, a kc x nc block of op(b) (1 MiB, {@link #nBlock}) packed into NR-wide column panels, MC rows
 * of op(a) at a time, and a register-tiled MR x NR microkernel (6 rows times two vectors: 12 independent FMA
 * accumulators, as OpenBLAS's Haswell/Zen kernel). An mc x kc block of op(a) is packed into MR-row slivers in one of
 * two layouts, each with its kernel, and either way a trip of the kernel reads one run of a: a transposed a interleaved
 * by k (the MR values of each k step side by side, as it stores them), a plain a grouped by STEPS k steps (each row's
 * STEPS values side by side, so that the pack copies vectors; its last rows go to a four-row kernel,
 * {@link #sliverWidth}). The packs pad kc with zeros to a whole number of STEPS (adding 0 * 0 to a sum changes no bit:
 * an accumulator that starts at +0 is never -0). The kernel leaves its tile in a per-thread scratch array, which
 * {@link MatmulKernels#flush} fuses into c; edge tiles (rows past m are zero in the sliver) write only their valid
 * part. Each sliver of a row block sweeps a run of {@link #RUN} panels (the six-row kernel in one call) before the
 * next sliver starts on them.
 *
 * <p>Threads split c by columns (whole NR panels: each packs its part of b and all of a) or by rows (its part of a,
 * all of b), whichever packs less per thread ({@link #splitByColumns}); split by columns over one k block, they take
 * chunks of columns from a {@link ColumnRanges}, which evens out a late start or a slower core, and share one pack of
 * a ({@link SharedPack}). Scratch lives as long as the backend: nothing is allocated per tile.
 *
 * <p>Numerics: each element is a float32 sum over one k block in order, then fused into c (c + alpha * sum); the k
 * blocks depend on k only, and the tile an element falls in computes it the same way, so the bits do not depend on
 * the thread count or the split.
 *
 * <p>This file is the driver: the blocking, the order of the tiles and the split between threads. The microkernels
 * and the tile's way into c are in {@link MatmulKernels}, the packing of both operands in {@link MatmulPacking}.
 */
final class Matmul {
    private static final int L = Vec.L;
    static final int MR = 6;
    /** k steps per trip of the kernel's loop, written out (C2 does not unroll a body this size). */
    static final int STEPS = 4;
    static final int UNROLL = 16;
    static final int NR = 2 * L;
    /** Panels of b packed together, just before their first use (4 x 64 KiB at kc 1024: in L2). */
    static final int PANEL_GROUP = 4;
    /**
     * Panels of b that each sliver of a sweeps, in one kernel call, before the next sliver starts on them. The sliver
     * (12 KiB at kc 512, 24 at 1024) stays in L1 for all of them, the run of b (256 or 512 KiB) in L2, and the
     * sliver's tiles of c go out along its rows, RUN x 64 bytes each. The six-row kernel takes the run in one call,
     * which checks the sliver's bounds once for all its panels ({@link MatmulKernels#kernelGrouped}). Against one
     * panel at a time over every sliver of the row block: runs with a kernel call a tile read +3-5% at kc 512
     * (session 16) but 0.96-1.03 at kc 1024; with a call a run, +0.2-2.8% on one thread and +0.5-2.7% on two at the
     * issue's three shapes and 512x256x1024 (cpu-backend.md, session 18). The order of the tiles changes no sum.
     */
    static final int RUN = 8;
    static { assert RUN % PANEL_GROUP == 0; }   // a run packs whole groups
    /**
     * k in one block up to 1024: each c tile is then read and written once (a second k block reloads it from L3,
     * ~10% of that block's kernel time in perf); the 64 KiB b panel streams from L2. Against KC 512 / MC 120: +3-5%
     * at k = 1024 (same-JVM alternation). MC keeps the packed block of a (MC x KC) at half of the 512 KiB L2.
     */
    static final int KC = Math.max(UNROLL, Integer.getInteger("brt.gemm.kc", 1024) / UNROLL * UNROLL);
    static final int MC = Math.max(MR, Integer.getInteger("brt.gemm.mc", 60) / MR * MR);
    static final int NC = Math.max(NR, Integer.getInteger("brt.gemm.nc", 1024) / NR * NR);
    /**
     * Floats of packed op(b) in one column block (1 MiB): a deep k block takes fewer columns, NC at kc 256, 512 at kc
     * 512, 256 at kc 1024. Against NC at every kc, alternated call by call in one JVM (ABBA, medians of 60 pair
     * ratios): 512x1024x4096 +1.6-4.4% on one thread and +4-6% on two, 1024^3 +2.5-3.6%, 512x512x2048 +2-3%; with
     * kc 256 the full NC stays (512 columns read 0.98 at 512x256x1024). Column blocks fix no sum's order (k blocks
     * do), so the bits stay the same.
     */
    static final int PACKED_B = 1 << 18;
    /**
     * A product wider than its column block packs its rows of op(a) once for all its column blocks, up to this many
     * floats a thread (16 MiB); past that, again for each block.
     */
    static final int KEEP_A_MAX = 1 << 22;

    private final CpuPool pool;
    private final float[][] packs, tile;
    /** The packs of a product whose threads take column chunks from a {@link ColumnRanges}. */
    private final SharedPack sharedPack = new SharedPack();

    Matmul(CpuPool pool) {
        this.pool = pool;
        int t = pool.threads();
        packs = new float[t][];
        tile = new float[t][MR * NR * RUN];   // a tile per panel of a run
    }

    /** The column block for k blocks of kcMax: PACKED_B floats of packed op(b), a whole number of panels, at most NC. */
    static int nBlock(int kcMax) {
        return Math.max(NR, Math.min(NC, PACKED_B / kcMax / NR * NR));
    }

    /**
     * Rows of the sliver that starts where {@code left} rows of a row block remain: MR, except that a plain op(a)'s
     * last rows go to the four-row kernel, which takes 0.74 of the six-row kernel's time: the last eight rows as two
     * slivers of four, four rows or fewer as one. 512 rows are then 84 x 6 + 2 x 4, 85.5 six-row kernels' time
     * instead of 86 (85 and one for the last two rows). A sliver of four is packed four rows wide.
     */
    static int sliverWidth(int left, boolean transA) {
        return !transA && (left == MR + 2 || left <= 4) ? 4 : MR;
    }

    /**
     * The k block size for a product of inner dimension k: k in about equal blocks of at most KC, rounded up to a
     * whole number of UNROLL steps. (The rounding dates from a kernel with a remainder loop, which the kernel no longer
     * has; it stays because the blocks fix the summation order.)
     */
    static int kBlock(int k) {
        // (kc up to KC, a multiple of UNROLL and so of STEPS: a block's padded kc never exceeds it)
        int blocks = (k + KC - 1) / KC;
        int kc = (k + blocks - 1) / blocks;
        return Math.min(KC, (kc + UNROLL - 1) / UNROLL * UNROLL);
    }

    /**
     * c = alpha op(a) op(b) + beta c for each of {@code batch} products stored one after another. Synchronized: the
     * pool lets one calling thread in at a time, but a product's {@link #sharedPack} is set up before its threads
     * start, so two callers take turns for the whole call.
     */
    synchronized void gemm(int batch, int m, int n, int k, float[] a, boolean transA, float[] b, boolean transB,
                           float[] c, float alpha, float beta) {
        if (m == 0 || n == 0) return;
        long flops = 2L * m * n * k;
        int threads = pool.threads();
        if (batch > 1 && (flops < (1L << 22) || batch >= 2 * threads)) {
            // many small products: one thread per product
            pool.parallelFor(batch, 1, (s, e, w) -> {
                for (int bi = s; bi < e; bi++) {
                    block(m, n, k, a, bi * m * k, transA, b, bi * k * n, transB, c, bi * m * n, alpha, beta, 0, m, 0, n, null, w);
                }
            });
            return;
        }
        for (int bi = 0; bi < batch; bi++) {
            int ao = bi * m * k, bo = bi * k * n, co = bi * m * n;
            int parts = flops < (1L << 18) ? 1 : threads;
            int nPanels = (n + NR - 1) / NR, mSlivers = (m + MR - 1) / MR;
            if (parts == 1) {
                pool.parallelFor(1, 1, (s, e, w) -> block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, 0, m, 0, n, null, w));
            } else if (k > 0 && splitByColumns(m, n, k, transA, transB, parts) && kBlock(k) >= k
                    && (long) mSlivers * MR * kBlock(k) <= KEEP_A_MAX) {
                // one k block: the threads take column chunks from a shared ColumnRanges, so the one that starts late
                // or runs slower does less (two threads on this VM ended a product 725 us apart, median, of 10.4 ms;
                // with stealing 74-300 us), and pack op(a) once between them (SharedPack)
                int kc = kBlock(k);
                ColumnRanges ranges = new ColumnRanges(nPanels, parts, nBlock(kc) / NR, 1);
                sharedPack.prepare(parts, kc * nBlock(kc), MC * kc, (long) mSlivers * MR * kc, (m + MC - 1) / MC);
                pool.parallelFor(parts, 1, (s, e, w) -> block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta,
                        0, m, 0, n, ranges, w));
            } else if (splitByColumns(m, n, k, transA, transB, parts)) {
                int per = (nPanels + parts - 1) / parts;
                pool.parallelFor(parts, 1, (s, e, w) -> {
                    for (int p = s; p < e; p++) {
                        int n0 = Math.min(n, p * per * NR), n1 = Math.min(n, (p + 1) * per * NR);
                        if (n0 < n1) block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, 0, m, n0, n1, null, w);
                    }
                });
            } else {
                int per = (mSlivers + parts - 1) / parts;
                pool.parallelFor(parts, 1, (s, e, w) -> {
                    for (int p = s; p < e; p++) {
                        int m0 = Math.min(m, p * per * MR), m1 = Math.min(m, (p + 1) * per * MR);
                        if (m0 < m1) block(m, n, k, a, ao, transA, b, bo, transB, c, co, alpha, beta, m0, m1, 0, n, null, w);
                    }
                });
            }
        }
    }

    /**
     * Whether threads split a product by column panels (each packs all of op(a) and its share of op(b)) rather than
     * by row slivers (its share of op(a), all of op(b)): the split with less packing time per thread, each operand's
     * floats weighted by what its pack costs (ns a float, measured on this machine's 512-8192 x 256-1024 operands:
     * plain a 0.14-0.17, transposed a 0.35-0.66, plain b 0.23-0.24, transposed b 0.34-0.36). The training step's
     * x W^T at 512 x 256 then splits by columns, its dy W by rows.
     */
    static boolean splitByColumns(int m, int n, int k, boolean transA, boolean transB, int parts) {
        int nPanels = (n + NR - 1) / NR, mSlivers = (m + MR - 1) / MR;
        if (nPanels < 2 * parts || mSlivers < 2 * parts) return nPanels >= mSlivers;
        double packA = (double) m * k * (transA ? 0.5 : 0.15), packB = (double) k * n * (transB ? 0.35 : 0.24);
        return packA + packB / parts < packA / parts + packB;
    }

    /**
     * Computes rows [m0, m1) x columns [n0, n1) of one product on worker w: all of those columns, in blocks of
     * {@link #nBlock}, when {@code ranges} is null, else the chunks that w takes from it (then k is one k block, and
     * op(a) is packed once for all chunks and all threads, in {@link #sharedPack}).
     */
    private void block(int m, int n, int k, float[] a, int ao, boolean transA, float[] b, int bo, boolean transB,
                       float[] c, int co, float alpha, float beta, int m0, int m1, int n0, int n1, ColumnRanges ranges,
                       int w) {
        if (k == 0) {
            for (int i = m0; i < m1; i++) {
                for (int j = n0; j < n1; j++) {
                    int ci = co + i * n + j;
                    c[ci] = beta == 0 ? 0 : beta * c[ci];
                }
            }
            return;
        }
        int kcMax = kBlock(k), ncMax = nBlock(kcMax);
        int rows = (m1 - m0 + MR - 1) / MR * MR;   // a packed row of a takes kcMax floats at most
        // several column blocks: op(a) packed once for all of them (512x1024x4096 has sixteen of 256 columns); with
        // column chunks, once for all threads (the gemm checked that it fits)
        boolean keep = ranges != null || (n1 - n0 > ncMax && (long) rows * kcMax <= KEEP_A_MAX);
        // one array for both packs (b's block, then a's): the kernel then keeps one base register, not two
        float[] pk;
        int bBase, aRegion;
        if (ranges != null) {
            pk = sharedPack.array;
            bBase = sharedPack.bBase(w);
            aRegion = sharedPack.aBase();
        } else {
            int size = kcMax * ncMax + (keep ? rows : MC) * kcMax;
            pk = packs[w];
            if (pk == null || pk.length < size) packs[w] = pk = new float[size];
            bBase = 0;
            aRegion = kcMax * ncMax;
        }
        float[] ct = tile[w];
        int icBlocks = (m1 - m0 + MC - 1) / MC;
        // k blocks outermost, so a kept pack of a serves every column block of its k block; each element still
        // sums its k blocks in order
        for (int pc = 0; pc < k; pc += kcMax) {
            int kc = Math.min(kcMax, k - pc), kcp = (kc + STEPS - 1) / STEPS * STEPS;   // kcp: padded with zeros
            boolean set = pc == 0 && beta == 0f;     // first block over beta 0: store without reading c
            boolean packedA = false;
            for (int jc = n0, nc; ; jc += nc) {
                if (ranges == null) {
                    if (jc >= n1) break;
                    nc = Math.min(ncMax, n1 - jc);
                } else {
                    long chunk = ranges.next(w);
                    if (chunk < 0) break;
                    jc = ColumnRanges.first(chunk) * NR;
                    nc = Math.min(n1, ColumnRanges.end(chunk) * NR) - jc;
                }
                // c = beta c first, so the microkernel has a single store: c += alpha acc (beta 0: old c, even NaN,
                // is ignored)
                if (pc == 0 && beta != 1f && beta != 0f) {
                    for (int i = m0; i < m1; i++) {
                        for (int j = co + i * n + jc, e = j + nc; j < e; j++) c[j] *= beta;
                    }
                }
                // threads sharing op(a)'s pack start at opposite ends of the rows, so each packs about half and
                // seldom finds a block the other is packing
                boolean downwards = ranges != null && !packedA && w % 2 == 1;
                for (int q = 0; q < icBlocks; q++) {
                    int ib = downwards ? icBlocks - 1 - q : q, ic = m0 + ib * MC;
                    int mc = Math.min(MC, m1 - ic), aBase = aRegion + (keep ? (ic - m0) * kcp : 0);
                    if (ranges != null) {
                        int take = sharedPack.take(ib);
                        if (take == SharedPack.PACK_OWN) aBase = sharedPack.ownA(w);   // being packed: a copy
                        if (take != SharedPack.PACKED) {
                            MatmulPacking.packA(a, ao, transA, m, k, ic, mc, pc, kc, kcp, pk, aBase);
                        }
                        if (take == SharedPack.PACK_IT) sharedPack.done(ib);
                    } else if (!keep || !packedA) {
                        MatmulPacking.packA(a, ao, transA, m, k, ic, mc, pc, kc, kcp, pk, aBase);
                    }
                    // a run of panels at a time, each sliver across all of them before the next; b is packed just
                    // before the run's first use, while the first rows of a run over it: the fresh panels are still
                    // in L1/L2 (OpenBLAS's driver does the same)
                    for (int jg = 0; jg < nc; jg += RUN * NR) {
                        int jgEnd = Math.min(nc, jg + RUN * NR), panels = (jgEnd - jg + NR - 1) / NR;
                        for (int jr = jg; q == 0 && jr < jgEnd; jr += PANEL_GROUP * NR) {
                            MatmulPacking.packB(b, bo, transB, k, n, pc, kc, kcp, jc, jr, Math.min(nc, jr + PANEL_GROUP * NR),
                                    pk, bBase);
                        }
                        for (int ir = 0, width; ir < mc; ir += width) {
                            width = sliverWidth(mc - ir, transA);
                            int cOff = co + jc + jg + (ic + ir) * n;
                            if (!transA && width == MR) {
                                // the six-row kernel takes the whole run in one call, a tile per panel (written
                                // here: through a helper in MatmulKernels, two threads read 2% slower, session 18)
                                MatmulKernels.kernelGrouped(kcp, panels, pk, aBase + ir * kcp, bBase + jg * kcp, ct);
                                for (int j = 0; j < panels; j++) {
                                    MatmulKernels.out(ct, j * MR * NR, width, mc - ir, nc - jg - j * NR, c,
                                            cOff + j * NR, n, alpha, set);
                                }
                            } else {
                                for (int j = 0; j < panels; j++) {
                                    MatmulKernels.tile(transA, width, mc - ir, nc - jg - j * NR, kcp, pk,
                                            aBase + ir * kcp, bBase + (jg + j * NR) * kcp, ct, c, cOff + j * NR, n,
                                            alpha, set);
                                }
                            }
                        }
                    }
                }
                packedA = true;
            }
        }
    }

}
