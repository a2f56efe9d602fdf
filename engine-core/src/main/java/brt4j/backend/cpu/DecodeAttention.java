package brt4j.backend.cpu;

import brt4j.backend.Sliding;
import brt4j.backend.T5Buckets;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Generation's attention for a few queries ({@link brt4j.backend.Backend#windowAttention}, and a token's
 * cross-attention to the state): queries read their keys and values where the decoder keeps them, rows
 * [start + i, start + i + W) of a [G, T, H*D] buffer for query i under the sliding window, or all rows without one.
 * {@link FusedAttention} packs q, k^T and v per (group, head) before a blocked product, which pays off for a block
 * of queries but for one token copies every key and value of the window again; here nothing is copied.
 *
 * <p>Per (group, query, run of heads): scores q . k over the W allowed keys, four keys at a time (the query's slice
 * loaded once per four keys, four independent FMA chains), plus the T5 bias, times the temperature; the safe softmax
 * with the phantom -1000 logit; out = sum_j p_j v_j, four value rows at a time. Key and value rows are visited in
 * memory order, every head of the run within each four rows.
 *
 * <p>Every key's dot product is summed in one fixed order (lanes left to right, then the scalar tail), whichever
 * group of four it falls in and however the work is split over threads, so the bits do not depend on the thread
 * count; the lane sums go through a small scratch array, not {@code lane(i)} calls, which C2 does not unroll.
 */
final class DecodeAttention {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;
    private static final float PHANTOM = -1000f;
    /**
     * Multiply-adds a chunk must hold before another thread is woken for it: a hand-off costs tens of microseconds,
     * about what one core needs to stream the 1 MB of keys and values that 256k multiply-adds read.
     */
    static final int MIN_CHUNK_MACS = 1 << 18;

    private final CpuPool pool;
    private final Scratch[] scratch;
    private int[] bucketOf = new int[0];    // bucket of key x in a query's window, for the last (window, buckets, max)
    private int cachedWindow, cachedBuckets, cachedMax;

