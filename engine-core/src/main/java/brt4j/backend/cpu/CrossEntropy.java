package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Softmax cross-entropy over rows of a [rows, V] logit matrix (V ~ 32k), parallel over rows. The log-sum-exp is two
 * passes per row (the maximum, then the sum of exps per vector lane: one exp per element); backward makes one more
 * pass that writes the gradient. Everything is float32 except the final lane combination and the returned total,
 * which are double.
 */
final class CrossEntropy {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;

    private CrossEntropy() {}

    /**
     * log(sum_i exp(x[o + i])), i < n: a pass for the maximum, then one for the sum of exp(x - max), one exp per
     * vector. Not one pass with a running maximum: its five exps per step made the method too large for C2 to
     * inline them, and the vector blend inside exp then ran as an interpreted-speed fallback (8% of a training
     * step). The row (V floats) is in L1/L2 for the second pass.
     */
    static double logSumExp(float[] x, int o, int n) {
        int ub = Vec.bound(n);
        float mx = max(x, o, n);
        FloatVector s = FloatVector.zero(F);
        for (int i = 0; i < ub; i += L) s = s.add(Vec.exp(FloatVector.fromArray(F, x, o + i).sub(mx)));
        double sum = Vec.sum(s);
        for (int t = ub; t < n; t++) sum += StrictMath.exp(x[o + t] - mx);
        return mx + StrictMath.log(sum);
    }

    /** The largest of x[o : o+n] (-Float.MAX_VALUE for n = 0). */
    private static float max(float[] x, int o, int n) {
        int ub = Vec.bound(n);
        float mx = -Float.MAX_VALUE;
        if (ub > 0) {
            // four independent maxima: with one, each step waited for the last (Java's max is a five-instruction
            // sequence on AVX2, for its NaN and -0 rules); max is exact, so the order does not change the result
            FloatVector m0 = FloatVector.fromArray(F, x, o), m1 = m0, m2 = m0, m3 = m0;
            int i = L;
            for (; i + 4 * L <= ub; i += 4 * L) {
                m0 = m0.max(FloatVector.fromArray(F, x, o + i));
                m1 = m1.max(FloatVector.fromArray(F, x, o + i + L));
                m2 = m2.max(FloatVector.fromArray(F, x, o + i + 2 * L));
                m3 = m3.max(FloatVector.fromArray(F, x, o + i + 3 * L));
            }
            for (; i < ub; i += L) m0 = m0.max(FloatVector.fromArray(F, x, o + i));
            mx = m0.max(m1).max(m2.max(m3)).reduceLanes(VectorOperators.MAX);
        }
        for (int t = ub; t < n; t++) mx = Math.max(mx, x[o + t]);
        return mx;
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

    /** Each thread's row of exps for {@link #forwardWithGradient} into a gradient that already holds values. */
    private static final ThreadRow EXPS = new ThreadRow();

    /**
     * The forward and dLogits += gradScale * (softmax - onehot) per unmasked row, in one pass over each row: the
     * maximum, then exp(x - max) summed (the sum the forward's log-sum-exp takes, so the loss has the same bits as
     * {@link #forward}) and kept, then the gradient as exp * (gradScale / sum). One exp per element where forward and
     * backward take two, and the logits are read while the row is still in L1/L2. With overwrite (a fresh gradient)
     * the exps are kept in dLogits itself and the masked rows are zeroed; otherwise in a row of scratch and added:
     * 0 + g is g, so the bits do not depend on whether the gradient's array was reused.
     */
    static double forwardWithGradient(CpuPool pool, float[] logits, int v, int[] targets, boolean[] mask, double gradScale,
                                      float[] rowLoss, float[] dLogits, boolean overwrite) {
        int rows = targets.length;
        double[] loss = new double[rows];
        pool.parallelFor(rows, 1, (s, e, w) -> {
            float[] ex = overwrite ? dLogits : EXPS.get(v);
            for (int r = s; r < e; r++) {
                int o = r * v, xo = overwrite ? o : 0;
                if (!mask[r]) {
                    rowLoss[r] = 0;
                    if (overwrite) java.util.Arrays.fill(dLogits, o, o + v, 0f);
                    continue;
                }
                int ub = Vec.bound(v);
                float mx = max(logits, o, v);
                FloatVector acc = FloatVector.zero(F);
                for (int i = 0; i < ub; i += L) {
                    FloatVector x = Vec.exp(FloatVector.fromArray(F, logits, o + i).sub(mx));
                    x.intoArray(ex, xo + i);
                    acc = acc.add(x);
                }
                double sum = Vec.sum(acc);
                for (int t = ub; t < v; t++) {
                    double x = StrictMath.exp(logits[o + t] - mx);
                    ex[xo + t] = (float) x;
                    sum += x;
                }
                int target = o + Math.floorMod(targets[r], v);
                loss[r] = mx + StrictMath.log(sum) - logits[target];
                rowLoss[r] = (float) loss[r];
                float gs = (float) gradScale, f = (float) (gradScale / sum);
                if (overwrite) {
                    Vec.scale(dLogits, o, v, f);
                } else {
                    int i = 0;
                    for (; i < ub; i += L) FloatVector.fromArray(F, ex, i).mul(f).add(FloatVector.fromArray(F, dLogits, o + i)).intoArray(dLogits, o + i);
                    for (; i < v; i++) dLogits[o + i] += ex[i] * f;
                }
                dLogits[target] -= gs;
            }
        });
        double total = 0;
        for (double x : loss) total += x;
        return total;
    }

    /**
     * dLogits += gradScale * (softmax - onehot) per unmasked row; with overwrite, dLogits = that (zeros where masked).
     * rowLoss (the forward's, or null) gives each row's log-sum-exp as rowLoss + logits[target]: float32 loss plus a
     * logit, within an ulp of the log-sum-exp recomputed here (the test holds both to the oracle).
     */
    static void backward(CpuPool pool, float[] logits, int v, int[] targets, boolean[] mask, double gradScale, float[] dLogits,
                         boolean overwrite, float[] rowLoss) {
        int rows = targets.length;
        pool.parallelFor(rows, 1, (s, e, w) -> {
            for (int r = s; r < e; r++) {
                int o = r * v;
                if (!mask[r]) {
                    if (overwrite) java.util.Arrays.fill(dLogits, o, o + v, 0f);
                    continue;
                }
                int t = o + Math.floorMod(targets[r], v);
                float lse = (float) (rowLoss != null ? (double) rowLoss[r] + logits[t] : logSumExp(logits, o, v)), gs = (float) gradScale;
                int i = 0, ub = Vec.bound(v);
                FloatVector g = FloatVector.broadcast(F, gs);
                if (overwrite) {
                    for (; i < ub; i += L) Vec.exp(FloatVector.fromArray(F, logits, o + i).sub(lse)).mul(g).intoArray(dLogits, o + i);
                    for (; i < v; i++) dLogits[o + i] = gs * (float) StrictMath.exp(logits[o + i] - lse);
                } else {
                    for (; i < ub; i += L) {
                        FloatVector p = Vec.exp(FloatVector.fromArray(F, logits, o + i).sub(lse));
                        p.fma(g, FloatVector.fromArray(F, dLogits, o + i)).intoArray(dLogits, o + i);
                    }
                    for (; i < v; i++) dLogits[o + i] += gs * (float) StrictMath.exp(logits[o + i] - lse);
                }
                dLogits[t] -= gs;
            }
        });
    }
}
