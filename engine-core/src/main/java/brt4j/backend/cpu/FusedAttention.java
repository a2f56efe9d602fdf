package brt4j.backend.cpu;

import brt4j.backend.CounterRng;
import brt4j.backend.Sliding;
import brt4j.backend.T5Buckets;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused attention (spec §1.3), flash-attention style. The work unit is one (group, head, block): for sliding
 * attention a block is W queries and its 2W keys [previous ; current]; without a window it is all Tq queries and
 * all Tk keys. Each head's k^T is transposed once per call; q and v rows are read where they lie (row stride H*D)
 * when D is a whole number of vectors, else packed. A unit walks query tiles of TQ rows: scores by {@link PanelGemm}
 * (six query rows at a time, only over the union of their allowed keys), T5 bias, temperature, the safe softmax
 * with the phantom -1000 logit (lse kept), attention dropout, and p . v scaled by 1 / denominator. Masked keys are
 * never visited: in the oracle they contribute exp(-1e6 - m), which is exactly 0.
 *
 * <p>Backward recomputes p from lse and uses D_i = dOut_i . out_i (equal to the oracle's sum_j p_j dp_j), so no
 * Tq x Tk matrix is stored: per thread one query tile times its keys; dq, dk and dv accumulate in place (or, for a
 * D that is not a whole number of vectors, in packed rows linear in the sequence length). Backward parallelizes
 * over (group, head) because neighbouring blocks share keys; dTemperature and dRelBias are reduced from per-thread
 * partial sums. Dropout masks come from {@link CounterRng#keepMultipliers}, a row at a time.
 */
final class FusedAttention {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    /**
     * The forward's query tiles. 36 rows are six six-row groups ({@link #groupRows}): a 128-row block then runs 20
     * six-row and 2 four-row groups, against 16 and 8 with tiles of 32 (the six-row kernel does more per row), and a
     * block that is a multiple of 4 never leaves a tile of one or two rows. Against 32: forward 1.025, 1.066, 1.043
     * (three same-JVM alternations at the training shape); the same bits, as each row's sums do not depend on it.
     */
    static final int TQ = 36;
    /**
     * The backward's query tiles: dk and dv sum over a tile's rows, so taller tiles mean longer sums per store
     * (their products only visit the rows that see each group of keys, so a taller tile adds no masked work).
     */
    static final int TQ_BACKWARD = 64;
    private static final float PHANTOM = -1000f;
    /**
     * Keys per step of the backward's dk and dv sums ({@link PanelGemm#mulTransposedA}'s five-row kernel, its
     * widest: a six-row one spilled). More keys a step mean longer runs of the kernel for more rows of masked work.
     */
    static final int DK_KEYS = 5;

    private final CpuPool pool;
    private final Scratch[] scratch;
    /**
     * The forward's k^T of every (group, head), shared by its blocks' units: about the size of k (padded to whole
     * vectors), kept for the next call like the per-thread scratch.
     */
    private float[] kT;

    FusedAttention(CpuPool pool) {
        this.pool = pool;
        this.scratch = new Scratch[pool.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    /** Per-thread buffers, grown on demand and kept. */
    private static final class Scratch {
        float[] q, kt, kr, v, vt, dO, s, p, dp, tile, dk, dv, dBias, keep, rowScale;
        static float[] grow(float[] x, int n) { return x != null && x.length >= n ? x : new float[n]; }
    }

    /** The geometry and operands of one call. */
    private static final class Job {
        int groups, tq, tk, heads, d, dp, hd, window, blocks;
        /** d is a whole number of vectors: operands are read and results written in place (row stride hd). */
        boolean inPlace;
        float[] q, k, v, temp, biasU, out, lse;
        Sliding s;
        float dropScale;

        int lo(int il) { return window > 0 ? il : 0; }
        int hi(int il) { return window > 0 ? il + window : tk; }
        /** The first and the last query (block-local) whose keys [lo, hi) include block key c. */
        int firstQuery(int c) { return window > 0 ? c - window + 1 : 0; }
        int lastQuery(int c) { return window > 0 ? c : Integer.MAX_VALUE - 1; }
        /** Queries of block b (the last block of a sliding call may be partial, e.g. one token in generation). */
        int nq(int b) { return window > 0 ? Math.min(window, tq - b * window) : tq; }
        /** Keys of block b: its queries' keys plus the window before them. */
        int nk(int b) { return window > 0 ? nq(b) + window : tk; }
        /** Where head h of row i of group g starts in a [G, T, H*D] tensor with T rows per group. */
        int at(int t, int g, int i, int h) { return (g * t + i) * hd + h * d; }
    }

    private static Job job(float[] q, float[] k, float[] v, int groups, int tq, int tk, int heads, int d, float[] temp,
                           Sliding s, float[] relBias, float[] out, float[] lse) {
        Job j = new Job();
        j.q = q; j.k = k; j.v = v; j.groups = groups; j.tq = tq; j.tk = tk; j.heads = heads; j.d = d;
        j.dp = Vec.roundUp(Math.max(d, 1)); j.hd = heads * d; j.inPlace = j.dp == d; j.temp = temp; j.s = s; j.out = out; j.lse = lse;
        if (s != null) {
            int w = s.window(), buckets = s.buckets();
            j.window = w; j.blocks = (tq + w - 1) / w;
            j.biasU = new float[heads * w + L];
            for (int h = 0; h < heads; h++) {
                for (int u = 0; u < w; u++) {
                    j.biasU[h * w + u] = relBias[h * buckets + T5Buckets.bucket(w - u, buckets, s.maxDistance())];
                }
            }
            j.dropScale = s.dropoutRate() > 0 ? (float) (1 / (1 - s.dropoutRate())) : 1f;
        } else {
            j.window = 0; j.blocks = 1; j.dropScale = 1f;
        }
        return j;
    }

    void forward(float[] q, float[] k, float[] v, int groups, int tq, int tk, int heads, int d, float[] temp, Sliding s,
                 float[] relBias, float[] out, float[] lse) {
        Job j = job(q, k, v, groups, tq, tk, heads, d, temp, s, relBias, out, lse);
        // k^T of each (group, head) once: a sliding block's keys are also the next block's window, so transposing
        // per block did each key twice (10% of the forward at W 128, H 4, D 64)
        int ldk = Vec.roundUp(tk) + L, headSize = d * ldk;
        float[] kt = kT = Scratch.grow(kT, groups * heads * headSize);
        pool.parallelFor(groups * heads, 1, (st, en, w) -> {
            for (int u = st; u < en; u++) packTransposed(k, tk, u / heads, 0, tk, j.hd, (u % heads) * d, d, ldk, kt, u * headSize);
        });
        int units = groups * heads * j.blocks;
        pool.parallelFor(units, 1, (st, en, w) -> {
            for (int u = st; u < en; u++) {
                int g = u / (heads * j.blocks), h = (u / j.blocks) % heads;
                forwardUnit(j, g, h, u % j.blocks, kt, (g * heads + h) * headSize, ldk, scratch[w]);
            }
        });
    }

    /** Block b of head h in group g; the head's k^T is kt[kto + e * ldk + key]. */
    private static void forwardUnit(Job j, int g, int h, int b, float[] kt, int kto, int ldk, Scratch sc) {
        int qs = b * j.window, ks = b * j.window, nq = j.nq(b), nk = j.nk(b), d = j.d, dp = j.dp, hd = j.hd;
        // q rows are read in place (a product reads exactly d values of each); v rows too when d fills whole vectors
        float[] v = j.v;
        int vo = j.at(j.tk, g, ks, h), ldv = hd;
        if (!j.inPlace) {
            sc.v = Scratch.grow(sc.v, nk * dp + L);
            sc.tile = Scratch.grow(sc.tile, TQ * dp);
            packRows(j.v, j.tk, g, ks, nk, hd, h * d, d, dp, sc.v);
            v = sc.v; vo = 0; ldv = dp;
        }
        float[] rowScale = sc.rowScale = Scratch.grow(sc.rowScale, TQ);     // each query row's 1 / denominator
        float tmp = j.temp[h];
        int biasOff = h * j.window;
        for (int t0 = 0; t0 < nq; t0 += TQ) {
            int t1 = Math.min(nq, t0 + TQ);
            int tlo = j.lo(t0), thi = j.hi(t1 - 1);
            int ldS = Vec.roundUp(thi - tlo) + L;
            sc.s = Scratch.grow(sc.s, TQ * ldS);
            float[] S = sc.s;
            scores(j, j.q, j.at(j.tq, g, qs, h), hd, kt, kto + ks, ldk, t0, t1, tlo, S, ldS);
            for (int il = t0; il < t1; il++) {
                int row = (il - t0) * ldS, lo = j.lo(il), hi = j.hi(il);
                int c0 = row + lo - tlo, len = hi - lo;
                // a = (q.k + bias) * temperature, and its maximum (at least the phantom logit)
                FloatVector vmax = FloatVector.broadcast(F, PHANTOM);
                int x = 0, ub = Vec.bound(len);
                if (j.biasU != null) {
                    for (; x < ub; x += L) {
                        FloatVector a = FloatVector.fromArray(F, S, c0 + x).add(FloatVector.fromArray(F, j.biasU, biasOff + x)).mul(tmp);
                        a.intoArray(S, c0 + x);
                        vmax = vmax.max(a);
                    }
                } else {
                    for (; x < ub; x += L) {
                        FloatVector a = FloatVector.fromArray(F, S, c0 + x).mul(tmp);
                        a.intoArray(S, c0 + x);
                        vmax = vmax.max(a);
                    }
                }
                float mx = vmax.reduceLanes(VectorOperators.MAX);
                for (; x < len; x++) {
                    float a = (S[c0 + x] + (j.biasU != null ? j.biasU[biasOff + x] : 0f)) * tmp;
                    S[c0 + x] = a;
                    mx = Math.max(mx, a);
                }
                float sum = Vec.expShiftSum(S, c0, len, mx);
                double denom = sum + StrictMath.exp(PHANTOM - (double) mx);
                j.lse[(g * j.heads + h) * j.tq + qs + il] = (float) (mx + StrictMath.log(denom));
                // the row stays unnormalized: p . v is scaled instead, d values a row rather than len
                rowScale[il - t0] = (float) (1 / denom);
                if (j.dropScale != 1f) {
                    float[] keep = dropoutRow(j, sc, h, qs + il, ks + lo, len);
                    for (int y = 0; y < len; y++) S[c0 + y] *= keep[y];
                }
                java.util.Arrays.fill(S, row, c0, 0f);
                java.util.Arrays.fill(S, c0 + len, row + (thi - tlo), 0f);
            }
            // out = (e . v) / denominator, a group of rows at a time over the union of their keys (into out itself, or
            // into the tile's dp-wide rows and then their d values copied out)
            for (int r = t0, rr; r < t1; r += rr) {
                rr = groupRows(t1 - r);
                int lo = j.lo(r), hi = j.hi(r + rr - 1);
                PanelGemm.mul(rr, hi - lo, S, (r - t0) * ldS + lo - tlo, ldS, v, vo + lo * ldv, ldv,
                        j.inPlace ? j.out : sc.tile, j.inPlace ? j.at(j.tq, g, qs + r, h) : (r - t0) * dp, j.inPlace ? hd : dp, dp, false);
                if (!j.inPlace) {
                    for (int il = r; il < r + rr; il++) System.arraycopy(sc.tile, (il - t0) * dp, j.out, j.at(j.tq, g, qs + il, h), d);
                }
            }
            for (int il = t0; il < t1; il++) Vec.scale(j.out, j.at(j.tq, g, qs + il, h), d, rowScale[il - t0]);
        }
    }

    /**
     * The rows of a tile's next group, each group one {@link PanelGemm} call over the union of its rows' keys: six
     * ({@link PanelGemm}'s widest kernel), or four when eight remain, so a tile of 36 or 64 rows ends on whole kernels.
     * Against four-row groups: forward 1.70-1.72 against 1.75-1.78 ms at the training shape, backward within the
     * noise (4.15-4.34 against 4.16-4.50); the sums run in the same order, so the bits are the same.
     */
    static int groupRows(int remaining) {
        return remaining == 8 ? 4 : Math.min(6, remaining);
    }

    /**
     * Raw scores q.k of the block's query rows [t0, t1) over their allowed keys into s (column c is key tlo + c):
     * the block's query row i at q[qo + i * ldq], its key 0 at column kto of k^T.
     */
    private static void scores(Job j, float[] q, int qo, int ldq, float[] kt, int kto, int ldk, int t0, int t1, int tlo,
                               float[] s, int ldS) {
        for (int r = t0, rr; r < t1; r += rr) {
            rr = groupRows(t1 - r);
            int lo = j.lo(r), hi = j.hi(r + rr - 1);
            PanelGemm.mul(rr, j.d, q, qo + r * ldq, ldq, kt, kto + lo, ldk, s, (r - t0) * ldS + lo - tlo, ldS, Vec.roundUp(hi - lo), false);
        }
    }

    // ------------------------------------------------------------------------------------------------ backward

    void backward(float[] q, float[] k, float[] v, int groups, int tq, int tk, int heads, int d, float[] temp, Sliding s,
                  float[] relBias, float[] out, float[] lse, float[] dOut, float[] dq, float[] dk, float[] dv,
                  float[] dTemp, float[] dRelBias) {
        Job j = job(q, k, v, groups, tq, tk, heads, d, temp, s, relBias, out, lse);
        int threads = pool.threads(), buckets = s == null ? 0 : s.buckets();
        double[][] dTempW = new double[threads][heads];
        double[][] dRelW = new double[threads][heads * Math.max(buckets, 1)];
        pool.parallelFor(groups * heads, 1, (st, en, w) -> {
            for (int u = st; u < en; u++) {
                backwardUnit(j, u / heads, u % heads, dOut, dq, dk, dv, dTempW[w], dRelW[w], scratch[w]);
            }
        });
        for (int w = 0; w < threads; w++) {
            for (int h = 0; h < heads; h++) dTemp[h] += (float) dTempW[w][h];
            if (dRelBias != null) for (int i = 0; i < heads * buckets; i++) dRelBias[i] += (float) dRelW[w][i];
        }
    }

    private static void backwardUnit(Job j, int g, int h, float[] dOut, float[] dq, float[] dk, float[] dv,
                                     double[] dTempW, double[] dRelW, Scratch sc) {
        int d = j.d, dp = j.dp, hd = j.hd, window = j.window;
        sc.tile = Scratch.grow(sc.tile, TQ_BACKWARD * dp);
        sc.dBias = Scratch.grow(sc.dBias, window + L);
        java.util.Arrays.fill(sc.dBias, 0f);
        // dk and dv accumulate in place when d fills whole vectors, else in packed rows added at the end
        float[] dkA = dk, dvA = dv;
        int dko = j.at(j.tk, g, 0, h), ldd = hd;
        if (!j.inPlace) {
            dkA = sc.dk = Scratch.grow(sc.dk, j.tk * dp);
            dvA = sc.dv = Scratch.grow(sc.dv, j.tk * dp);
            java.util.Arrays.fill(sc.dk, 0, j.tk * dp, 0f);
            java.util.Arrays.fill(sc.dv, 0, j.tk * dp, 0f);
            dko = 0; ldd = dp;
        }
        float tmp = j.temp[h];
        boolean drop = j.dropScale != 1f;
        double dTempS = 0;
        // the unit's keys and values packed once (a sliding block's keys overlap the next block's by W)
        int ldk = Vec.roundUp(j.tk) + L;
        sc.kt = Scratch.grow(sc.kt, d * ldk);
        sc.vt = Scratch.grow(sc.vt, d * ldk);
        packTransposed(j.k, j.tk, g, 0, j.tk, hd, h * d, d, ldk, sc.kt, 0);
        packTransposed(j.v, j.tk, g, 0, j.tk, hd, h * d, d, ldk, sc.vt, 0);
        // k, q and dOut rows in place (stride hd) when d fills whole vectors, else packed (stride dp)
        float[] kr = j.k, qr = j.q, dOr = dOut;
        int kro = j.at(j.tk, g, 0, h), ld = hd;
        if (!j.inPlace) {
            kr = sc.kr = Scratch.grow(sc.kr, j.tk * dp + L);
            packRows(j.k, j.tk, g, 0, j.tk, hd, h * d, d, dp, sc.kr);
            kro = 0; ld = dp;
        }
        for (int b = 0; b < j.blocks; b++) {
            int qs = b * window, ks = b * window, nq = j.nq(b);
            int qo = j.at(j.tq, g, qs, h);
            if (!j.inPlace) {
                qr = sc.q = Scratch.grow(sc.q, nq * dp);
                dOr = sc.dO = Scratch.grow(sc.dO, nq * dp);
                packRows(j.q, j.tq, g, qs, nq, hd, h * d, d, dp, sc.q);
                packRows(dOut, j.tq, g, qs, nq, hd, h * d, d, dp, sc.dO);
                qo = 0;
            }
            for (int t0 = 0; t0 < nq; t0 += TQ_BACKWARD) {
                int t1 = Math.min(nq, t0 + TQ_BACKWARD);
                int tlo = j.lo(t0), thi = j.hi(t1 - 1), span = thi - tlo;
                int ldS = Vec.roundUp(span) + L;
                sc.s = Scratch.grow(sc.s, TQ_BACKWARD * ldS);
                sc.p = Scratch.grow(sc.p, TQ_BACKWARD * ldS);
                sc.dp = Scratch.grow(sc.dp, TQ_BACKWARD * ldS);
                float[] S = sc.s, P = sc.p, DP = sc.dp;
                scores(j, qr, qo, ld, sc.kt, ks, ldk, t0, t1, tlo, S, ldS);
                // dp = dOut . v^T over the same keys
                for (int r = t0, rr; r < t1; r += rr) {
                    rr = groupRows(t1 - r);
                    int lo = j.lo(r), hi = j.hi(r + rr - 1);
                    PanelGemm.mul(rr, d, dOr, qo + r * ld, ld, sc.vt, ks + lo, ldk, DP, (r - t0) * ldS + lo - tlo, ldS, Vec.roundUp(hi - lo), false);
                }
                for (int il = t0; il < t1; il++) {
                    int row = (il - t0) * ldS, lo = j.lo(il), hi = j.hi(il);
                    int c0 = row + lo - tlo, len = hi - lo;
                    int oi = j.at(j.tq, g, qs + il, h);
                    float di = Norms.dot(dOut, oi, j.out, oi, d);
                    float l = j.lse[(g * j.heads + h) * j.tq + qs + il];
                    // with dropout, the row's multipliers (0 or 1 / (1 - rate)) apply to dp and to the p that dv reads
                    float[] keep = drop ? dropoutRow(j, sc, h, qs + il, ks + lo, len) : null;
                    dTempS = gradientRow(j, h, S, P, DP, row, c0, len, span, di, l, keep, sc.dBias, dTempS);
                }
                // dq += ds . k (ds already times the temperature)
                for (int r = t0, rr; r < t1; r += rr) {
                    rr = groupRows(t1 - r);
                    int lo = j.lo(r), hi = j.hi(r + rr - 1);
                    if (j.inPlace) {
                        PanelGemm.mul(rr, hi - lo, S, (r - t0) * ldS + lo - tlo, ldS, kr, kro + (ks + lo) * ld, ld, dq, j.at(j.tq, g, qs + r, h), hd, d, true);
                    } else {
                        PanelGemm.mul(rr, hi - lo, S, (r - t0) * ldS + lo - tlo, ldS, kr, kro + (ks + lo) * ld, ld, sc.tile, (r - t0) * dp, dp, dp, false);
                        for (int il = r; il < r + rr; il++) Elementwise.addInto(sc.tile, (il - t0) * dp, dq, j.at(j.tq, g, qs + il, h), d);
                    }
                }
                // dk += ds^T . q and dv += p^T . dOut over the tile's keys (the tiles read transposed in place), five
                // keys at a time over only the rows that see one of them
                for (int c = 0; c < span; c += DK_KEYS) {
                    int keys = Math.min(DK_KEYS, span - c), i0 = Math.max(t0, j.firstQuery(tlo + c)), i1 = Math.min(t1, j.lastQuery(tlo + c + keys - 1) + 1);
                    if (i0 >= i1) continue;
                    int so = (i0 - t0) * ldS + c, ko = dko + (ks + tlo + c) * ldd;
                    PanelGemm.mulTransposedA(keys, i1 - i0, S, so, ldS, qr, qo + i0 * ld, ld, dkA, ko, ldd, dp);
                    PanelGemm.mulTransposedA(keys, i1 - i0, P, so, ldS, dOr, qo + i0 * ld, ld, dvA, ko, ldd, dp);
                }
            }
        }
        if (!j.inPlace) {
            for (int jk = 0; jk < j.tk; jk++) {
                int o = j.at(j.tk, g, jk, h), so = jk * dp;
                Elementwise.addInto(sc.dk, so, dk, o, d);
                Elementwise.addInto(sc.dv, so, dv, o, d);
            }
        }
        dTempW[h] += dTempS;
        if (window > 0) {
            Sliding s = j.s;
            for (int u = 0; u < window; u++) {
                dRelW[h * s.buckets() + T5Buckets.bucket(window - u, s.buckets(), s.maxDistance())] += (double) tmp * sc.dBias[u];
            }
        }
    }

    /**
     * One query row of a backward tile, with its raw scores in S (q.k, the row's keys at columns c0 .. c0+len-1 of the
     * row that starts at row) and dOut.v in DP: P gets p (times the dropout multipliers, keep, when given: dv reads
     * it), S gets ds times the temperature (dq and dk read it), both zero elsewhere up to span; the row's ds are
     * added to dBias (sliding attention), and its dTemperature terms to dTempS, which is returned. di is dOut.out of
     * the row, l its log-sum-exp. A method of its own so that C2 compiles it with its own inlining budget: inside
     * backwardUnit it ran out of budget and left calls out of line (a vector handed to one of them is boxed).
     */
    private static double gradientRow(Job j, int h, float[] S, float[] P, float[] DP, int row, int c0, int len, int span,
                                      float di, float l, float[] keep, float[] dBias, double dTempS) {
        float tmp = j.temp[h];
        int biasOff = h * j.window;
        boolean drop = keep != null;
        int x = 0;
        FloatVector dTempV = FloatVector.zero(F);
        // dTemperature = sum_j ds_j raw_j; since sum_j ds_j = di * p_phantom exactly, raw is centred on lse /
        // temperature (where p ~ 1) to avoid cancellation, and the phantom term is added back.
        float centre = tmp != 0 ? l / tmp : 0f;
        int ub = Vec.bound(len);
        // p first, in a loop of its own: inside the loop below, the exp ran 2.5 times slower than alone (that loop's
        // live vectors and exp's constants do not fit the 16 registers together)
        for (int y = 0; y < ub; y += L) {
            FloatVector raw = FloatVector.fromArray(F, S, c0 + y);
            if (j.biasU != null) raw = raw.add(FloatVector.fromArray(F, j.biasU, biasOff + y));
            Vec.exp(raw.mul(tmp).sub(l)).intoArray(P, c0 + y);
        }
        for (; x < ub; x += L) {
            FloatVector raw = FloatVector.fromArray(F, S, c0 + x);
            if (j.biasU != null) raw = raw.add(FloatVector.fromArray(F, j.biasU, biasOff + x));
            FloatVector p = FloatVector.fromArray(F, P, c0 + x);
            FloatVector dpv = FloatVector.fromArray(F, DP, c0 + x), pv = p;
            if (drop) {
                FloatVector kv = FloatVector.fromArray(F, keep, x);
                dpv = kv.mul(dpv);
                pv = p.mul(kv);
            }
            FloatVector ds = p.mul(dpv.sub(di));
            dTempV = ds.fma(raw.sub(centre), dTempV);
            if (j.window > 0) FloatVector.fromArray(F, dBias, x).add(ds).intoArray(dBias, x);
            ds.mul(tmp).intoArray(S, c0 + x);
            if (drop) pv.intoArray(P, c0 + x);
        }
        for (; x < len; x++) {
            float raw = S[c0 + x] + (j.biasU != null ? j.biasU[biasOff + x] : 0f);
            float p = (float) StrictMath.exp(raw * tmp - l);
            float kx = drop ? keep[x] : 1f;
            float ds = p * (kx * DP[c0 + x] - di);
            dTempS += (double) ds * (raw - centre);
            if (j.window > 0) dBias[x] += ds;
            S[c0 + x] = ds * tmp;
            P[c0 + x] = p * kx;
        }
        float dTempRow = 0;
        for (int lane = 0; lane < L; lane++) dTempRow += dTempV.lane(lane);   // Vec.sum, spelled out (see there)
        dTempS += dTempRow + (double) centre * di * StrictMath.exp(PHANTOM - (double) l);
        java.util.Arrays.fill(S, row, c0, 0f);
        java.util.Arrays.fill(S, c0 + len, row + span, 0f);
        java.util.Arrays.fill(P, row, c0, 0f);
        java.util.Arrays.fill(P, c0 + len, row + span, 0f);
        return dTempS;
    }

    /**
     * The dropout multipliers of query i's keys key0 .. key0 + len - 1 in head h (0, or 1 / (1 - rate) where kept),
     * in the thread's scratch: the keys of one query have consecutive dropout indexes.
     */
    private static float[] dropoutRow(Job j, Scratch sc, int h, int i, int key0, int len) {
        Sliding s = j.s;
        sc.keep = Scratch.grow(sc.keep, len);
        CounterRng.keepMultipliers(s.dropoutSeed(), s.dropoutIndex(h, i, key0), s.dropoutRate(), j.dropScale, sc.keep, 0, len);
        return sc.keep;
    }

    /** dst[r * dp + e] = src[(g*t + start + r) * hd + off + e] for e < d, zero for d <= e < dp. */
    private static void packRows(float[] src, int t, int g, int start, int n, int hd, int off, int d, int dp, float[] dst) {
        for (int r = 0; r < n; r++) {
            int so = (g * t + start + r) * hd + off;
            System.arraycopy(src, so, dst, r * dp, d);
            for (int e = d; e < dp; e++) dst[r * dp + e] = 0f;
        }
    }

    /** dst[dOff + e * ld + r] = src[(g*t + start + r) * hd + off + e] for r < n, zero for n <= r < ld. */
    private static void packTransposed(float[] src, int t, int g, int start, int n, int hd, int off, int d, int ld, float[] dst, int dOff) {
        Transpose.copy(src, (g * t + start) * hd + off, hd, n, d, dst, dOff, ld);
        for (int e = 0; e < d; e++) java.util.Arrays.fill(dst, dOff + e * ld + n, dOff + e * ld + ld, 0f);
    }
}
