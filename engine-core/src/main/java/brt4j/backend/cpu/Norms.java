package brt4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * RMS norm over rows (spec §1.5) and per-head L2 norm (spec §1.3), forward and backward, parallel over rows.
 * Statistics are accumulated in float32 vectors within a row and finished in double. The scale gradient of the RMS
 * norm is summed over rows in per-thread partials, then reduced, so threads never share a written cache line.
 */
final class Norms {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final int L = Vec.L;

    private Norms() {}

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, ub = Vec.bound(n);
        for (; i < ub; i += L) acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
        float s = Vec.sum(acc);
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    static void rmsNorm(CpuPool pool, float[] x, float[] g, double eps, float[] out, float[] rstd, int rows, int cols) {
        pool.parallelFor(rows, pool.grain(rows, Math.max(1, 8192 / Math.max(1, cols))), (s, e, w) -> {
            for (int r = s; r < e; r++) {
                int o = r * cols;
                double ms = dot(x, o, x, o, cols);
                float inv = (float) (1 / Math.sqrt(ms / cols + eps));
                rstd[r] = inv;
                int c = 0, ub = Vec.bound(cols);
                for (; c < ub; c += L) {
                    FloatVector.fromArray(F, x, o + c).mul(inv).mul(FloatVector.fromArray(F, g, c)).intoArray(out, o + c);
                }
                for (; c < cols; c++) out[o + c] = x[o + c] * inv * g[c];
            }
        });
    }

    static void rmsNormBackward(CpuPool pool, float[] x, float[] g, float[] rstd, float[] dy, float[] dx, float[] dg,
                                int rows, int cols) {
        int threads = pool.threads();
        float[][] part = new float[threads][];
        pool.parallelFor(rows, pool.grain(rows, Math.max(1, 8192 / Math.max(1, cols))), (s, e, w) -> {
            float[] dgp = part[w];
            if (dgp == null) part[w] = dgp = new float[cols];
            for (int r = s; r < e; r++) {
                int o = r * cols;
                float inv = rstd[r];
                FloatVector acc = FloatVector.zero(F);
                int c = 0, ub = Vec.bound(cols);
                for (; c < ub; c += L) {
                    FloatVector xv = FloatVector.fromArray(F, x, o + c), dyv = FloatVector.fromArray(F, dy, o + c);
                    acc = dyv.mul(FloatVector.fromArray(F, g, c)).fma(xv, acc);
                    dyv.mul(xv).fma(FloatVector.broadcast(F, inv), FloatVector.fromArray(F, dgp, c)).intoArray(dgp, c);
                }
                float dot = Vec.sum(acc);
                for (; c < cols; c++) {
                    dot += dy[o + c] * g[c] * x[o + c];
                    dgp[c] += dy[o + c] * x[o + c] * inv;
                }
                float k = (float) ((double) inv * inv * dot / cols);
                c = 0;
                for (; c < ub; c += L) {
                    FloatVector t = FloatVector.fromArray(F, dy, o + c).mul(FloatVector.fromArray(F, g, c))
                            .sub(FloatVector.fromArray(F, x, o + c).mul(k));
                    t.fma(FloatVector.broadcast(F, inv), FloatVector.fromArray(F, dx, o + c)).intoArray(dx, o + c);
                }
                for (; c < cols; c++) dx[o + c] += inv * (dy[o + c] * g[c] - x[o + c] * k);
            }
        });
        for (float[] p : part) if (p != null) Elementwise.addInto(p, 0, dg, 0, cols);
    }

    static void l2NormHeads(CpuPool pool, float[] x, int heads, double eps, float[] out, float[] rnorm, int rows, int cols) {
        int hd = cols / heads, slices = rows * heads;
        pool.parallelFor(slices, pool.grain(slices, Math.max(1, 8192 / Math.max(1, hd))), (s, e, w) -> {
            for (int sl = s; sl < e; sl++) {
                int o = sl * hd;
                float inv = (float) (1 / Math.sqrt((double) dot(x, o, x, o, hd) + eps));
                rnorm[sl] = inv;
                int i = 0, ub = Vec.bound(hd);
                for (; i < ub; i += L) FloatVector.fromArray(F, x, o + i).mul(inv).intoArray(out, o + i);
                for (; i < hd; i++) out[o + i] = x[o + i] * inv;
            }
        });
    }

    static void l2NormHeadsBackward(CpuPool pool, float[] y, float[] rnorm, int heads, float[] dy, float[] dx, int rows, int cols) {
        int hd = cols / heads, slices = rows * heads;
        pool.parallelFor(slices, pool.grain(slices, Math.max(1, 8192 / Math.max(1, hd))), (s, e, w) -> {
            for (int sl = s; sl < e; sl++) {
                int o = sl * hd;
                float dot = dot(y, o, dy, o, hd), rn = rnorm[sl];
                int i = 0, ub = Vec.bound(hd);
                for (; i < ub; i += L) {
                    FloatVector t = FloatVector.fromArray(F, dy, o + i).sub(FloatVector.fromArray(F, y, o + i).mul(dot));
                    t.fma(FloatVector.broadcast(F, rn), FloatVector.fromArray(F, dx, o + i)).intoArray(dx, o + i);
                }
                for (; i < hd; i++) dx[o + i] += (dy[o + i] - y[o + i] * dot) * rn;
            }
        });
    }
}
