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
 * <p>Per (group, head, query): scores q . k over the W allowed keys, four keys at a time (the query's slice loaded
 * once per four keys, four independent FMA chains), plus the T5 bias, times the temperature; the safe softmax with
 * the phantom -1000 logit; out = (sum_j e_j v_j) / denominator, four value rows at a time.
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
        int units = groups * heads * tq;
        long macsPerUnit = 2L * Math.max(w, 1) * Math.max(d, 1);
        int grain = (int) Math.max(1, Math.min(units, MIN_CHUNK_MACS / macsPerUnit));
        pool.parallelFor(units, grain, (u0, u1, worker) -> {
            Scratch sc = scratch[worker];
            if (sc.scores.length < w + L) sc.scores = new float[w + L];
            if (sc.acc.length < d + L) sc.acc = new float[d + L];
            for (int u = u0; u < u1; u++) {
                int g = u / (heads * tq), h = (u / tq) % heads, i = u % tq;
                int qo = (g * tq + i) * hd + h * d;
                int ko = (g * t + start + step * i) * hd + h * d;   // key x of this query is at ko + x * hd
                float l = query(q, qo, k, v, ko, hd, w, d, temp[h], biasH, h * w, out, sc);
                if (lse != null) lse[(g * heads + h) * tq + i] = l;
            }
        });
    }

    /**
     * One query over its w keys (bias null: none); writes out[qo .. qo + d) and returns max + log(denominator).
     * Split into small methods so that C2 inlines each whole and keeps the vectors in registers.
     */
    private static float query(float[] q, int qo, float[] k, float[] v, int ko, int hd, int w, int d, float temp,
                               float[] bias, int bo, float[] out, Scratch sc) {
        float[] s = sc.scores;
        scores(q, qo, k, ko, hd, w, d, s, sc.lanes);
        float mx = logitsAndMax(s, w, bias, bo, temp);
        float sum = expShift(s, w, mx);
        double denom = sum + StrictMath.exp(PHANTOM - (double) mx);
        weightedSum(s, v, ko, hd, w, d, sc.acc);
        float inv = (float) (1 / denom);
        for (int e = 0; e < d; e++) out[qo + e] = sc.acc[e] * inv;
        return (float) (mx + StrictMath.log(denom));
    }

    /** s[x] = q . k_x for the w keys, four at a time (each key summed in the same order either way). */
    private static void scores(float[] q, int qo, float[] k, int ko, int hd, int w, int d, float[] s, float[] lanes) {
        int ub = Vec.bound(d), x = 0;
        for (; x + 4 <= w; x += 4) {
            int r0 = ko + x * hd, r1 = r0 + hd, r2 = r1 + hd, r3 = r2 + hd;
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
            s[x] = finishDot(lanes, 0, q, qo, k, r0, ub, d);
            s[x + 1] = finishDot(lanes, L, q, qo, k, r1, ub, d);
            s[x + 2] = finishDot(lanes, 2 * L, q, qo, k, r2, ub, d);
            s[x + 3] = finishDot(lanes, 3 * L, q, qo, k, r3, ub, d);
        }
        for (; x < w; x++) {
            int r = ko + x * hd;
            FloatVector a = FloatVector.zero(F);
            for (int e = 0; e < ub; e += L) a = FloatVector.fromArray(F, q, qo + e).fma(FloatVector.fromArray(F, k, r + e), a);
            a.intoArray(lanes, 0);
            s[x] = finishDot(lanes, 0, q, qo, k, r, ub, d);
        }
    }

    /** s = (s + bias) * temperature in place; returns the maximum, at least the phantom logit. */
    private static float logitsAndMax(float[] s, int w, float[] bias, int bo, float temp) {
        FloatVector vmax = FloatVector.broadcast(F, PHANTOM);
        int wb = Vec.bound(w), x = 0;
        for (; x < wb; x += L) {
            FloatVector a = FloatVector.fromArray(F, s, x);
            if (bias != null) a = a.add(FloatVector.fromArray(F, bias, bo + x));
            a = a.mul(temp);
            a.intoArray(s, x);
            vmax = vmax.max(a);
        }
        float mx = vmax.reduceLanes(VectorOperators.MAX);   // a maximum is exact in any order
        for (; x < w; x++) {
            float a = (s[x] + (bias != null ? bias[bo + x] : 0f)) * temp;
            s[x] = a;
            mx = Math.max(mx, a);
        }
        return mx;
    }

    /** s = exp(s - mx) in place; returns their sum. */
    private static float expShift(float[] s, int w, float mx) {
        FloatVector esum = FloatVector.zero(F);
        int wb = Vec.bound(w), x = 0;
        for (; x < wb; x += L) {
            FloatVector e = Vec.exp(FloatVector.fromArray(F, s, x).sub(mx));
            e.intoArray(s, x);
            esum = esum.add(e);
        }
        float sum = Vec.sum(esum);
        for (; x < w; x++) {
            float e = (float) StrictMath.exp(s[x] - mx);
            s[x] = e;
            sum += e;
        }
        return sum;
    }

    /** acc[0 .. d) = sum_x p[x] v_x, four value rows at a time. */
    private static void weightedSum(float[] p, float[] v, int ko, int hd, int w, int d, float[] acc) {
        int ub = Vec.bound(d), x = 0;
        java.util.Arrays.fill(acc, 0, d, 0f);
        for (; x + 4 <= w; x += 4) {
            int r0 = ko + x * hd, r1 = r0 + hd, r2 = r1 + hd, r3 = r2 + hd;
            float p0 = p[x], p1 = p[x + 1], p2 = p[x + 2], p3 = p[x + 3];
            FloatVector b0 = FloatVector.broadcast(F, p0), b1 = FloatVector.broadcast(F, p1);
            FloatVector b2 = FloatVector.broadcast(F, p2), b3 = FloatVector.broadcast(F, p3);
            int e = 0;
            for (; e < ub; e += L) {
                FloatVector o = FloatVector.fromArray(F, acc, e);
                o = FloatVector.fromArray(F, v, r0 + e).fma(b0, o);
                o = FloatVector.fromArray(F, v, r1 + e).fma(b1, o);
                o = FloatVector.fromArray(F, v, r2 + e).fma(b2, o);
                o = FloatVector.fromArray(F, v, r3 + e).fma(b3, o);
                o.intoArray(acc, e);
            }
            for (; e < d; e++) acc[e] = v[r3 + e] * p3 + (v[r2 + e] * p2 + (v[r1 + e] * p1 + (v[r0 + e] * p0 + acc[e])));
        }
        for (; x < w; x++) {
            int r = ko + x * hd;
            float px = p[x];
            FloatVector bp = FloatVector.broadcast(F, px);
            int e = 0;
            for (; e < ub; e += L) FloatVector.fromArray(F, v, r + e).fma(bp, FloatVector.fromArray(F, acc, e)).intoArray(acc, e);
            for (; e < d; e++) acc[e] += v[r + e] * px;
        }
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
