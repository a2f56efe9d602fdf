package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax cross-entropy over rows of a [rows, V] logit matrix (V ~ 32k), parallel over rows. The log-sum-exp is one
 * pass per row with a running maximum and sum per vector lane, rescaled once per chunk of four vectors (about one
 * exp per element); backward makes a second pass that writes the gradient. Everything is float32 except the final
 * lane combination and the returned total, which are double.
 */
final class CrossEntropy {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;

    private CrossEntropy() {}

    /** log(sum_i exp(x[o + i])), i < n. */
    static double logSumExp(float[] x, int o, int n) {
        FloatVector m = FloatVector.broadcast(F, -Float.MAX_VALUE), s = FloatVector.zero(F);
        int i = 0;
        for (; i + 4 * L <= n; i += 4 * L) {
            FloatVector v0 = FloatVector.fromArray(F, x, o + i), v1 = FloatVector.fromArray(F, x, o + i + L);
            FloatVector v2 = FloatVector.fromArray(F, x, o + i + 2 * L), v3 = FloatVector.fromArray(F, x, o + i + 3 * L);
            FloatVector nm = m.max(v0.max(v1).max(v2.max(v3)));
            s = s.mul(Vec.exp(m.sub(nm)))
                    .add(Vec.exp(v0.sub(nm))).add(Vec.exp(v1.sub(nm)))
                    .add(Vec.exp(v2.sub(nm))).add(Vec.exp(v3.sub(nm)));
            m = nm;
        }
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, o + i), nm = m.max(v);
            s = s.mul(Vec.exp(m.sub(nm))).add(Vec.exp(v.sub(nm)));
            m = nm;
        }
        float mx = m.reduceLanes(VectorOperators.MAX);
        for (int t = i; t < n; t++) mx = Math.max(mx, x[o + t]);
        double sum = Vec.sum(s.mul(Vec.exp(m.sub(mx))));
        for (int t = i; t < n; t++) sum += StrictMath.exp(x[o + t] - mx);
        return mx + StrictMath.log(sum);
    }

    static double forward(CpuPool pool, float[] logits, int v, int[] targets, boolean[] mask, float[] rowLoss) {
        int rows = targets.length;
        double[] loss = new double[rows];
        pool.parallelFor(rows, 1, (s, e, w) -> {
            for (int r = s; r < e; r++) {
                if (!mask[r]) { rowLoss[r] = 0; continue; }
                int o = r * v;
                loss[r] = logSumExp(logits, o, v) - logits[o + Math.floorMod(targets[r], v)];
                rowLoss[r] = (float) loss[r];
            }
        });
        double total = 0;
        for (double x : loss) total += x;
        return total;
    }

    static void backward(CpuPool pool, float[] logits, int v, int[] targets, boolean[] mask, double gradScale, float[] dLogits) {
        int rows = targets.length;
        pool.parallelFor(rows, 1, (s, e, w) -> {
            for (int r = s; r < e; r++) {
                if (!mask[r]) continue;
                int o = r * v;
                float lse = (float) logSumExp(logits, o, v), gs = (float) gradScale;
                int i = 0, ub = Vec.bound(v);
                for (; i < ub; i += L) {
                    FloatVector p = Vec.exp(FloatVector.fromArray(F, logits, o + i).sub(lse));
                    p.fma(FloatVector.broadcast(F, gs), FloatVector.fromArray(F, dLogits, o + i)).intoArray(dLogits, o + i);
                }
                for (; i < v; i++) dLogits[o + i] += gs * (float) StrictMath.exp(logits[o + i] - lse);
                dLogits[o + Math.floorMod(targets[r], v)] -= gs;
            }
        });
    }
}