    DecodeAttention(CpuPool pool) {
        this.pool = pool;
        this.scratch = new Scratch[pool.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    private static final class Scratch {
        float[] scores = new float[0], acc = new float[0];
        final float[] lanes = new float[4 * L];
    }

    /**
     * out (and lse, when not null) for q [G, Tq, H*D] over key and value buffers [G, T, H*D]. With a sliding window
     * s, query i reads the s.window() rows from start + i (windowAttention); without one, all T rows (attention
     * without mask or bias, start 0: a token's cross-attention to the recurrent state).
     */
    void forward(float[] q, float[] k, float[] v, int groups, int tq, int t, int start, int heads, int d, float[] temp,
                 Sliding s, float[] relBias, float[] out, float[] lse) {
        int w = s != null ? s.window() : t - start, step = s != null ? 1 : 0, hd = heads * d;
        float[] bias = null;
        if (s != null) {
            // bias[h * w + x]: the T5 bias of key x of a query's window (distance w - x) for head h.
            int buckets = s.buckets();
            int[] bk = buckets(w, buckets, s.maxDistance());
            bias = new float[heads * w];
            for (int h = 0; h < heads; h++) for (int x = 0; x < w; x++) bias[h * w + x] = relBias[h * buckets + bk[x]];
        }
        float[] biasH = bias;
        // A unit is (group, query, a run of heads): its loops go over key rows and, within four rows, over its heads,
        // so the keys and values stream through memory in order (one head at a time would read 256 bytes of every
        // 2 KB row, which the prefetchers follow badly once the window is out of cache). A unit holds enough heads to
        // be worth a hand-off; a call too small for one stays on the calling thread.
        long macsPerHead = 2L * Math.max(w, 1) * Math.max(d, 1);
        int perUnit = (int) Math.min(heads, Math.max(1, (MIN_CHUNK_MACS + macsPerHead - 1) / macsPerHead));
        int runs = (heads + perUnit - 1) / perUnit, units = groups * tq * runs;
        int grain = (int) Math.max(1, Math.min(units, MIN_CHUNK_MACS / (macsPerHead * perUnit)));
        pool.parallelFor(units, grain, (u0, u1, worker) -> {
            Scratch sc = scratch[worker];
            if (sc.scores.length < perUnit * w + L) sc.scores = new float[perUnit * w + L];
            if (sc.acc.length < perUnit * d + L) sc.acc = new float[perUnit * d + L];
            for (int u = u0; u < u1; u++) {
                int g = u / (tq * runs), i = (u / runs) % tq, h0 = (u % runs) * perUnit, h1 = Math.min(heads, h0 + perUnit);
                int qo = (g * tq + i) * hd;
                int ko = (g * t + start + step * i) * hd;   // row of key x of this query: ko + x * hd
                query(q, qo, k, v, ko, hd, w, d, h0, h1, temp, biasH, out, lse, (g * heads) * tq + i, tq, sc);
            }
        });
    }

    /**
     * One query, heads [h0, h1), over its w keys (bias null: none): writes out[qo + h*d ..] and, when lse is not
     * null, lse[lseAt + h * tq] = max + log(denominator). Split into small methods that C2 inlines whole.
     */
    private static void query(float[] q, int qo, float[] k, float[] v, int ko, int hd, int w, int d, int h0, int h1,
                              float[] temp, float[] bias, float[] out, float[] lse, int lseAt, int tq, Scratch sc) {
        float[] s = sc.scores, acc = sc.acc;
        int x = 0;
        for (; x + 4 <= w; x += 4) {
            for (int h = h0; h < h1; h++) scores4(q, qo + h * d, k, ko + x * hd + h * d, hd, d, s, (h - h0) * w + x, sc.lanes);
        }
        for (; x < w; x++) {
            for (int h = h0; h < h1; h++) s[(h - h0) * w + x] = dot(q, qo + h * d, k, ko + x * hd + h * d, d, sc.lanes);
        }
        for (int h = h0; h < h1; h++) {
            int so = (h - h0) * w;
            float mx = logitsAndMax(s, so, w, bias, h * w, temp[h]);
            float sum = Vec.expShiftSum(s, so, w, mx);
            double denom = sum + StrictMath.exp(PHANTOM - (double) mx);
            if (lse != null) lse[lseAt + h * tq] = (float) (mx + StrictMath.log(denom));
            Vec.scale(s, so, w, (float) (1 / denom));
        }
        java.util.Arrays.fill(acc, 0, (h1 - h0) * d, 0f);
        for (x = 0; x + 4 <= w; x += 4) {
            for (int h = h0; h < h1; h++) accumulate4(s, (h - h0) * w + x, v, ko + x * hd + h * d, hd, d, acc, (h - h0) * d);
        }
        for (; x < w; x++) {
            for (int h = h0; h < h1; h++) accumulate1(s[(h - h0) * w + x], v, ko + x * hd + h * d, d, acc, (h - h0) * d);
        }
        for (int h = h0; h < h1; h++) System.arraycopy(acc, (h - h0) * d, out, qo + h * d, d);
    }

    /** s[so .. so + 4) = q . k for four consecutive key rows (at r0, r0 + hd, ..), each summed as {@link #dot} does. */
    private static void scores4(float[] q, int qo, float[] k, int r0, int hd, int d, float[] s, int so, float[] lanes) {
        int ub = Vec.bound(d), r1 = r0 + hd, r2 = r1 + hd, r3 = r2 + hd;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int e = 0; e < ub; e += L) {
            FloatVector qv = FloatVector.fromArray(F, q, qo + e);
            a0 = qv.fma(FloatVector.fromArray(F, k, r0 + e), a0);
            a1 = qv.fma(FloatVector.fromArray(F, k, r1 + e), a1);
            a2 = qv.fma(FloatVector.fromArray(F, k, r2 + e), a2);
            a3 = qv.fma(FloatVector.fromArray(F, k, r3 + e), a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        s[so] = finishDot(lanes, 0, q, qo, k, r0, ub, d);
        s[so + 1] = finishDot(lanes, L, q, qo, k, r1, ub, d);
        s[so + 2] = finishDot(lanes, 2 * L, q, qo, k, r2, ub, d);
        s[so + 3] = finishDot(lanes, 3 * L, q, qo, k, r3, ub, d);
    }

    /** q . k for one key row: vector partial sums, their lanes left to right, then the scalar tail. */
    private static float dot(float[] q, int qo, float[] k, int r, int d, float[] lanes) {
        int ub = Vec.bound(d);
        FloatVector a = FloatVector.zero(F);
        for (int e = 0; e < ub; e += L) a = FloatVector.fromArray(F, q, qo + e).fma(FloatVector.fromArray(F, k, r + e), a);
        a.intoArray(lanes, 0);
        return finishDot(lanes, 0, q, qo, k, r, ub, d);
    }

    /** s[so ..] = (s + bias[bo ..]) * temperature over w entries, in place; returns the maximum, at least the phantom. */
    private static float logitsAndMax(float[] s, int so, int w, float[] bias, int bo, float temp) {
        FloatVector vmax = FloatVector.broadcast(F, PHANTOM);
        int wb = Vec.bound(w), x = 0;
        for (; x < wb; x += L) {
            FloatVector a = FloatVector.fromArray(F, s, so + x);
            if (bias != null) a = a.add(FloatVector.fromArray(F, bias, bo + x));
            a = a.mul(temp);
            a.intoArray(s, so + x);
            vmax = vmax.max(a);
        }
        float mx = vmax.reduceLanes(VectorOperators.MAX);   // a maximum is exact in any order
        for (; x < w; x++) {
            float a = (s[so + x] + (bias != null ? bias[bo + x] : 0f)) * temp;
            s[so + x] = a;
            mx = Math.max(mx, a);
        }
        return mx;
    }

    /** acc[ao .. ao + d) += sum of p[po + j] * v row j for four consecutive value rows (at r0, r0 + hd, ..). */
    private static void accumulate4(float[] p, int po, float[] v, int r0, int hd, int d, float[] acc, int ao) {
        int ub = Vec.bound(d), r1 = r0 + hd, r2 = r1 + hd, r3 = r2 + hd, e = 0;
        float p0 = p[po], p1 = p[po + 1], p2 = p[po + 2], p3 = p[po + 3];
        FloatVector b0 = FloatVector.broadcast(F, p0), b1 = FloatVector.broadcast(F, p1);
        FloatVector b2 = FloatVector.broadcast(F, p2), b3 = FloatVector.broadcast(F, p3);
        for (; e < ub; e += L) {
            FloatVector o = FloatVector.fromArray(F, acc, ao + e);
            o = FloatVector.fromArray(F, v, r0 + e).fma(b0, o);
            o = FloatVector.fromArray(F, v, r1 + e).fma(b1, o);
            o = FloatVector.fromArray(F, v, r2 + e).fma(b2, o);
            o = FloatVector.fromArray(F, v, r3 + e).fma(b3, o);
            o.intoArray(acc, ao + e);
        }
        for (; e < d; e++) acc[ao + e] = v[r3 + e] * p3 + (v[r2 + e] * p2 + (v[r1 + e] * p1 + (v[r0 + e] * p0 + acc[ao + e])));
    }

    private static void accumulate1(float px, float[] v, int r, int d, float[] acc, int ao) {
        int ub = Vec.bound(d), e = 0;
        FloatVector bp = FloatVector.broadcast(F, px);
        for (; e < ub; e += L) FloatVector.fromArray(F, v, r + e).fma(bp, FloatVector.fromArray(F, acc, ao + e)).intoArray(acc, ao + e);
        for (; e < d; e++) acc[ao + e] += v[r + e] * px;
    }

    /** The lanes of one key's vector dot product added left to right, then the scalar tail [ub, d). */
    private static float finishDot(float[] lanes, int lo, float[] q, int qo, float[] k, int ko, int ub, int d) {
        float s = 0;
        for (int l = 0; l < L; l++) s += lanes[lo + l];
        for (int e = ub; e < d; e++) s += q[qo + e] * k[ko + e];
        return s;
    }

    /** T5 bucket of key x of a query's window (distance w - x), kept for the last geometry asked (per layer alike). */
    private synchronized int[] buckets(int w, int buckets, int maxDistance) {
        if (bucketOf.length != w || cachedWindow != w || cachedBuckets != buckets || cachedMax != maxDistance) {
            int[] b = new int[w];
            for (int x = 0; x < w; x++) b[x] = T5Buckets.bucket(w - x, buckets, maxDistance);
            cachedWindow = w; cachedBuckets = buckets; cachedMax = maxDistance;
            bucketOf = b;
        }
        return bucketOf;
    }
}
