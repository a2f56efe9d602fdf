package brt4j.backend.cpu;

import brt4j.backend.Backend.Activation;
import brt4j.backend.CounterRng;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementwise kernels: add, axpy, scale, broadcast add and its reduction, activations, gates (spec §1.7), dropout,
 * the sum of squares, and the copy-like ops (embedding, row and column slices, batch select). Long flat loops are
 * split over threads in chunks of {@link #GRAIN} elements; each kernel is a vector loop plus a scalar tail.
 *
 * <p>Not yet vectorized: dropout draws its keep decisions one element at a time from {@link CounterRng} (a 64-bit
 * mix per element), parallel over rows.
 */
final class Elementwise {
    private static final VectorSpecies<Float> F = Vec.F;
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, F.vectorShape());
    private static final int L = Vec.L;
    static final int GRAIN = 1 << 15;

    private Elementwise() {}

    /** dst[do + i] += src[so + i], i < n. */
    static void addInto(float[] src, int so, float[] dst, int dOff, int n) {
        int i = 0, ub = Vec.bound(n);
        for (; i < ub; i += L) {
            FloatVector.fromArray(F, dst, dOff + i).add(FloatVector.fromArray(F, src, so + i)).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) dst[dOff + i] += src[so + i];
    }

    /** dst = 0 + src: what {@link #addInto} leaves in zeros (a -0 becomes +0), without reading dst. */
    static void addIntoZeros(float[] src, int so, float[] dst, int dOff, int n) {
        int i = 0, ub = Vec.bound(n);
        FloatVector zero = FloatVector.zero(F);
        for (; i < ub; i += L) zero.add(FloatVector.fromArray(F, src, so + i)).intoArray(dst, dOff + i);
        for (; i < n; i++) dst[dOff + i] = 0f + src[so + i];
    }

    static void add(CpuPool pool, float[] a, float[] b, float[] out, int n) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            for (; i < ub; i += L) FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i)).intoArray(out, i);
            for (; i < e; i++) out[i] = a[i] + b[i];
        });
    }

    static void axpy(CpuPool pool, float alpha, float[] x, float[] y, int n) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            for (; i < ub; i += L) FloatVector.fromArray(F, x, i).fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, y, i)).intoArray(y, i);
            for (; i < e; i++) y[i] += alpha * x[i];
        });
    }

    /** y = 0 + alpha x: {@link #axpy} into zeros, bit for bit (-0 included), without reading the zeros' array. */
    static void scaleInto(CpuPool pool, float alpha, float[] x, float[] y, int n) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            FloatVector zero = FloatVector.zero(F), a = FloatVector.broadcast(F, alpha);
            for (; i < ub; i += L) FloatVector.fromArray(F, x, i).fma(a, zero).intoArray(y, i);
            for (; i < e; i++) y[i] = 0f + alpha * x[i];
        });
    }

    static void scale(CpuPool pool, float[] x, float alpha, int n) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            for (; i < ub; i += L) FloatVector.fromArray(F, x, i).mul(alpha).intoArray(x, i);
            for (; i < e; i++) x[i] *= alpha;
        });
    }

    /** out = x + v tiled: parallel over the tiles. */
    static void addBroadcast(CpuPool pool, float[] x, float[] v, float[] out, int n, int vn) {
        int tiles = n / vn;
        pool.parallelFor(tiles, Math.max(1, GRAIN / vn), (s, e, w) -> {
            for (int t = s; t < e; t++) {
                int o = t * vn, i = 0, ub = Vec.bound(vn);
                for (; i < ub; i += L) FloatVector.fromArray(F, x, o + i).add(FloatVector.fromArray(F, v, i)).intoArray(out, o + i);
                for (; i < vn; i++) out[o + i] = x[o + i] + v[i];
            }
        });
    }

    /** dv += sum over tiles of dx: parallel over column ranges of dv, so no two threads write the same element. */
    static void sumBroadcast(CpuPool pool, float[] dx, float[] dv, int n, int vn) {
        int tiles = n / vn;
        int grain = Math.max(L, Vec.roundUp(Math.max(1, vn / (4 * pool.threads()))));
        pool.parallelFor(vn, tiles * (long) vn < GRAIN ? vn : grain, (s, e, w) -> {
            for (int t = 0; t < tiles; t++) addInto(dx, t * vn + s, dv, s, e - s);
        });
    }

    static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(F, 1f).div(Vec.exp(x.neg()).add(1f));
    }

    static float sigmoid(float x) { return (float) (1 / (1 + StrictMath.exp(-x))); }

    static void activation(CpuPool pool, Activation f, float[] x, float[] out, int n) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            switch (f) {
                case RELU -> {
                    for (; i < ub; i += L) FloatVector.fromArray(F, x, i).max(0f).intoArray(out, i);
                    for (; i < e; i++) out[i] = Math.max(x[i], 0f);
                }
                case TANH -> {
                    for (; i < ub; i += L) Vec.tanh(FloatVector.fromArray(F, x, i)).intoArray(out, i);
                    for (; i < e; i++) out[i] = (float) StrictMath.tanh(x[i]);
                }
                case SIGMOID -> {
                    for (; i < ub; i += L) sigmoid(FloatVector.fromArray(F, x, i)).intoArray(out, i);
                    for (; i < e; i++) out[i] = sigmoid(x[i]);
                }
            }
        });
    }

    /**
     * dx += dy * f'(saved); with overwrite, dx = 0 + dy * f'(saved) without reading dx (the same bits: + 0 turns a
     * -0 into +0 as the addition would).
     */
    static void activationBackward(CpuPool pool, Activation f, float[] saved, float[] dy, float[] dx, int n, boolean overwrite) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            for (; i < ub; i += L) {
                FloatVector sv = FloatVector.fromArray(F, saved, i), dyv = FloatVector.fromArray(F, dy, i);
                FloatVector gv = switch (f) {
                    case RELU -> dyv.blend(0f, sv.compare(VectorOperators.LE, 0f));
                    case TANH -> dyv.mul(sv.mul(sv).neg().add(1f));
                    case SIGMOID -> dyv.mul(sv.mul(sv.neg().add(1f)));
                };
                gv.add(overwrite ? FloatVector.zero(F) : FloatVector.fromArray(F, dx, i)).intoArray(dx, i);
            }
            for (; i < e; i++) {
                float g = switch (f) {
                    case RELU -> saved[i] > 0 ? 1f : 0f;
                    case TANH -> 1 - saved[i] * saved[i];
                    case SIGMOID -> saved[i] * (1 - saved[i]);
                };
                dx[i] = (overwrite ? 0f : dx[i]) + dy[i] * g;
            }
        });
    }

    /** Sum of squares in double: each float vector is widened to two double vectors before squaring. */
    static double sumSquares(CpuPool pool, float[] x, int n) {
        int chunks = (n + GRAIN - 1) / GRAIN;
        double[] part = new double[Math.max(1, chunks)];
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            // four independent sums: one chain of FMAs waited on its own latency (2.7 ms of a training step's
            // gradient norm, one element a cycle)
            DoubleVector a0 = DoubleVector.zero(D), a1 = a0, a2 = a0, a3 = a0;
            int i = s, ub = s + Vec.bound(e - s), ub2 = s + (e - s) / (2 * L) * (2 * L);
            for (; i < ub2; i += 2 * L) {
                FloatVector v = FloatVector.fromArray(F, x, i), u = FloatVector.fromArray(F, x, i + L);
                DoubleVector v0 = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector v1 = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 1);
                DoubleVector u0 = (DoubleVector) u.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector u1 = (DoubleVector) u.convertShape(VectorOperators.F2D, D, 1);
                a0 = v0.fma(v0, a0);
                a1 = v1.fma(v1, a1);
                a2 = u0.fma(u0, a2);
                a3 = u1.fma(u1, a3);
            }
            for (; i < ub; i += L) {
                FloatVector v = FloatVector.fromArray(F, x, i);
                DoubleVector v0 = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector v1 = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 1);
                a0 = v0.fma(v0, a0);
                a1 = v1.fma(v1, a1);
            }
            double sum = Vec.sum(a0.add(a1).add(a2.add(a3)));
            for (; i < e; i++) sum += (double) x[i] * x[i];
            part[s / GRAIN] = sum;
        });
        double total = 0;
        for (double p : part) total += p;
        return total;
    }

    // ------------------------------------------------------------------------------------------------ gates

    static void gateFixed(CpuPool pool, float[] c, float[] z, float[] bias, float[] out, int rows, int cols) {
        float[] g = new float[cols], h = new float[cols];
        for (int j = 0; j < cols; j++) { g[j] = sigmoid(bias[j]); h[j] = 1 - g[j]; }
        pool.parallelFor(rows, Math.max(1, GRAIN / Math.max(1, cols)), (s, e, w) -> {
            for (int r = s; r < e; r++) {
                int o = r * cols, j = 0, ub = Vec.bound(cols);
                for (; j < ub; j += L) {
                    FloatVector.fromArray(F, c, o + j).mul(FloatVector.fromArray(F, g, j))
                            .add(FloatVector.fromArray(F, z, o + j).mul(FloatVector.fromArray(F, h, j))).intoArray(out, o + j);
                }
                for (; j < cols; j++) out[o + j] = c[o + j] * g[j] + z[o + j] * h[j];
            }
        });
    }

    static void gateFixedBackward(CpuPool pool, float[] c, float[] z, float[] bias, float[] dOut, float[] dc, float[] dz,
                                  float[] dBias, int rows, int cols) {
        float[] g = new float[cols], h = new float[cols];
        for (int j = 0; j < cols; j++) { g[j] = sigmoid(bias[j]); h[j] = 1 - g[j]; }
        float[][] part = new float[pool.threads()][];
        pool.parallelFor(rows, Math.max(1, GRAIN / Math.max(1, cols)), (s, e, w) -> {
            float[] db = part[w];
            if (db == null) part[w] = db = new float[cols];
            for (int r = s; r < e; r++) {
                int o = r * cols, j = 0, ub = Vec.bound(cols);
                for (; j < ub; j += L) {
                    FloatVector d = FloatVector.fromArray(F, dOut, o + j), gv = FloatVector.fromArray(F, g, j), hv = FloatVector.fromArray(F, h, j);
                    d.fma(gv, FloatVector.fromArray(F, dc, o + j)).intoArray(dc, o + j);
                    d.fma(hv, FloatVector.fromArray(F, dz, o + j)).intoArray(dz, o + j);
                    d.mul(FloatVector.fromArray(F, c, o + j).sub(FloatVector.fromArray(F, z, o + j))).mul(gv.mul(hv))
                            .add(FloatVector.fromArray(F, db, j)).intoArray(db, j);
                }
                for (; j < cols; j++) {
                    dc[o + j] += dOut[o + j] * g[j];
                    dz[o + j] += dOut[o + j] * h[j];
                    db[j] += dOut[o + j] * (c[o + j] - z[o + j]) * g[j] * h[j];
                }
            }
        });
        for (float[] p : part) if (p != null) addInto(p, 0, dBias, 0, cols);
    }

    static void gateLstm(CpuPool pool, float[] c, float[] z, float[] fPre, float[] iPre, float[] out, int n) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            for (; i < ub; i += L) {
                FloatVector f = sigmoid(FloatVector.fromArray(F, fPre, i).add(1f));
                FloatVector g = sigmoid(FloatVector.fromArray(F, iPre, i).sub(1f));
                FloatVector.fromArray(F, c, i).mul(f).add(FloatVector.fromArray(F, z, i).mul(g)).intoArray(out, i);
            }
            for (; i < e; i++) out[i] = c[i] * sigmoid(fPre[i] + 1) + z[i] * sigmoid(iPre[i] - 1);
        });
    }

    static void gateLstmBackward(CpuPool pool, float[] c, float[] z, float[] fPre, float[] iPre, float[] dOut,
                                 float[] dc, float[] dz, float[] df, float[] di, int n) {
        pool.parallelFor(n, GRAIN, (s, e, w) -> {
            int i = s, ub = s + Vec.bound(e - s);
            for (; i < ub; i += L) {
                FloatVector f = sigmoid(FloatVector.fromArray(F, fPre, i).add(1f));
                FloatVector g = sigmoid(FloatVector.fromArray(F, iPre, i).sub(1f));
                FloatVector d = FloatVector.fromArray(F, dOut, i);
                d.fma(f, FloatVector.fromArray(F, dc, i)).intoArray(dc, i);
                d.fma(g, FloatVector.fromArray(F, dz, i)).intoArray(dz, i);
                d.mul(FloatVector.fromArray(F, c, i)).mul(f.mul(f.neg().add(1f))).add(FloatVector.fromArray(F, df, i)).intoArray(df, i);
                d.mul(FloatVector.fromArray(F, z, i)).mul(g.mul(g.neg().add(1f))).add(FloatVector.fromArray(F, di, i)).intoArray(di, i);
            }
            for (; i < e; i++) {
                float f = sigmoid(fPre[i] + 1), g = sigmoid(iPre[i] - 1);
                dc[i] += dOut[i] * f;
                dz[i] += dOut[i] * g;
                df[i] += dOut[i] * c[i] * f * (1 - f);
                di[i] += dOut[i] * z[i] * g * (1 - g);
            }
        });
    }

    // ------------------------------------------------------------------------------------------------ dropout

    static void dropout(CpuPool pool, float[] x, float[] out, double rate, long seed, int tileRows, boolean accumulate,
                        int rows, int cols) {
        float scale = (float) (1 / (1 - rate));
        pool.parallelFor(rows, Math.max(1, GRAIN / 8 / Math.max(1, cols)), (s, e, w) -> {
            // a row's multipliers (scale or 0; x * 0 is -0 for a negative x, which adds and compares as 0)
            float[] keep = DROPOUT_ROW.get(cols);
            for (int r = s; r < e; r++) {
                CounterRng.keepMultipliers(seed, (long) (tileRows == 0 ? r : r % tileRows) * cols, rate, scale, keep, 0, cols);
                int o = r * cols, c = 0;
                for (int ub = Vec.bound(cols); c < ub; c += L) {
                    FloatVector y = FloatVector.fromArray(F, x, o + c).mul(FloatVector.fromArray(F, keep, c));
                    (accumulate ? y.add(FloatVector.fromArray(F, out, o + c)) : y).intoArray(out, o + c);
                }
                for (; c < cols; c++) {
                    float y = x[o + c] * keep[c];
                    out[o + c] = accumulate ? out[o + c] + y : y;
                }
            }
        });
    }

    /** Each thread's row of dropout multipliers. */
    private static final ThreadRow DROPOUT_ROW = new ThreadRow();

    // ------------------------------------------------------------------------------------------------ copies

    static void embedding(CpuPool pool, float[] table, int vocab, int cols, int[] ids, float[] out) {
        pool.parallelFor(ids.length, Math.max(1, GRAIN / Math.max(1, cols)), (s, e, w) -> {
            for (int r = s; r < e; r++) System.arraycopy(table, Math.floorMod(ids[r], vocab) * cols, out, r * cols, cols);
        });
    }

    /** Serial: ids may repeat, and the scatter is memory-bound anyway. */
    static void embeddingBackward(float[] dOut, int vocab, int cols, int[] ids, float[] dTable) {
        for (int r = 0; r < ids.length; r++) addInto(dOut, r * cols, dTable, Math.floorMod(ids[r], vocab) * cols, cols);
    }

    /** Copies or adds n elements from src[so] to dst[dOff]. */
    static void move(float[] src, int so, float[] dst, int dOff, int n, boolean accumulate) {
        if (accumulate) addInto(src, so, dst, dOff, n);
        else System.arraycopy(src, so, dst, dOff, n);
    }
}
