package brt4j.backend.ref;

import brt4j.backend.AdafactorSpec;
import brt4j.backend.Backend;
import brt4j.backend.CounterRng;
import brt4j.backend.Sliding;
import brt4j.tensor.Tensor;

/**
 * The scalar oracle: every op in plain loops over float64 storage, written to be read beside the spec, never
 * optimized. It defines what each op means; the fast backends are tested against it, and the whole model runs on
 * it in float64 for finite-difference gradient checks and {@code brt trace --dtype float64}.
 */
public final class ReferenceBackend extends Backend {

    @Override public String name() { return "reference"; }

    @Override public int precisionBits() { return 64; }

    @Override public Tensor zeros(int... shape) {
        long n = 1;
        for (int d : shape) n *= Math.max(d, 0);
        return new DoubleTensor(this, new double[(int) Math.min(n, Integer.MAX_VALUE)], shape);
    }

    static double[] d(Tensor t) { return ((DoubleTensor) t).data; }

    @Override protected void doUpload(float[] data, Tensor t) { double[] x = d(t); for (int i = 0; i < data.length; i++) x[i] = data[i]; }

    @Override protected void doUpload(double[] data, Tensor t) { System.arraycopy(data, 0, d(t), 0, data.length); }

    @Override protected float[] doDownload(Tensor t) {
        double[] x = d(t);
        float[] r = new float[x.length];
        for (int i = 0; i < x.length; i++) r[i] = (float) x[i];
        return r;
    }

    @Override protected double[] doDownloadDouble(Tensor t) { return d(t).clone(); }

    @Override protected Tensor doView(Tensor t, int[] shape) { return new DoubleTensor(this, d(t), shape); }

    @Override protected void doCopy(Tensor src, Tensor dst) { System.arraycopy(d(src), 0, d(dst), 0, src.size()); }

    @Override protected void doFill(Tensor t, double value) { java.util.Arrays.fill(d(t), value); }

