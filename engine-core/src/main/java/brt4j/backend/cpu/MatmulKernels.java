package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.invoke.VarHandle;

import static brt4j.backend.cpu.Matmul.MR;
import static brt4j.backend.cpu.Matmul.NR;
import static brt4j.backend.cpu.Matmul.STEPS;

/**
 * {@link Matmul}'s register-tiled microkernels and how a tile reaches c: an MR x NR tile (6 rows times two vectors)
 * of a packed sliver of op(a) against a packed panel of op(b), 12 independent FMA accumulators, left in a per-thread
 * scratch array that {@link #flush} (or {@link #edge}, for the valid part of an edge tile) fuses into c. The six-row
 * kernel takes a sliver across a whole run of panels in one call, a tile per panel; the four-row and interleaved
 * kernels take one panel a call ({@link #tile}). Written out row by row on purpose: a loop over rows, or a row count
 * as a parameter, compiles worse in C2 (cpu-backend.md).
 */
final class MatmulKernels {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    /**
     * Whether the kernels fence their rows apart. On x86 a load-load fence emits no instruction, but C2 keeps loads on
     * their side of it, so each row's broadcast stays between the FMAs around it; without it C2 hoists a trip's
     * broadcasts and b loads to its top and, with 12 accumulators in 16 registers, spills (cpu-backend.md, session
     * 13). Elsewhere (ARM: 32 vector registers, and there the fence is a real barrier) they run unfenced. The fence is
     * called directly, not through a helper: VarHandle's is force-inlined, and a helper of ours was not (C2's inlining
     * budget, NodeCountInliningCutoff, ran out in the kernel and the calls boxed the accumulators: 15 GFLOP/s).
     */
    private static final boolean X86 = System.getProperty("os.arch").matches("amd64|x86_64");

    private MatmulKernels() {}

    /**
     * One tile of the kernels that take one panel a call: a sliver of {@code width} rows (the first {@code rows} of
     * them valid), interleaved (a transposed a) or four rows wide, times a panel (the first {@code cols} columns
     * valid) into c at cOff. A plain six-row sliver goes to {@link #kernelGrouped} a run of panels at a time.
     */
    static void tile(boolean transA, int width, int rows, int cols, int kcp, float[] pk, int aOff, int bOff,
                     float[] ct, float[] c, int cOff, int ldc, float alpha, boolean set) {
        assert transA || width != MR : "a plain six-row sliver takes kernelGrouped's run";
        if (transA) kernelInterleaved(kcp, pk, aOff, bOff, ct);
        else kernelFour(kcp, pk, aOff, bOff, ct);
        out(ct, 0, width, rows, cols, c, cOff, ldc, alpha, set);
    }

    /** A tile left at ct[to..] by a kernel into c: all of it ({@link #flush}), or the valid part of an edge tile. */
    static void out(float[] ct, int to, int width, int rows, int cols, float[] c, int cOff, int ldc, float alpha,
                    boolean set) {
        if (rows < width || cols < NR) edge(ct, to, c, cOff, ldc, Math.min(width, rows), Math.min(NR, cols), alpha, set);
        else flush(ct, to, c, cOff, ldc, alpha, set, width);
    }

    /** An edge tile, left at ct[to..] by a kernel: only its valid mr x nr part into c. */
    private static void edge(float[] ct, int to, float[] c, int cOff, int ldc, int mr, int nr, float alpha,
                             boolean set) {
        for (int y = 0; y < mr; y++) {
            for (int x = 0; x < nr; x++) {
                int ci = cOff + y * ldc + x;
                float v = ct[to + y * NR + x];
                c[ci] = set ? v * alpha : Math.fma(v, alpha, c[ci]);     // the same roundings as flush
            }
        }
    }

    /**
     * The MR x NR microkernel over a sliver of a plain op(a), grouped by STEPS k steps ({@link MatmulPacking#packA}):
     * tile = a sliver . b panel, 12 independent FMA accumulators, both packs in one array pk (one base register), for
     * each of {@code panels} panels in turn (panel j's tile at tile[j*MR*NR]); row r's value for k step p at
     * pk[ao + p/STEPS*STEPS*MR + r*STEPS + p%STEPS], panel j's NR values for k step p at pk[bo0 + j*kc*NR + p*NR]. kc
     * is a multiple of STEPS (the packs pad it with zeros). The loop takes STEPS k steps a trip with every index a
     * constant displacement from one counter: C2 then checks the bounds of each of the trip's 32 accesses once, before
     * the loop, not in it (about 290 instructions, 2-3% of a kernel at kc 512). The loop over panels around it is why
     * a call takes a run: the 24 checks on the sliver, which every panel shares, then run once a call
     * (cpu-backend.md, session 18). Counting half steps, both indices are one lea each (8 and 3 times the counter): the trip is 2 b loads,
     * 6 broadcasts and 12 FMAs a step plus 7 integer instructions, 1.81 instructions an FMA (OpenBLAS's: 1.75). What
     * a busy core punishes is that count (cpu-backend.md, sessions 10-11 and 14). The fences between the rows
     * ({@link #X86}) are what let C2 compile 12 accumulators without spilling.
     */
    static void kernelGrouped(int kc, int panels, float[] pk, int ao, int bo0, float[] tile) {
        for (int j = 0; j < panels; j++) {   // a tile per panel; the panels lie kc * NR floats apart
            int bo = bo0 + j * kc * NR, to = j * MR * NR;
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
            c00.intoArray(tile, to); c01.intoArray(tile, to + L); c10.intoArray(tile, to + NR); c11.intoArray(tile, to + NR + L);
            c20.intoArray(tile, to + 2 * NR); c21.intoArray(tile, to + 2 * NR + L); c30.intoArray(tile, to + 3 * NR); c31.intoArray(tile, to + 3 * NR + L);
            c40.intoArray(tile, to + 4 * NR); c41.intoArray(tile, to + 4 * NR + L); c50.intoArray(tile, to + 5 * NR); c51.intoArray(tile, to + 5 * NR + L);
        }
    }

    /**
     * {@link #kernelGrouped} for a sliver four rows wide (the last rows of a plain op(a), {@link Matmul#sliverWidth}):
     * eight accumulators, still enough to keep both FMA pipes busy (4-cycle latency), so it takes 0.74 of the six-row
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

    /**
     * A full tile, left at t[to..] by a kernel, into c: c = alpha t (set) or c += alpha t, the roundings of the scalar
     * {@link #edge} path.
     */
    static void flush(float[] t, int to, float[] c, int cOff, int ldc, float alpha, boolean set, int rows) {
        // two loops, not a choice per vector: a vector value that merges two branches is boxed (session 4)
        if (set) {
            for (int r = 0; r < rows; r++) {
                for (int x = 0; x < NR; x += L) {
                    FloatVector.fromArray(F, t, to + r * NR + x).mul(alpha).intoArray(c, cOff + r * ldc + x);
                }
            }
        } else {
            for (int r = 0; r < rows; r++) {
                for (int x = 0; x < NR; x += L) {
                    int o = cOff + r * ldc + x;
                    FloatVector sum = FloatVector.fromArray(F, t, to + r * NR + x);
                    sum.fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, c, o)).intoArray(c, o);
                }
            }
        }
    }
}
