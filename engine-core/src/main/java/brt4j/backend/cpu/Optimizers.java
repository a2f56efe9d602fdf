package brt4j.backend.cpu;

import brt4j.backend.AdafactorSpec;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * AdamW and Adafactor (spec §2.3) on float32 state, vectorized and parallel over element chunks or rows. Scalars
 * that the update depends on (bias corrections, the decay rate, the parameter RMS, the moment means, the clip
 * factor) are computed in double. Adafactor makes two passes instead of keeping the update in a temporary: the
 * first finds the update's RMS for clipping, the second recomputes the update and applies it.
 */
final class Optimizers {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;

    private Optimizers() {}

    static void adamW(CpuPool pool, float[] p, float[] g, float[] m, float[] v, int n, double lr, double beta1,
                      double beta2, double eps, double weightDecay, long step) {
        float b1 = (float) beta1, b2 = (float) beta2, ob1 = (float) (1 - beta1), ob2 = (float) (1 - beta2);
        float ic1 = (float) (1 / (1 - StrictMath.pow(beta1, step))), ic2 = (float) (1 / (1 - StrictMath.pow(beta2, step)));
        float fe = (float) eps, flr = (float) lr, fwd = (float) weightDecay;
        pool.parallelFor(n, Elementwise.GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            for (; i < ub; i += L) {
                FloatVector gv = FloatVector.fromArray(F, g, i);
                FloatVector mv = FloatVector.fromArray(F, m, i).mul(b1).add(gv.mul(ob1));
                FloatVector vv = FloatVector.fromArray(F, v, i).mul(b2).add(gv.mul(gv).mul(ob2));
                mv.intoArray(m, i);
                vv.intoArray(v, i);
                FloatVector upd = mv.mul(ic1).div(vv.mul(ic2).lanewise(VectorOperators.SQRT).add(fe));
                FloatVector pv = FloatVector.fromArray(F, p, i);
                pv.sub(upd.add(pv.mul(fwd)).mul(flr)).intoArray(p, i);
            }
            for (; i < e; i++) {
                m[i] = b1 * m[i] + ob1 * g[i];
                v[i] = b2 * v[i] + ob2 * g[i] * g[i];
                float upd = (m[i] * ic1) / ((float) Math.sqrt(v[i] * ic2) + fe);
                p[i] -= flr * (upd + fwd * p[i]);
            }
        });
    }

    static void adafactor(CpuPool pool, float[] p, int rows, int cols, float[] g, float[] m, float[] v, float[] vRow,
                          float[] vCol, double lr, long step, AdafactorSpec spec) {
        int n = p.length == 0 ? 0 : rows * cols;
        double decay = 1 - StrictMath.pow(step + 1, -spec.decayExponent()), mix = 1 - decay;
        double scale = lr;
        if (spec.multiplyByParameterScale()) scale *= Math.max(Math.sqrt(Elementwise.sumSquares(pool, p, n) / n), spec.epsilon2());
        float eps1 = (float) spec.epsilon1();
        // per-element factor y = g * fr[r] * fc[c] (factored) or y = g / sqrt(v) (full)
        float[] fr, fc;
        if (vRow != null) {
            for (int r = 0; r < rows; r++) {
                double mean = Norms.dot(g, r * cols, g, r * cols, cols) / (double) cols + spec.epsilon1();
                vRow[r] = (float) (decay * vRow[r] + mix * mean);
            }
            double[] colSum = new double[cols];
            float[] acc = new float[cols];
            for (int r = 0; r < rows; r++) {
                int o = r * cols, c = 0, ub = Vec.bound(cols);
                for (; c < ub; c += L) {
                    FloatVector gv = FloatVector.fromArray(F, g, o + c);
                    gv.fma(gv, FloatVector.fromArray(F, acc, c)).intoArray(acc, c);
                }
                for (; c < cols; c++) acc[c] += g[o + c] * g[o + c];
                if ((r & 63) == 63 || r == rows - 1) {     // flush to double every 64 rows
                    for (int j = 0; j < cols; j++) { colSum[j] += acc[j]; acc[j] = 0; }
                }
            }
            for (int c = 0; c < cols; c++) vCol[c] = (float) (decay * vCol[c] + mix * (colSum[c] / rows + spec.epsilon1()));
            float[] normalized = rows <= cols ? vRow : vCol;
            double norm = 0;
            for (float x : normalized) norm += x;
            norm /= normalized.length;
            fr = new float[rows];
            fc = new float[cols];
            for (int r = 0; r < rows; r++) fr[r] = (float) (1 / Math.sqrt(vRow[r] / norm));
            for (int c = 0; c < cols; c++) fc[c] = (float) (1 / Math.sqrt((double) vCol[c]));
        } else {
            fr = null;
            fc = null;
            float fd = (float) decay, fm = (float) mix;
            pool.parallelFor(n, Elementwise.GRAIN, (s, e, w) -> {
                int i = s, ub = s + Vec.bound(e - s);
                for (; i < ub; i += L) {
                    FloatVector gv = FloatVector.fromArray(F, g, i);
                    FloatVector.fromArray(F, v, i).mul(fd).add(gv.fma(gv, FloatVector.broadcast(F, eps1)).mul(fm)).intoArray(v, i);
                }
                for (; i < e; i++) v[i] = fd * v[i] + fm * (g[i] * g[i] + eps1);
            });
        }
        // pass 1: mean square of the update, for clipping
        int units = fr != null ? rows : (n + Elementwise.GRAIN - 1) / Elementwise.GRAIN;
        double[] part = new double[Math.max(1, units)];
        pool.parallelFor(units, 1, (s, e, w) -> {
            for (int u = s; u < e; u++) {
                FloatVector acc = FloatVector.zero(F);
                int lo = fr != null ? u * cols : u * Elementwise.GRAIN, hi = fr != null ? lo + cols : Math.min(n, lo + Elementwise.GRAIN);
                int i = lo, ub = lo + Vec.bound(hi - lo);
                double sum = 0;
                for (; i < ub; i += L) {
                    FloatVector y = update(g, v, fr, fc, u, lo, i);
                    acc = y.fma(y, acc);
                }
                sum += Vec.sum(acc);
                for (; i < hi; i++) { float y = update(g, v, fr, fc, u, lo, i, 0); sum += (double) y * y; }
                part[u] = sum;
            }
        });
        double ms = 0;
        for (double x : part) ms += x;
        double clip = Math.max(1, Math.sqrt(ms / n) / spec.clipThreshold());
        float k = (float) (scale / clip), b1 = (float) spec.beta1(), ob1 = (float) (1 - spec.beta1());
        // pass 2: apply
        pool.parallelFor(units, 1, (s, e, w) -> {
            for (int u = s; u < e; u++) {
                int lo = fr != null ? u * cols : u * Elementwise.GRAIN, hi = fr != null ? lo + cols : Math.min(n, lo + Elementwise.GRAIN);
                int i = lo, ub = lo + Vec.bound(hi - lo);
                for (; i < ub; i += L) {
                    FloatVector sub = update(g, v, fr, fc, u, lo, i).mul(k);
                    if (m != null) {
                        sub = FloatVector.fromArray(F, m, i).mul(b1).add(sub.mul(ob1));
                        sub.intoArray(m, i);
                    }
                    FloatVector.fromArray(F, p, i).sub(sub).intoArray(p, i);
                }
                for (; i < hi; i++) {
                    float sub = update(g, v, fr, fc, u, lo, i, 0) * k;
                    if (m != null) { m[i] = b1 * m[i] + ob1 * sub; sub = m[i]; }
                    p[i] -= sub;
                }
            }
        });
    }

    /** The unscaled update of the vector at element i (row u starting at lo when factored). */
    private static FloatVector update(float[] g, float[] v, float[] fr, float[] fc, int u, int lo, int i) {
        FloatVector gv = FloatVector.fromArray(F, g, i);
        if (fr != null) return gv.mul(fr[u]).mul(FloatVector.fromArray(F, fc, i - lo));
        return gv.div(FloatVector.fromArray(F, v, i).lanewise(VectorOperators.SQRT));
    }

    private static float update(float[] g, float[] v, float[] fr, float[] fc, int u, int lo, int i, int scalar) {
        if (fr != null) return g[i] * fr[u] * fc[i - lo];
        return g[i] / (float) Math.sqrt(v[i]);
    }
}
