package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import static brt4j.backend.cpu.Matmul.MR;
import static brt4j.backend.cpu.Matmul.NR;
import static brt4j.backend.cpu.Matmul.STEPS;
import static brt4j.backend.cpu.Matmul.sliverWidth;

/**
 * How {@link Matmul} lays out its operands for the microkernels ({@link MatmulKernels}): a block of op(a) in slivers
 * of MR (or four) rows, a block of op(b) in NR-wide panels, both padded with zeros to a whole number of STEPS k
 * steps. Plain and transposed operands each have their own copy loop, shaped by how the source is stored.
 */
final class MatmulPacking {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    /** The p slots of a sliver that a vector of L values written at one p's slot reaches past its own MR values. */
    private static final int SPILL = Math.max(0, (L - MR + MR - 1) / MR);
    /** A row's STEPS values of one group in a plain op(a)'s sliver: copied as one vector ({@link #packA}). */
    private static final VectorSpecies<Float> GROUP = FloatVector.SPECIES_128;
    static { assert GROUP.length() == STEPS; }
    /** Panels in {@link #packB}'s written-out copy: the group Matmul packs at a time, or the copy is never taken. */
    private static final int COPY_PANELS = 4;
    static { assert Matmul.PANEL_GROUP == COPY_PANELS : "packB's written-out copy is for groups of " + COPY_PANELS; }

    private MatmulPacking() {}

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
     * Packs op(a)[ic:ic+mc, pc:pc+kc] into slivers of {@link Matmul#sliverWidth} rows (the sliver from row s0 at
     * pa[paOff + s0*kcp]), the rows past mc and the k steps from kc to kcp zero. A transposed a is interleaved by k
     * step, MR rows a sliver: for each p the sliver's MR values side by side, at p*MR + r, as a^T stores them. A plain
     * a is grouped by STEPS k steps: for each group the sliver's rows' STEPS values in turn, row r's at
     * p/STEPS*STEPS*width + r*STEPS + p%STEPS, so that each row is copied STEPS values (one 128-bit vector) at a time.
     * Either way a trip of the kernel reads one run of STEPS*width values.
     */
    static void packA(float[] a, int ao, boolean transA, int m, int k, int ic, int mc, int pc, int kc, int kcp,
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
     * The grouped layout of a plain a ({@link #packA}) in slivers of {@link Matmul#sliverWidth} rows: a full group of
     * a full sliver is a vector copy per row.
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
    static void packB(float[] b, int bo, boolean transB, int k, int n, int pc, int kc, int kcp, int jc, int jr0,
                              int jr1, float[] pb, int pbOff) {
        for (int jr = jr0; jr < jr1; jr += NR) {
            java.util.Arrays.fill(pb, pbOff + jr * kcp + kc * NR, pbOff + (jr + NR) * kcp, 0f);   // rows kc..kcp
        }
        if (!transB) {
            int full = jr0 + (jr1 - jr0) / NR * NR;
            if (full - jr0 == COPY_PANELS * NR) {
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
}