    // c[m, n] = alpha * sum_k A[m, k] B[k, n] + beta * c, with A and B read through their transposes if asked.
    @Override protected void doMatmul(int batch, int m, int n, int k, Tensor a, boolean transA, Tensor b, boolean transB,
                                      Tensor c, double alpha, double beta) {
        double[] A = d(a), B = d(b), C = d(c);
        for (int bi = 0; bi < batch; bi++) {
            int ao = bi * m * k, bo = bi * k * n, co = bi * m * n;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        double av = transA ? A[ao + p * m + i] : A[ao + i * k + p];
                        double bv = transB ? B[bo + j * k + p] : B[bo + p * n + j];
                        s += av * bv;
                    }
                    int ci = co + i * n + j;
                    C[ci] = alpha * s + (beta == 0 ? 0 : beta * C[ci]);
                }
            }
        }
    }

    @Override protected void doAdd(Tensor a, Tensor b, Tensor out) {
        double[] A = d(a), B = d(b), O = d(out);
        for (int i = 0; i < O.length; i++) O[i] = A[i] + B[i];
    }

    @Override protected void doAxpy(double alpha, Tensor x, Tensor y) {
        double[] X = d(x), Y = d(y);
        for (int i = 0; i < X.length; i++) Y[i] += alpha * X[i];
    }

    @Override protected void doScale(Tensor x, double alpha) {
        double[] X = d(x);
        for (int i = 0; i < X.length; i++) X[i] *= alpha;
    }

    @Override protected void doAddBroadcast(Tensor x, Tensor v, Tensor out) {
        double[] X = d(x), V = d(v), O = d(out);
        for (int i = 0; i < X.length; i++) O[i] = X[i] + V[i % V.length];
    }

    @Override protected void doSumBroadcast(Tensor dx, Tensor dv) {
        double[] DX = d(dx), DV = d(dv);
        for (int i = 0; i < DX.length; i++) DV[i % DV.length] += DX[i];
    }

    static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    @Override protected void doActivation(Activation f, Tensor x, Tensor out) {
        double[] X = d(x), O = d(out);
        for (int i = 0; i < X.length; i++) {
            O[i] = switch (f) {
                case RELU -> Math.max(X[i], 0);
                case TANH -> Math.tanh(X[i]);
                case SIGMOID -> sigmoid(X[i]);
            };
        }
    }

    @Override protected void doActivationBackward(Activation f, Tensor saved, Tensor dy, Tensor dx) {
        double[] S = d(saved), DY = d(dy), DX = d(dx);
        for (int i = 0; i < S.length; i++) {
            double g = switch (f) {
                case RELU -> S[i] > 0 ? 1 : 0;      // saved = x
                case TANH -> 1 - S[i] * S[i];       // saved = y
                case SIGMOID -> S[i] * (1 - S[i]);  // saved = y
            };
            DX[i] += DY[i] * g;
        }
    }

    @Override protected double doSumSquares(Tensor x) {
        double s = 0;
        for (double v : d(x)) s += v * v;
        return s;
    }

    @Override protected void doRmsNorm(Tensor x, Tensor scale, double eps, Tensor out, Tensor rstd) {
        double[] X = d(x), G = d(scale), O = d(out), R = d(rstd);
        int cols = x.cols();
        for (int r = 0; r < x.rows(); r++) {
            double ms = 0;
            for (int c = 0; c < cols; c++) ms += X[r * cols + c] * X[r * cols + c];
            double inv = 1 / Math.sqrt(ms / cols + eps);
            R[r] = inv;
            for (int c = 0; c < cols; c++) O[r * cols + c] = X[r * cols + c] * inv * G[c];
        }
    }

    // y = x * inv * g, inv = (mean x^2 + eps)^-1/2; dx = inv * (dy*g - x * inv^2 * mean(dy*g*x)).
    @Override protected void doRmsNormBackward(Tensor x, Tensor scale, Tensor rstd, Tensor dy, Tensor dx, Tensor dScale) {
        double[] X = d(x), G = d(scale), R = d(rstd), DY = d(dy), DX = d(dx), DG = d(dScale);
        int cols = x.cols();
        for (int r = 0; r < x.rows(); r++) {
            double inv = R[r], dot = 0;
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                dot += DY[i] * G[c] * X[i];
                DG[c] += DY[i] * X[i] * inv;
            }
            double k = inv * inv * dot / cols;
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                DX[i] += inv * (DY[i] * G[c] - X[i] * k);
            }
        }
    }

    @Override protected void doL2NormHeads(Tensor x, int heads, double eps, Tensor out, Tensor rnorm) {
        double[] X = d(x), O = d(out), RN = d(rnorm);
        int hd = x.cols() / heads;
        for (int s = 0; s < x.rows() * heads; s++) {
            int o = s * hd;
            double ss = 0;
            for (int i = 0; i < hd; i++) ss += X[o + i] * X[o + i];
            double inv = 1 / Math.sqrt(ss + eps);
            RN[s] = inv;
            for (int i = 0; i < hd; i++) O[o + i] = X[o + i] * inv;
        }
    }

    @Override protected void doL2NormHeadsBackward(Tensor y, Tensor rnorm, int heads, Tensor dy, Tensor dx) {
        double[] Y = d(y), RN = d(rnorm), DY = d(dy), DX = d(dx);
        int hd = y.cols() / heads;
        for (int s = 0; s < y.rows() * heads; s++) {
            int o = s * hd;
            double dot = 0;
            for (int i = 0; i < hd; i++) dot += Y[o + i] * DY[o + i];
            for (int i = 0; i < hd; i++) DX[o + i] += (DY[o + i] - Y[o + i] * dot) * RN[s];
        }
    }

    static int modV(int id, int v) { return Math.floorMod(id, v); }

    @Override protected void doEmbedding(Tensor table, int[] ids, Tensor out) {
        double[] T = d(table), O = d(out);
        int cols = table.cols(), v = table.rows();
        for (int r = 0; r < ids.length; r++) System.arraycopy(T, modV(ids[r], v) * cols, O, r * cols, cols);
    }

    @Override protected void doEmbeddingBackward(Tensor dOut, int[] ids, Tensor dTable) {
        double[] DO = d(dOut), DT = d(dTable);
        int cols = dTable.cols(), v = dTable.rows();
        for (int r = 0; r < ids.length; r++) {
            int base = modV(ids[r], v) * cols;
            for (int c = 0; c < cols; c++) DT[base + c] += DO[r * cols + c];
        }
    }

    @Override protected void doGateFixed(Tensor c, Tensor z, Tensor bias, Tensor out) {
        double[] C = d(c), Z = d(z), B = d(bias), O = d(out);
        int cols = c.cols();
        for (int i = 0; i < C.length; i++) {
            double g = sigmoid(B[i % cols]);
            O[i] = C[i] * g + Z[i] * (1 - g);
        }
    }

    @Override protected void doGateFixedBackward(Tensor c, Tensor z, Tensor bias, Tensor dOut, Tensor dc, Tensor dz, Tensor dBias) {
        double[] C = d(c), Z = d(z), B = d(bias), DO = d(dOut), DC = d(dc), DZ = d(dz), DB = d(dBias);
        int cols = c.cols();
        for (int i = 0; i < C.length; i++) {
            double g = sigmoid(B[i % cols]);
            DC[i] += DO[i] * g;
            DZ[i] += DO[i] * (1 - g);
            DB[i % cols] += DO[i] * (C[i] - Z[i]) * g * (1 - g);
        }
    }

    @Override protected void doGateLstm(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor out) {
        double[] C = d(c), Z = d(z), F = d(fPre), I = d(iPre), O = d(out);
        for (int i = 0; i < C.length; i++) O[i] = C[i] * sigmoid(F[i] + 1) + Z[i] * sigmoid(I[i] - 1);
    }

    @Override protected void doGateLstmBackward(Tensor c, Tensor z, Tensor fPre, Tensor iPre, Tensor dOut,
                                                Tensor dc, Tensor dz, Tensor dfPre, Tensor diPre) {
        double[] C = d(c), Z = d(z), F = d(fPre), I = d(iPre), DO = d(dOut), DC = d(dc), DZ = d(dz), DF = d(dfPre), DI = d(diPre);
        for (int i = 0; i < C.length; i++) {
            double f = sigmoid(F[i] + 1), g = sigmoid(I[i] - 1);
            DC[i] += DO[i] * f;
            DZ[i] += DO[i] * g;
            DF[i] += DO[i] * C[i] * f * (1 - f);
            DI[i] += DO[i] * Z[i] * g * (1 - g);
        }
    }

    @Override protected void doAttention(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                         Tensor out, Tensor lse) {
        ReferenceAttention.forward(d(q), d(k), d(v), q.dim(0), q.dim(1), k.dim(1), heads, q.cols() / heads, d(temperature),
                sliding, sliding == null ? null : d(sliding.relBias()), d(out), d(lse));
    }

    // windowAttention is attention over rows [start, start + window + Tq) of the key and value buffers: copy those
    // rows out and run the attention oracle on them.
    @Override protected void doWindowAttention(Tensor q, Tensor keys, Tensor values, int start, int heads, Tensor temperature,
                                               Sliding sliding, Tensor out) {
        int g = q.dim(0), tq = q.dim(1), hd = q.cols(), t = keys.dim(1), tk = sliding.window() + tq;
        double[] allK = d(keys), allV = d(values), k = new double[g * tk * hd], v = new double[g * tk * hd];
        for (int b = 0; b < g; b++) {
            System.arraycopy(allK, (b * t + start) * hd, k, b * tk * hd, tk * hd);
            System.arraycopy(allV, (b * t + start) * hd, v, b * tk * hd, tk * hd);
        }
        ReferenceAttention.forward(d(q), k, v, g, tq, tk, heads, hd / heads, d(temperature), sliding, d(sliding.relBias()),
                d(out), new double[g * heads * tq]);
    }

    @Override protected void doAttentionBackward(Tensor q, Tensor k, Tensor v, int heads, Tensor temperature, Sliding sliding,
                                                 Tensor out, Tensor lse, Tensor dOut, Tensor dq, Tensor dk, Tensor dv,
                                                 Tensor dTemperature, Tensor dRelBias) {
        ReferenceAttention.backward(d(q), d(k), d(v), q.dim(0), q.dim(1), k.dim(1), heads, q.cols() / heads, d(temperature),
                sliding, sliding == null ? null : d(sliding.relBias()), d(out), d(lse), d(dOut), d(dq), d(dk), d(dv),
                d(dTemperature), dRelBias == null ? null : d(dRelBias));
    }

    @Override protected double doCrossEntropy(Tensor logits, int[] targets, boolean[] mask, Tensor rowLoss) {
        double[] L = d(logits), RL = d(rowLoss);
        int v = logits.cols();
        double total = 0;
        for (int r = 0; r < targets.length; r++) {
            if (!mask[r]) { RL[r] = 0; continue; }
            RL[r] = logSumExp(L, r * v, v) - L[r * v + modV(targets[r], v)];
            total += RL[r];
        }
        return total;
    }

    static double logSumExp(double[] x, int off, int n) {
        double m = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, x[off + i]);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
        return m + Math.log(s);
    }

    @Override protected void doCrossEntropyBackward(Tensor logits, int[] targets, boolean[] mask, double gradScale, Tensor dLogits) {
        double[] L = d(logits), DL = d(dLogits);
        int v = logits.cols();
        for (int r = 0; r < targets.length; r++) {
            if (!mask[r]) continue;
            double lse = logSumExp(L, r * v, v);
            for (int j = 0; j < v; j++) DL[r * v + j] += gradScale * Math.exp(L[r * v + j] - lse);
            DL[r * v + modV(targets[r], v)] -= gradScale;
        }
    }

    @Override protected void doDropout(Tensor x, Tensor out, double rate, long seed, int tileRows, boolean accumulate) {
        double[] X = d(x), O = d(out);
        int cols = x.cols();
        for (int i = 0; i < X.length; i++) {
            int r = i / cols, c = i % cols;
            long idx = (long) (tileRows == 0 ? r : r % tileRows) * cols + c;
            double y = CounterRng.keep(seed, idx, rate) ? X[i] / (1 - rate) : 0;
            O[i] = accumulate ? O[i] + y : y;
        }
    }

    @Override protected void doRowSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate) {
        Tensor whole = intoWhole ? to : from, part = intoWhole ? from : to;
        double[] W = d(whole), P = d(part);
        int g = whole.dim(0), tw = whole.dim(1), tp = part.dim(1), c = whole.cols();
        for (int b = 0; b < g; b++) {
            for (int r = 0; r < tp; r++) {
                for (int j = 0; j < c; j++) {
                    int wi = (b * tw + start + r) * c + j, pi = (b * tp + r) * c + j;
                    if (intoWhole) W[wi] = accumulate ? W[wi] + P[pi] : P[pi];
                    else P[pi] = accumulate ? P[pi] + W[wi] : W[wi];
                }
            }
        }
    }

    @Override protected void doColSlice(Tensor from, Tensor to, int start, boolean intoWhole, boolean accumulate) {
        Tensor whole = intoWhole ? to : from, part = intoWhole ? from : to;
        double[] W = d(whole), P = d(part);
        int cw = whole.cols(), cp = part.cols();
        for (int r = 0; r < whole.rows(); r++) {
            for (int j = 0; j < cp; j++) {
                int wi = r * cw + start + j, pi = r * cp + j;
                if (intoWhole) W[wi] = accumulate ? W[wi] + P[pi] : P[pi];
                else P[pi] = accumulate ? P[pi] + W[wi] : W[wi];
            }
        }
    }

    @Override protected void doSelectBatch(boolean[] takeA, Tensor a, Tensor b, Tensor out) {
        double[] A = d(a), B = d(b), O = d(out);
        int per = A.length;
        for (int g = 0; g < takeA.length; g++) {
            if (takeA[g]) System.arraycopy(A, 0, O, g * per, per);
            else System.arraycopy(B, g * per, O, g * per, per);
        }
    }

    @Override protected void doSelectBatchBackward(boolean[] takeA, Tensor dOut, Tensor dA, Tensor dB) {
        double[] DO = d(dOut), DA = d(dA), DB = dB == null ? null : d(dB);
        int per = DA.length;
        for (int g = 0; g < takeA.length; g++) {
            for (int i = 0; i < per; i++) {
                if (takeA[g]) DA[i] += DO[g * per + i];
                else if (DB != null) DB[g * per + i] += DO[g * per + i];
            }
        }
    }

    @Override protected void doAdamW(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1, double beta2,
                                     double eps, double weightDecay, long step) {
        double[] P = d(param), G = d(grad), M = d(m), V = d(v);
        double c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < P.length; i++) {
            M[i] = beta1 * M[i] + (1 - beta1) * G[i];
            V[i] = beta2 * V[i] + (1 - beta2) * G[i] * G[i];
            double update = (M[i] / c1) / (Math.sqrt(V[i] / c2) + eps);
            P[i] -= lr * (update + weightDecay * P[i]);
        }
    }

    @Override protected void doAdafactor(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor vRow, Tensor vCol,
                                         boolean factored, double lr, long step, AdafactorSpec spec) {
        ReferenceAdafactor.update(d(param), param.rows(), param.cols(), d(grad), m == null ? null : d(m),
                factored ? null : d(v), factored ? d(vRow) : null, factored ? d(vCol) : null, lr, step, spec);
    }
}
