package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.invoke.VarHandle;

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
 * {@link #flush} fuses into c; edge tiles (rows past m are zero in the sliver) write only their valid part.
 * {@link #panelRun} sets the order of the tiles: a panel over every sliver, or each sliver over a run of panels.
 *
 * <p>Threads split c by columns (whole NR panels: each packs its part of b and all of a) or by rows (its part of a,
 * all of b), whichever packs less per thread ({@link #splitByColumns}); split by columns over one k block, they take
 * chunks of columns from a {@link ColumnRanges}, which evens out a late start or a slower core, and share one pack of
 * a ({@link SharedPack}). Scratch lives as long as the backend: nothing is allocated per tile.
 *
 * <p>Numerics: each element is a float32 sum over one k block in order, then fused into c (c + alpha * sum); the k
 * blocks depend on k only, and the tile an element falls in computes it the same way, so the bits do not depend on
 * the thread count or the split.
 */
final class Matmul {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    static final int MR = 6;
    /** k steps per trip of the kernel's loop, written out (C2 does not unroll a body this size). */
    static final int STEPS = 4;
    static final int UNROLL = 16;
    static final int NR = 2 * L;
    /**
     * Whether the kernels fence their rows apart. On x86 a load-load fence emits no instruction, but C2 keeps loads on
     * their side of it, so each row's broadcast stays between the FMAs around it; without it C2 hoists a trip's
     * broadcasts and b loads to its top and, with 12 accumulators in 16 registers, spills (cpu-backend.md, session
     * 13). Elsewhere (ARM: 32 vector registers, and there the fence is a real barrier) they run unfenced. The fence is
     * called directly, not through a helper: VarHandle's is force-inlined, and a helper of ours was not (C2's inlining
     * budget, NodeCountInliningCutoff, ran out in the kernel and the calls boxed the accumulators: 15 GFLOP/s).
     */
    private static final boolean X86 = System.getProperty("os.arch").matches("amd64|x86_64");
    /** Panels of b packed together, just before their first use (4 x 64 KiB at kc 1024: in L2). */
    static final int PANEL_GROUP = 4;
    /** Panels in a run ({@link #panelRun}) over k blocks of up to 512 steps. */
    static final int RUN = 8;
    static { assert RUN % PANEL_GROUP == 0; }   // a run packs whole groups
    /** The p slots of a sliver that a vector of L values written at one p's slot reaches past its own MR values. */
    private static final int SPILL = Math.max(0, (L - MR + MR - 1) / MR);
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
    /** A row's STEPS values of one group in a plain op(a)'s sliver: copied as one vector ({@link #packA}). */
    private static final VectorSpecies<Float> GROUP = FloatVector.SPECIES_128;
    static { assert GROUP.length() == STEPS; }

    private final CpuPool pool;
    private final float[][] packs, tile;
    /** The packs of a product whose threads take column chunks from a {@link ColumnRanges}. */
    private final SharedPack sharedPack = new SharedPack();

    Matmul(CpuPool pool) {
        this.pool = pool;
        int t = pool.threads();
        packs = new float[t][];
        tile = new float[t][MR * NR];
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
     * How many panels of b each sliver of a sweeps before the next sliver starts on them. Over a k block of up to 512
     * steps, RUN: the sliver (12 KiB at kc 512) stays in L1 for all of them, the run of b (256 KiB) in L2, and the
     * sliver's tiles of c go out along its rows, RUN x 64 bytes each, rather than 60 rows apart: +3-5% at 512x512x2048
     * on one and two threads. Deeper blocks take one panel at a time (the panel, 64 KiB at kc 1024, serves every
     * sliver of the row block), since runs of 4 or 8 panels read 0.96-1.03 there (a sliver is then 24 KiB, most of
     * L1). cpu-backend.md, session 16. The order of the tiles changes no sum.
     */
    static int panelRun(int kcp) {
        return kcp <= 512 ? RUN : 1;
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
                        if (take != SharedPack.PACKED) packA(a, ao, transA, m, k, ic, mc, pc, kc, kcp, pk, aBase);
                        if (take == SharedPack.PACK_IT) sharedPack.done(ib);
                    } else if (!keep || !packedA) {
                        packA(a, ao, transA, m, k, ic, mc, pc, kc, kcp, pk, aBase);
                    }
                    // b is packed a few panels ahead of their first use, while the first rows of a run over them:
                    // the fresh panels are still in L1/L2 (OpenBLAS's driver does the same). Two loops, not one
                    // with runs of one panel: that one read 0.97 at kc 1024 (cpu-backend.md, session 16)
                    int run = panelRun(kcp);
                    for (int jr = 0; run == 1 && jr < nc; jr += NR) {
                        // one panel at a time, over every sliver of the row block
                        if (q == 0 && jr % (PANEL_GROUP * NR) == 0) {
                            packB(b, bo, transB, k, n, pc, kc, kcp, jc, jr, Math.min(nc, jr + PANEL_GROUP * NR), pk, bBase);
                        }
                        for (int ir = 0, width; ir < mc; ir += width) {
                            width = sliverWidth(mc - ir, transA);
                            tile(transA, width, mc - ir, nc - jr, kcp, pk, aBase + ir * kcp, bBase + jr * kcp, ct, c,
                                    co + jc + jr + (ic + ir) * n, n, alpha, set);
                        }
                    }
                    for (int jg = 0; run > 1 && jg < nc; jg += run * NR) {
                        // a run of panels at a time, each sliver over all of them before the next
                        int jgEnd = Math.min(nc, jg + run * NR);
                        for (int jr = jg; q == 0 && jr < jgEnd; jr += PANEL_GROUP * NR) {
                            packB(b, bo, transB, k, n, pc, kc, kcp, jc, jr, Math.min(nc, jr + PANEL_GROUP * NR), pk, bBase);
                        }
                        for (int ir = 0, width; ir < mc; ir += width) {
                            width = sliverWidth(mc - ir, transA);
                            for (int jr = jg; jr < jgEnd; jr += NR) {
                                tile(transA, width, mc - ir, nc - jr, kcp, pk, aBase + ir * kcp, bBase + jr * kcp, ct,
                                        c, co + jc + jr + (ic + ir) * n, n, alpha, set);
                            }
                        }
                    }
                }
                packedA = true;
            }
        }
    }

    /**
     * One tile: a sliver of {@code width} rows (the first {@code rows} of them valid) times a panel (the first
     * {@code cols} columns valid) into c at cOff.
     */
    private static void tile(boolean transA, int width, int rows, int cols, int kcp, float[] pk, int aOff, int bOff,
                             float[] ct, float[] c, int cOff, int ldc, float alpha, boolean set) {
        if (transA) kernelInterleaved(kcp, pk, aOff, bOff, ct);
        else if (width == MR) kernelGrouped(kcp, pk, aOff, bOff, ct);
        else kernelFour(kcp, pk, aOff, bOff, ct);
        if (rows < width || cols < NR) edge(ct, c, cOff, ldc, Math.min(width, rows), Math.min(NR, cols), alpha, set);
        else flush(ct, c, cOff, ldc, alpha, set, width);
    }

    /** An edge tile: only the valid mr x nr part of the kernel's tile into c. */
    private static void edge(float[] ct, float[] c, int cOff, int ldc, int mr, int nr, float alpha, boolean set) {
        for (int y = 0; y < mr; y++) {
            for (int x = 0; x < nr; x++) {
                int ci = cOff + y * ldc + x;
                float v = ct[y * NR + x];
                c[ci] = set ? v * alpha : Math.fma(v, alpha, c[ci]);     // the same roundings as flush
            }
        }
    }

    /**
     * How many rows of a transposed a (stored k x m, rows 4m bytes apart) {@link #packA} reads per sweep: as many as
     * the 8-way L1 holds without evicting one of them. Rows whose stride is a multiple of 4 KiB all fall into the same
     * sets, so only 8 fit; each halving of that alignment doubles it, up to 32. Against a fixed 16, packing at m =
     * 1024 and 8192 (the FFN's and the output head's weight gradients) took 0.37 and 0.54 ns a float against 0.55
     * and 0.70, and at m = 256 0.26 against 0.29.
     */
    static int transposedRowsPerSweep(int m) {
        int stride = 4 * m, alias = stride & -stride;   // the largest power of two dividing the stride
        return alias == 0 || alias >= 4096 ? 8 : Math.min(32, 8 * 4096 / alias);
    }

    /**
     * Packs op(a)[ic:ic+mc, pc:pc+kc] into slivers of {@link #sliverWidth} rows (the sliver from row s0 at
     * pa[paOff + s0*kcp]), the rows past mc and the k steps from kc to kcp zero. A transposed a is interleaved by k
     * step, MR rows a sliver: for each p the sliver's MR values side by side, at p*MR + r, as a^T stores them. A plain
     * a is grouped by STEPS k steps: for each group the sliver's rows' STEPS values in turn, row r's at
     * p/STEPS*STEPS*width + r*STEPS + p%STEPS, so that each row is copied STEPS values (one 128-bit vector) at a time.
     * Either way a trip of the kernel reads one run of STEPS*width values.
     */
    private static void packA(float[] a, int ao, boolean transA, int m, int k, int ic, int mc, int pc, int kc, int kcp,
                              float[] pa, int paOff) {
        if (!transA) {
            packGrouped(a, ao, k, ic, mc, pc, kc, kcp, pa, paOff);
            return;
        }
        // a few rows of a (each mc contiguous values) at a time, so they stay in L1 while every sliver takes
        // its MR values from each: one sliver per sweep over all kc rows re-read each line per sliver
        int sweep = transposedRowsPerSweep(m);
        for (int p0 = 0; p0 < kc; p0 += sweep) {
            int p1 = Math.min(kc, p0 + sweep);
            for (int s0 = 0; s0 < mc; s0 += MR) {
                int mr = Math.min(MR, mc - s0), d = paOff + s0 * kcp;
                if (mr == MR) {
                    // a vector per p where the row has L values from src on: its L - MR extra values land in the
                    // following p's slots, which those p overwrite afterwards (p rising); the sliver's last p,
                    // whose extra would land in the next sliver, copy their values one by one
                    int p = p0, pv = ic + s0 + L <= m && L >= MR ? (p1 == kc ? Math.max(p0, kc - SPILL) : p1) : p0;
                    for (; p < pv; p++) FloatVector.fromArray(F, a, ao + (pc + p) * m + ic + s0).intoArray(pa, d + p * MR);
                    for (; p < p1; p++) {
                        int src = ao + (pc + p) * m + ic + s0, o = d + p * MR;
                        for (int r = 0; r < MR; r++) pa[o + r] = a[src + r];
                    }
                } else {
                    for (int p = p0; p < p1; p++) {
                        int src = ao + (pc + p) * m + ic + s0, o = d + p * MR;
                        for (int r = 0; r < MR; r++) pa[o + r] = r < mr ? a[src + r] : 0;
                    }
                }
            }
        }
        for (int s0 = 0; s0 < mc; s0 += MR) {
            int d = paOff + s0 * kcp;
            java.util.Arrays.fill(pa, d + kc * MR, d + kcp * MR, 0f);   // the k steps from kc to kcp
        }
    }

    /**
     * The grouped layout of a plain a ({@link #packA}) in slivers of {@link #sliverWidth} rows: a full group of a full
     * sliver is a vector copy per row.
     */
    private static void packGrouped(float[] a, int ao, int k, int ic, int mc, int pc, int kc, int kcp, float[] pa,
                                    int paOff) {
        int full = kc / STEPS * STEPS;
        for (int s0 = 0, width; s0 < mc; s0 += width) {
            width = sliverWidth(mc - s0, false);
            int mr = Math.min(width, mc - s0), d = paOff + s0 * kcp, p = 0;
            int r0 = ao + (ic + s0) * k + pc, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k, r4 = r3 + k, r5 = r4 + k;
            if (mr == MR) {
                for (; p < full; p += STEPS) {
                    int o = d + p * MR;
                    FloatVector.fromArray(GROUP, a, r0 + p).intoArray(pa, o);
                    FloatVector.fromArray(GROUP, a, r1 + p).intoArray(pa, o + STEPS);
                    FloatVector.fromArray(GROUP, a, r2 + p).intoArray(pa, o + 2 * STEPS);
                    FloatVector.fromArray(GROUP, a, r3 + p).intoArray(pa, o + 3 * STEPS);
                    FloatVector.fromArray(GROUP, a, r4 + p).intoArray(pa, o + 4 * STEPS);
                    FloatVector.fromArray(GROUP, a, r5 + p).intoArray(pa, o + 5 * STEPS);
                }
            } else if (mr == 4) {
                for (; p < full; p += STEPS) {
                    int o = d + p * 4;
                    FloatVector.fromArray(GROUP, a, r0 + p).intoArray(pa, o);
                    FloatVector.fromArray(GROUP, a, r1 + p).intoArray(pa, o + STEPS);
                    FloatVector.fromArray(GROUP, a, r2 + p).intoArray(pa, o + 2 * STEPS);
                    FloatVector.fromArray(GROUP, a, r3 + p).intoArray(pa, o + 3 * STEPS);
                }
            }
            // an edge sliver, and the last group of one whose kc is not a whole number of groups: value by value
            for (; p < kcp; p++) {
                int o = d + p / STEPS * STEPS * width + p % STEPS;
                for (int r = 0; r < width; r++) {
                    pa[o + r * STEPS] = r < mr && p < kc ? a[ao + (ic + s0 + r) * k + pc + p] : 0;
                }
            }
        }
    }

    /**
     * Packs columns [jr0, jr1) of op(b)[pc:pc+kc, jc:jc+nc] into NR-wide panels: panel jr holds kcp rows of NR
     * values at pb[pbOff + jr * kcp ..], zero padded (columns past n, rows past kc). A plain b is copied PANEL_GROUP
     * panels side by side per row, so each row's run is read whole (one panel at a time walks rows 4 * n bytes apart,
     * which fall into one L1 set: 1.5 against 0.8 ns a float at n = 4096). A transposed b (stored n x k) is a
     * transposed copy per panel ({@link Transpose}).
     */
    private static void packB(float[] b, int bo, boolean transB, int k, int n, int pc, int kc, int kcp, int jc, int jr0,
                              int jr1, float[] pb, int pbOff) {
        for (int jr = jr0; jr < jr1; jr += NR) {
            java.util.Arrays.fill(pb, pbOff + jr * kcp + kc * NR, pbOff + (jr + NR) * kcp, 0f);   // rows kc..kcp
        }
        if (!transB) {
            int full = jr0 + (jr1 - jr0) / NR * NR;
            if (full - jr0 == 4 * NR) {
                // a whole group of four panels, written out: 0.22 against 0.33 ns a float in isolation
                int d0 = pbOff + jr0 * kcp, d1 = d0 + NR * kcp, d2 = d1 + NR * kcp, d3 = d2 + NR * kcp;
                for (int p = 0; p < kc; p++) {
                    int src = bo + (pc + p) * n + jc + jr0, o = p * NR;
                    FloatVector.fromArray(F, b, src).intoArray(pb, d0 + o);
                    FloatVector.fromArray(F, b, src + L).intoArray(pb, d0 + o + L);
                    FloatVector.fromArray(F, b, src + NR).intoArray(pb, d1 + o);
                    FloatVector.fromArray(F, b, src + NR + L).intoArray(pb, d1 + o + L);
                    FloatVector.fromArray(F, b, src + 2 * NR).intoArray(pb, d2 + o);
                    FloatVector.fromArray(F, b, src + 2 * NR + L).intoArray(pb, d2 + o + L);
                    FloatVector.fromArray(F, b, src + 3 * NR).intoArray(pb, d3 + o);
                    FloatVector.fromArray(F, b, src + 3 * NR + L).intoArray(pb, d3 + o + L);
                }
            } else for (int p = 0; p < kc; p++) {
                int src = bo + (pc + p) * n + jc;
                for (int jr = jr0; jr < full; jr += NR) {
                    int d = pbOff + jr * kcp + p * NR;
                    FloatVector.fromArray(F, b, src + jr).intoArray(pb, d);
                    FloatVector.fromArray(F, b, src + jr + L).intoArray(pb, d + L);
                }
            }
            if (full < jr1) {
                int nr = jr1 - full;
                for (int p = 0; p < kc; p++) {
                    int src = bo + (pc + p) * n + jc + full, d = pbOff + full * kcp + p * NR;
                    for (int x = 0; x < nr; x++) pb[d + x] = b[src + x];
                    for (int x = nr; x < NR; x++) pb[d + x] = 0;
                }
            }
            return;
        }
        for (int jr = jr0; jr < jr1; jr += NR) {
            int nr = Math.min(NR, jr1 - jr), dst = pbOff + jr * kcp, j0 = jc + jr;
            // b is stored n x k: element (p, j) at b[j * k + p]
            Transpose.copy(b, bo + j0 * k + pc, k, nr, kc, pb, dst, NR);
            for (int x = nr; x < NR; x++) {
                for (int p = 0; p < kc; p++) pb[dst + p * NR + x] = 0;
            }
        }
    }

    /**
     * The MR x NR microkernel over a sliver of a plain op(a), grouped by STEPS k steps ({@link #packA}): tile = a
     * sliver . b panel, 12 independent FMA accumulators, both packs in one array pk (one base register); row r's
     * value for k step p at pk[ao + p/STEPS*STEPS*MR + r*STEPS + p%STEPS], the panel's NR values for k step p at
     * pk[bo + p*NR]. kc is a multiple of STEPS (the packs pad it with zeros). The loop takes STEPS k steps a trip with
     * every index a constant displacement from one counter: C2 then drops the range checks (the counter's range is
     * known). Counting half steps, both indices are one lea each (8 and 3 times the counter): the trip is 2 b loads,
     * 6 broadcasts and 12 FMAs a step plus 7 integer instructions, 1.81 instructions an FMA (OpenBLAS's: 1.75). What
     * a busy core punishes is that count (cpu-backend.md, sessions 10-11 and 14). The fences between the rows
     * ({@link #X86}) are what let C2 compile 12 accumulators without spilling.
     */
    static void kernelGrouped(int kc, float[] pk, int ao, int bo, float[] tile) {   // package-private: KernelPair
        FloatVector z = FloatVector.zero(F), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z,
                c40 = z, c41 = z, c50 = z, c51 = z, b0, b1, x;
        for (int h = 0; h < kc * 2; h += STEPS * 2) {   // h: half k steps (NR / 2 = 8 and MR / 2 = 3 floats)
            int bi = bo + h * (NR / 2), ai = ao + h * (MR / 2);
            b0 = FloatVector.fromArray(F, pk, bi); b1 = FloatVector.fromArray(F, pk, bi + L);
            x = FloatVector.broadcast(F, pk[ai]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 4]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 8]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 12]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 16]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 20]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + NR); b1 = FloatVector.fromArray(F, pk, bi + NR + L);
            x = FloatVector.broadcast(F, pk[ai + 1]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 5]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 9]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 13]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 17]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 21]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + 2 * NR); b1 = FloatVector.fromArray(F, pk, bi + 2 * NR + L);
            x = FloatVector.broadcast(F, pk[ai + 2]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 6]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 10]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 14]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 18]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 22]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + 3 * NR); b1 = FloatVector.fromArray(F, pk, bi + 3 * NR + L);
            x = FloatVector.broadcast(F, pk[ai + 3]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 7]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 11]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 15]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 19]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 23]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L); c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L); c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L);
    }

    /**
     * {@link #kernelGrouped} for a sliver four rows wide (the last rows of a plain op(a), {@link #sliverWidth}): eight
     * accumulators, still enough to keep both FMA pipes busy (4-cycle latency), so it takes 0.74 of the six-row
     * kernel's time for two thirds of its work.
     */
    private static void kernelFour(int kc, float[] pk, int ao, int bo, float[] tile) {
        FloatVector z = FloatVector.zero(F), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z,
                b0, b1, x;
        for (int h = 0; h < kc * 2; h += STEPS * 2) {   // h: half k steps (NR / 2 = 8 and 4 / 2 = 2 floats)
            int bi = bo + h * (NR / 2), ai = ao + h * 2;
            b0 = FloatVector.fromArray(F, pk, bi); b1 = FloatVector.fromArray(F, pk, bi + L);
            x = FloatVector.broadcast(F, pk[ai]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 4]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 8]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 12]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + NR); b1 = FloatVector.fromArray(F, pk, bi + NR + L);
            x = FloatVector.broadcast(F, pk[ai + 1]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 5]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 9]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 13]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + 2 * NR); b1 = FloatVector.fromArray(F, pk, bi + 2 * NR + L);
            x = FloatVector.broadcast(F, pk[ai + 2]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 6]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 10]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 14]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + 3 * NR); b1 = FloatVector.fromArray(F, pk, bi + 3 * NR + L);
            x = FloatVector.broadcast(F, pk[ai + 3]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 7]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 11]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 15]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L); c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
    }

    /**
     * {@link #kernelGrouped} over a sliver interleaved by k (a transposed op(a)): the MR values of k step p side by
     * side at pk[ao + p*MR + r].
     */
    private static void kernelInterleaved(int kc, float[] pk, int ao, int bo, float[] tile) {
        FloatVector z = FloatVector.zero(F), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z,
                c40 = z, c41 = z, c50 = z, c51 = z, b0, b1, x;
        for (int h = 0; h < kc * 2; h += STEPS * 2) {   // h: half k steps (NR / 2 = 8 and MR / 2 = 3 floats)
            int bi = bo + h * (NR / 2), ai = ao + h * (MR / 2);
            b0 = FloatVector.fromArray(F, pk, bi); b1 = FloatVector.fromArray(F, pk, bi + L);
            x = FloatVector.broadcast(F, pk[ai]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 1]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 2]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 3]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 4]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 5]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + NR); b1 = FloatVector.fromArray(F, pk, bi + NR + L);
            x = FloatVector.broadcast(F, pk[ai + MR]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + MR + 1]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + MR + 2]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + MR + 3]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + MR + 4]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + MR + 5]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + 2 * NR); b1 = FloatVector.fromArray(F, pk, bi + 2 * NR + L);
            x = FloatVector.broadcast(F, pk[ai + 2 * MR]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 2 * MR + 1]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 2 * MR + 2]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 2 * MR + 3]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 2 * MR + 4]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 2 * MR + 5]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
            b0 = FloatVector.fromArray(F, pk, bi + 3 * NR); b1 = FloatVector.fromArray(F, pk, bi + 3 * NR + L);
            x = FloatVector.broadcast(F, pk[ai + 3 * MR]); c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 3 * MR + 1]); c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 3 * MR + 2]); c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 3 * MR + 3]); c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 3 * MR + 4]); c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); if (X86) VarHandle.loadLoadFence();
            x = FloatVector.broadcast(F, pk[ai + 3 * MR + 5]); c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); if (X86) VarHandle.loadLoadFence();
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L); c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L); c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L);
    }

    /** A full tile into c: c = alpha t (set) or c += alpha t, the roundings of the scalar {@link #edge} path. */
    static void flush(float[] t, float[] c, int cOff, int ldc, float alpha, boolean set, int rows) {   // and KernelPair
        // two loops, not a choice per vector: a vector value that merges two branches is boxed (session 4)
        if (set) {
            for (int r = 0; r < rows; r++) {
                for (int x = 0; x < NR; x += L) FloatVector.fromArray(F, t, r * NR + x).mul(alpha).intoArray(c, cOff + r * ldc + x);
            }
        } else {
            for (int r = 0; r < rows; r++) {
                for (int x = 0; x < NR; x += L) {
                    int o = cOff + r * ldc + x;
                    FloatVector.fromArray(F, t, r * NR + x).fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, c, o)).intoArray(c, o);
                }
            }
        }
    }
}
