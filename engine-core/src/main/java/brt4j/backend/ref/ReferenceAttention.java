package brt4j.backend.ref;

import brt4j.backend.CounterRng;
import brt4j.backend.Sliding;
import brt4j.backend.T5Buckets;

/**
 * The attention primitive of spec §1.3, one query row at a time, over every key (masked ones included, with the
 * logit replaced by -1e6 as meliad does), so that it reads exactly like the spec.
 * Layout: q [G, Tq, H*D], k and v [G, Tk, H*D], head h at features [h*D, (h+1)*D).
 */
final class ReferenceAttention {
    static final double MASKED = -1e6;
    static final double PHANTOM = -1000;

    private ReferenceAttention() {}

    static boolean allowed(Sliding s, int i, int j) {
        if (s == null) return true;
        int delta = i + s.window() - j;
        return delta >= 1 && delta <= s.window();
    }

    /** The logit before masking: (q . k + bias) * temperature. */
    static double logit(double[] q, double[] k, int qo, int ko, int dh, double temp, Sliding s, double[] relBias, int h, int i, int j) {
        double dot = 0;
        for (int e = 0; e < dh; e++) dot += q[qo + e] * k[ko + e];
        return (dot + bias(s, relBias, h, i, j)) * temp;
    }

    static double bias(Sliding s, double[] relBias, int h, int i, int j) {
        if (s == null) return 0;
        return relBias[h * s.buckets() + T5Buckets.bucket(i + s.window() - j, s.buckets(), s.maxDistance())];
    }

    static double dropScale(Sliding s, int h, int i, int j) {
        if (s == null || s.dropoutRate() == 0) return 1;
        return CounterRng.keep(s.dropoutSeed(), s.dropoutIndex(h, i, j), s.dropoutRate()) ? 1 / (1 - s.dropoutRate()) : 0;
    }

    static void forward(double[] q, double[] k, double[] v, int groups, int tq, int tk, int heads, int dh, double[] temp,
                        Sliding s, double[] relBias, double[] out, double[] lse) {
        int hd = heads * dh;
        double[] a = new double[tk];
        for (int g = 0; g < groups; g++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < tq; i++) {
                    int qo = (g * tq + i) * hd + h * dh;
                    double m = PHANTOM;
                    for (int j = 0; j < tk; j++) {
                        int ko = (g * tk + j) * hd + h * dh;
                        a[j] = allowed(s, i, j) ? logit(q, k, qo, ko, dh, temp[h], s, relBias, h, i, j) : MASKED;
                        m = Math.max(m, a[j]);
                    }
                    double denom = Math.exp(PHANTOM - m);
                    for (int j = 0; j < tk; j++) denom += Math.exp(a[j] - m);
                    double l = m + Math.log(denom);
                    lse[(g * heads + h) * tq + i] = l;
                    for (int e = 0; e < dh; e++) out[qo + e] = 0;
                    for (int j = 0; j < tk; j++) {
                        double p = Math.exp(a[j] - l) * dropScale(s, h, i, j);
                        int vo = (g * tk + j) * hd + h * dh;
                        for (int e = 0; e < dh; e++) out[qo + e] += p * v[vo + e];
                    }
                }
            }
        }
    }

    static void backward(double[] q, double[] k, double[] v, int groups, int tq, int tk, int heads, int dh, double[] temp,
                         Sliding s, double[] relBias, double[] out, double[] lse, double[] dOut,
                         double[] dq, double[] dk, double[] dv, double[] dTemp, double[] dRelBias) {
        int hd = heads * dh;
        double[] p = new double[tk], dp = new double[tk], raw = new double[tk];
        for (int g = 0; g < groups; g++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < tq; i++) {
                    int qo = (g * tq + i) * hd + h * dh;
                    double l = lse[(g * heads + h) * tq + i];
                    double dsum = 0;
                    for (int j = 0; j < tk; j++) {
                        int ko = (g * tk + j) * hd + h * dh;
                        if (!allowed(s, i, j)) { p[j] = 0; dp[j] = 0; continue; }
                        double a = logit(q, k, qo, ko, dh, temp[h], s, relBias, h, i, j);
                        raw[j] = a / temp[h];
                        p[j] = Math.exp(a - l);
                        double keep = dropScale(s, h, i, j), dov = 0;
                        for (int e = 0; e < dh; e++) dov += dOut[qo + e] * v[ko + e];
                        dp[j] = keep * dov;
                        for (int e = 0; e < dh; e++) dv[ko + e] += p[j] * keep * dOut[qo + e];
                        dsum += p[j] * dp[j];
                    }
                    for (int j = 0; j < tk; j++) {
                        if (!allowed(s, i, j)) continue;
                        int ko = (g * tk + j) * hd + h * dh;
                        double ds = p[j] * (dp[j] - dsum);          // d loss / d logit a_j
                        for (int e = 0; e < dh; e++) {
                            dq[qo + e] += ds * temp[h] * k[ko + e];
                            dk[ko + e] += ds * temp[h] * q[qo + e];
                        }
                        dTemp[h] += ds * raw[j];
                        if (s != null) {
                            dRelBias[h * s.buckets() + T5Buckets.bucket(i + s.window() - j, s.buckets(), s.maxDistance())] += ds * temp[h];
                        }
                    }
                }
            }
        }
    }
}
