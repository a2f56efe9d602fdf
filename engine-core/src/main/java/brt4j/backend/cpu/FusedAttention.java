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
 * all Tk keys. A unit packs its head's q rows, k^T and v rows once, then walks query tiles of TQ rows: scores by
 * {@link PanelGemm} (four query rows at a time, only over the union of their allowed keys), T5 bias, temperature,
 * the safe softmax with the phantom -1000 logit (lse kept), attention dropout, and p . v. Masked keys are never
 * visited: in the oracle they contribute exp(-1e6 - m), which is exactly 0.
 *
 * <p>Backward recomputes p from lse and uses D_i = dOut_i . out_i (equal to the oracle's sum_j p_j dp_j), so no
 * Tq x Tk matrix is stored: per thread one query tile times its keys, plus dk/dv accumulators for one (group, head)
 * that are linear in the sequence length. Backward parallelizes over (group, head) because neighbouring blocks
 * share keys; dTemperature and dRelBias are reduced from per-thread partial sums.
 */
final class FusedAttention {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    static final int TQ = 32;
    private static final float PHANTOM = -1000f;

    private final CpuPool pool;
    private final Scratch[] scratch;

    FusedAttention(CpuPool pool) {
        this.pool = pool;
        this.scratch = new Scratch[pool.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    /** Per-thread buffers, grown on demand and kept. */
    private static final class Scratch {
        float[] q, kt, kr, v, vt, dO, s, p, dp, tile, dk, dv, dBias;
        static float[] grow(float[] x, int n) { return x != null && x.length >= n ? x : new float[n]; }
    }

    /** The geometry and operands of one call. */
    private static final class Job {
        int groups, tq, tk, heads, d, dp, hd, window, blocks;
        float[] q, k, v, temp, biasU, out, lse;
        Sliding s;
        float dropScale;

        int lo(int il) { return window > 0 ? il : 0; }
        int hi(int il) { return window > 0 ? il + window : tk; }
        /** Queries of block b (the last block of a sliding call may be partial, e.g. one token in generation). */
        int nq(int b) { return window > 0 ? Math.min(window, tq - b * window) : tq; }
        /** Keys of block b: its queries' keys plus the window before them. */
        int nk(int b) { return window > 0 ? nq(b) + window : tk; }
    }

    private static Job job(float[] q, float[] k, float[] v, int groups, int tq, int tk, int heads, int d, float[] temp,
                           Sliding s, float[] relBias, float[] out, float[] lse) {
        Job j = new Job();
        j.q = q; j.k = k; j.v = v; j.groups = groups; j.tq = tq; j.tk = tk; j.heads = heads; j.d = d;
        j.dp = Vec.roundUp(Math.max(d, 1)); j.hd = heads * d; j.temp = temp; j.s = s; j.out = out; j.lse = lse;
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
        int units = groups * heads * j.blocks;
        pool.parallelFor(units, 1, (st, en, w) -> {
            for (int u = st; u < en; u++) {
                forwardUnit(j, u / (heads * j.blocks), (u / j.blocks) % heads, u % j.blocks, scratch[w]);
            }
        });
    }

    private static void forwardUnit(Job j, int g, int h, int b, Scratch sc) {
        int qs = b * j.window, ks = b * j.window, nq = j.nq(b), nk = j.nk(b), d = j.d, dp = j.dp;
        int ldk = Vec.roundUp(nk) + L;
        sc.q = Scratch.grow(sc.q, nq * dp);
        sc.kt = Scratch.grow(sc.kt, d * ldk);
        sc.v = Scratch.grow(sc.v, nk * dp + L);
        packRows(j.q, j.tq, g, qs, nq, j.hd, h * d, d, dp, sc.q);
        packTransposed(j.k, j.tk, g, ks, nk, j.hd, h * d, d, ldk, sc.kt);
        packRows(j.v, j.tk, g, ks, nk, j.hd, h * d, d, dp, sc.v);
        float tmp = j.temp[h];
        int biasOff = h * j.window;
        for (int t0 = 0; t0 < nq; t0 += TQ) {
            int t1 = Math.min(nq, t0 + TQ);
            int tlo = j.lo(t0), thi = j.hi(t1 - 1);
            int ldS = Vec.roundUp(thi - tlo) + L;
            sc.s = Scratch.grow(sc.s, TQ * ldS);
            sc.tile = Scratch.grow(sc.tile, TQ * dp);
            float[] S = sc.s;
            scores(j, sc, t0, t1, tlo, ldS, 0, ldk);
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
                float inv = (float) (1 / denom);
                Vec.scale(S, c0, len, inv);
                if (j.dropScale != 1f) {
                    Sliding s = j.s;
                    for (int y = 0; y < len; y++) {
                        boolean keep = CounterRng.keep(s.dropoutSeed(), s.dropoutIndex(h, qs + il, ks + lo + y), s.dropoutRate());
                        S[c0 + y] = keep ? S[c0 + y] * j.dropScale : 0f;
                    }
                }
                java.util.Arrays.fill(S, row, c0, 0f);
                java.util.Arrays.fill(S, c0 + len, row + (thi - tlo), 0f);
            }
            // out = p . v, four rows at a time over the union of their keys
            for (int r = t0; r < t1; r += 4) {
                int rr = Math.min(4, t1 - r), lo = j.lo(r), hi = j.hi(r + rr - 1);
                PanelGemm.mul(rr, hi - lo, S, (r - t0) * ldS + lo - tlo, ldS, sc.v, lo * dp, dp, sc.tile, (r - t0) * dp, dp, dp, false);
            }
            for (int il = t0; il < t1; il++) {
                System.arraycopy(sc.tile, (il - t0) * dp, j.out, (g * j.tq + qs + il) * j.hd + h * d, d);
            }
        }
    }

    /**
     * Raw scores q.k of query rows [t0, t1) over their allowed keys into S (column c is key tlo + c); the block's
     * key 0 is column ks of the packed k^T.
     */
    private static void scores(Job j, Scratch sc, int t0, int t1, int tlo, int ldS, int ks, int ldk) {
        for (int r = t0; r < t1; r += 4) {
            int rr = Math.min(4, t1 - r), lo = j.lo(r), hi = j.hi(r + rr - 1);
            PanelGemm.mul(rr, j.d, sc.q, r * j.dp, j.dp, sc.kt, ks + lo, ldk, sc.s, (r - t0) * ldS + lo - tlo, ldS, Vec.roundUp(hi - lo), false);
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
        sc.dk = Scratch.grow(sc.dk, j.tk * dp);
        sc.dv = Scratch.grow(sc.dv, j.tk * dp);
        sc.tile = Scratch.grow(sc.tile, TQ * dp);
        sc.dBias = Scratch.grow(sc.dBias, window + L);
        java.util.Arrays.fill(sc.dk, 0, j.tk * dp, 0f);
        java.util.Arrays.fill(sc.dv, 0, j.tk * dp, 0f);
        java.util.Arrays.fill(sc.dBias, 0f);
        float tmp = j.temp[h];
        int biasOff = h * window;
        double dTempS = 0;
        // the unit's keys and values packed once (a sliding block's keys overlap the next block's by W)
        int ldk = Vec.roundUp(j.tk) + L;
        sc.kt = Scratch.grow(sc.kt, d * ldk);
        sc.vt = Scratch.grow(sc.vt, d * ldk);
        sc.kr = Scratch.grow(sc.kr, j.tk * dp + L);
        packTransposed(j.k, j.tk, g, 0, j.tk, hd, h * d, d, ldk, sc.kt);
        packTransposed(j.v, j.tk, g, 0, j.tk, hd, h * d, d, ldk, sc.vt);
        packRows(j.k, j.tk, g, 0, j.tk, hd, h * d, d, dp, sc.kr);
        for (int b = 0; b < j.blocks; b++) {
            int qs = b * window, ks = b * window, nq = j.nq(b);
            sc.q = Scratch.grow(sc.q, nq * dp);
            sc.dO = Scratch.grow(sc.dO, nq * dp);
            packRows(j.q, j.tq, g, qs, nq, hd, h * d, d, dp, sc.q);
            packRows(dOut, j.tq, g, qs, nq, hd, h * d, d, dp, sc.dO);
            for (int t0 = 0; t0 < nq; t0 += TQ) {
                int t1 = Math.min(nq, t0 + TQ), rows = t1 - t0;
                int tlo = j.lo(t0), thi = j.hi(t1 - 1), span = thi - tlo;
                int ldS = Vec.roundUp(span) + L;
                sc.s = Scratch.grow(sc.s, TQ * ldS);
                sc.p = Scratch.grow(sc.p, TQ * ldS);
                sc.dp = Scratch.grow(sc.dp, TQ * ldS);
                float[] S = sc.s, P = sc.p, DP = sc.dp;
                scores(j, sc, t0, t1, tlo, ldS, ks, ldk);
                // dp = dOut . v^T over the same keys
                for (int r = t0; r < t1; r += 4) {
                    int rr = Math.min(4, t1 - r), lo = j.lo(r), hi = j.hi(r + rr - 1);
                    PanelGemm.mul(rr, d, sc.dO, r * dp, dp, sc.vt, ks + lo, ldk, DP, (r - t0) * ldS + lo - tlo, ldS, Vec.roundUp(hi - lo), false);
                }
                for (int il = t0; il < t1; il++) {
                    int row = (il - t0) * ldS, lo = j.lo(il), hi = j.hi(il);
                    int c0 = row + lo - tlo, len = hi - lo;
                    int gi = g * j.tq + qs + il;
                    float di = Norms.dot(dOut, gi * hd + h * d, j.out, gi * hd + h * d, d);
                    float l = j.lse[(g * j.heads + h) * j.tq + qs + il];
                    int x = 0;
                    FloatVector dTempV = FloatVector.zero(F);
                    // dTemperature = sum_j ds_j raw_j; since sum_j ds_j = di * p_phantom exactly, raw is centred on
                    // lse / temperature (where p ~ 1) to avoid cancellation, and the phantom term is added back.
                    float centre = tmp != 0 ? l / tmp : 0f;
                    if (j.dropScale == 1f) {
                        int ub = Vec.bound(len);
                        for (; x < ub; x += L) {
                            FloatVector raw = FloatVector.fromArray(F, S, c0 + x);
                            if (j.biasU != null) raw = raw.add(FloatVector.fromArray(F, j.biasU, biasOff + x));
                            FloatVector p = Vec.exp(raw.mul(tmp).sub(l));
                            FloatVector ds = p.mul(FloatVector.fromArray(F, DP, c0 + x).sub(di));
                            dTempV = ds.fma(raw.sub(centre), dTempV);
                            if (window > 0) FloatVector.fromArray(F, sc.dBias, x).add(ds).intoArray(sc.dBias, x);
                            ds.mul(tmp).intoArray(S, c0 + x);
                            p.intoArray(P, c0 + x);
                        }
                    }
                    for (; x < len; x++) {
                        float raw = S[c0 + x] + (j.biasU != null ? j.biasU[biasOff + x] : 0f);
                        float p = (float) StrictMath.exp(raw * tmp - l);
                        float keep = 1f;
                        if (j.dropScale != 1f) {
                            Sliding s = j.s;
                            keep = CounterRng.keep(s.dropoutSeed(), s.dropoutIndex(h, qs + il, ks + lo + x), s.dropoutRate()) ? j.dropScale : 0f;
                        }
                        float ds = p * (keep * DP[c0 + x] - di);
                        dTempS += (double) ds * (raw - centre);
                        if (window > 0) sc.dBias[x] += ds;
                        S[c0 + x] = ds * tmp;
                        P[c0 + x] = p * keep;
                    }
                    dTempS += Vec.sum(dTempV) + (double) centre * di * StrictMath.exp(PHANTOM - (double) l);
                    java.util.Arrays.fill(S, row, c0, 0f);
                    java.util.Arrays.fill(S, c0 + len, row + span, 0f);
                    java.util.Arrays.fill(P, row, c0, 0f);
                    java.util.Arrays.fill(P, c0 + len, row + span, 0f);
                }
                // dq = ds . k (ds already times the temperature)
                for (int r = t0; r < t1; r += 4) {
                    int rr = Math.min(4, t1 - r), lo = j.lo(r), hi = j.hi(r + rr - 1);
                    PanelGemm.mul(rr, hi - lo, S, (r - t0) * ldS + lo - tlo, ldS, sc.kr, (ks + lo) * dp, dp, sc.tile, (r - t0) * dp, dp, dp, false);
                }
                for (int il = t0; il < t1; il++) Elementwise.addInto(sc.tile, (il - t0) * dp, dq, (g * j.tq + qs + il) * hd + h * d, d);
                // dk += ds^T . q and dv += p^T . dOut over the tile's keys (the tiles read transposed in place)
                PanelGemm.mulTransposedA(span, rows, S, 0, ldS, sc.q, t0 * dp, dp, sc.dk, (ks + tlo) * dp, dp, dp);
                PanelGemm.mulTransposedA(span, rows, P, 0, ldS, sc.dO, t0 * dp, dp, sc.dv, (ks + tlo) * dp, dp, dp);
            }
        }
        for (int jk = 0; jk < j.tk; jk++) {
            int o = (g * j.tk + jk) * hd + h * d, so = jk * dp;
            Elementwise.addInto(sc.dk, so, dk, o, d);
            Elementwise.addInto(sc.dv, so, dv, o, d);
        }
        dTempW[h] += dTempS;
        if (window > 0) {
            Sliding s = j.s;
            for (int u = 0; u < window; u++) {
                dRelW[h * s.buckets() + T5Buckets.bucket(window - u, s.buckets(), s.maxDistance())] += (double) tmp * sc.dBias[u];
            }
        }
    }

    /** dst[r * dp + e] = src[(g*t + start + r) * hd + off + e] for e < d, zero for d <= e < dp. */
    private static void packRows(float[] src, int t, int g, int start, int n, int hd, int off, int d, int dp, float[] dst) {
        for (int r = 0; r < n; r++) {
            int so = (g * t + start + r) * hd + off;
            System.arraycopy(src, so, dst, r * dp, d);
            for (int e = d; e < dp; e++) dst[r * dp + e] = 0f;
        }
    }

    /** dst[e * ld + r] = src[(g*t + start + r) * hd + off + e] for r < n, zero for n <= r < ld. */
    private static void packTransposed(float[] src, int t, int g, int start, int n, int hd, int off, int d, int ld, float[] dst) {
        for (int r = 0; r < n; r++) {
            int so = (g * t + start + r) * hd + off;
            for (int e = 0; e < d; e++) dst[e * ld + r] = src[so + e];
        }
        for (int e = 0; e < d; e++) java.util.Arrays.fill(dst, e * ld + n, e * ld + ld, 0f);
    }
}
