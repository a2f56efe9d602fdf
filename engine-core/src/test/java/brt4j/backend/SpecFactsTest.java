package brt4j.backend;

import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The unit facts of spec §5 (items 1-4 and 10), on the oracle and on the CPU backend. */
class SpecFactsTest {
    static final CpuBackend CPU = new CpuBackend(2);
    static final List<Backend> BACKENDS = List.of(new ReferenceBackend(), CPU);

    @AfterAll
    static void close() { CPU.close(); }

    @Test
    void t5BucketBoundaries() {
        for (int d = 0; d <= 16; d++) assertEquals(d, T5Buckets.bucket(d, 32, 128), "delta " + d);
        int[][] table = {{19, 17}, {21, 18}, {24, 19}, {27, 20}, {31, 21}, {35, 22}, {40, 23}, {46, 24}, {52, 25},
                {59, 26}, {67, 27}, {77, 28}, {87, 29}, {99, 30}, {113, 31}};
        for (int[] e : table) {
            assertEquals(e[1], T5Buckets.bucket(e[0], 32, 128), "delta " + e[0]);
            assertEquals(e[1] - 1, T5Buckets.bucket(e[0] - 1, 32, 128), "delta " + (e[0] - 1) + ", just below a boundary");
        }
        assertEquals(16, T5Buckets.bucket(18, 32, 128));
        for (int d : new int[]{114, 128, 500, 4096, 100_000}) assertEquals(31, T5Buckets.bucket(d, 32, 128), "delta " + d);
        for (int d : new int[]{-1, -50}) assertEquals(0, T5Buckets.bucket(d, 32, 128), "future delta " + d);
    }

    /** W = 4, 8 keys: query i attends keys i..i+3 (uniformly, with zero q, k and bias), never key i + 4 (itself). */
    @Test
    void slidingMaskShape() {
        int w = 4;
        for (Backend b : BACKENDS) {
            float[] eye = new float[2 * w * 2 * w];
            for (int j = 0; j < 2 * w; j++) eye[j * 2 * w + j] = 1;
            Tensor q = b.zeros(1, w, 2 * w), k = b.zeros(1, 2 * w, 2 * w), v = b.upload(eye, 1, 2 * w, 2 * w);
            Tensor temp = b.upload(new float[]{1}, 1), rel = b.zeros(1, 32), out = b.zeros(1, w, 2 * w), lse = b.zeros(1, 1, w);
            b.attention(q, k, v, 1, temp, new Sliding(w, rel, 128), out, lse);
            float[] p = b.download(out);
            for (int i = 0; i < w; i++) {
                int count = 0;
                for (int j = 0; j < 2 * w; j++) {
                    boolean allowed = i <= j && j <= i + w - 1;
                    assertEquals(allowed ? 0.25 : 0.0, p[i * 2 * w + j], 1e-7, b.name() + ": query " + i + ", key " + j);
                    if (p[i * 2 * w + j] > 0) count++;
                }
                assertEquals(w, count, b.name() + ": keys attended by query " + i);
                assertEquals(0.0, p[i * 2 * w + i + w], b.name() + ": query " + i + " must not see itself");
            }
        }
    }

    /** Every logit far below the phantom -1000: the output is ~0, not the mean of v; no keys at all: exactly 0. */
    @Test
    void safeSoftmaxOfAMaskedRow() {
        for (Backend b : BACKENDS) {
            float[] ones = new float[3 * 4];
            java.util.Arrays.fill(ones, 0.5f);
            Tensor q = b.upload(ones, 1, 3, 4), k = b.upload(ones, 1, 3, 4), v = b.upload(ones, 1, 3, 4);
            Tensor temp = b.upload(new float[]{-5000}, 1), out = b.zeros(1, 3, 4), lse = b.zeros(1, 1, 3);
            b.attention(q, k, v, 1, temp, null, out, lse);
            for (float x : b.download(out)) assertTrue(Math.abs(x) < 1e-30, b.name() + ": output " + x);
            Tensor none = b.zeros(1, 0, 4), out0 = b.upload(ones, 1, 3, 4);
            b.attention(q, none, none, 1, b.upload(new float[]{1}, 1), null, out0, lse);
            for (float x : b.download(out0)) assertEquals(0f, x, b.name());
            for (float x : b.download(lse)) assertEquals(-1000f, x, b.name());
        }
    }

    /** Without masked keys and with logits far above -1000, the output equals a standard softmax. */
    @Test
    void unmaskedRowsAreAStandardSoftmax() {
        SplittableRandom rnd = new SplittableRandom(3);
        int tq = 5, tk = 9, d = 6;
        float[] qd = randoms(rnd, tq * d), kd = randoms(rnd, tk * d), vd = randoms(rnd, tk * d);
        double t = 2.5;
        double[] want = new double[tq * d];
        for (int i = 0; i < tq; i++) {
            double[] a = new double[tk];
            double m = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < tk; j++) {
                for (int e = 0; e < d; e++) a[j] += (double) qd[i * d + e] * kd[j * d + e];
                a[j] *= t;
                m = Math.max(m, a[j]);
            }
            for (int j = 0; j < tk; j++) z += Math.exp(a[j] - m);
            for (int j = 0; j < tk; j++) for (int e = 0; e < d; e++) want[i * d + e] += Math.exp(a[j] - m) / z * vd[j * d + e];
        }
        for (Backend b : BACKENDS) {
            Tensor out = b.zeros(1, tq, d), lse = b.zeros(1, 1, tq);
            b.attention(b.upload(qd, 1, tq, d), b.upload(kd, 1, tk, d), b.upload(vd, 1, tk, d), 1, b.upload(new double[]{t}, 1),
                    null, out, lse);
            double[] got = b.downloadDouble(out);
            for (int i = 0; i < got.length; i++) assertEquals(want[i], got[i], 1e-6, b.name() + " element " + i);
        }
    }

    @Test
    void normalizedHeadsAndRmsNorm() {
        SplittableRandom rnd = new SplittableRandom(4);
        int rows = 7, heads = 4, hd = 16;
        float[] x = randoms(rnd, rows * heads * hd);
        for (Backend b : BACKENDS) {
            Tensor out = b.zeros(rows, heads * hd), rn = b.zeros(rows * heads);
            b.l2NormHeads(b.upload(x, rows, heads * hd), heads, 1e-6, out, rn);
            double[] y = b.downloadDouble(out);
            for (int s = 0; s < rows * heads; s++) {
                double ss = 0;
                for (int e = 0; e < hd; e++) ss += y[s * hd + e] * y[s * hd + e];
                assertEquals(1.0, Math.sqrt(ss), 1e-6, b.name() + ": norm of head slice " + s);
            }
            Tensor ones = b.upload(filled(heads * hd, 1f), heads * hd), rms = b.zeros(rows, heads * hd), rstd = b.zeros(rows);
            float[] x4 = x.clone();                     // mean square ~5, so eps = 1e-6 moves the RMS by < 1e-7
            for (int i = 0; i < x4.length; i++) x4[i] *= 4;
            b.rmsNorm(b.upload(x4, rows, heads * hd), ones, 1e-6, rms, rstd);
            double[] r = b.downloadDouble(rms);
            for (int i = 0; i < rows; i++) {
                double ms = 0;
                for (int c = 0; c < heads * hd; c++) ms += r[i * heads * hd + c] * r[i * heads * hd + c];
                assertEquals(1.0, Math.sqrt(ms / (heads * hd)), 1e-6, b.name() + ": RMS of row " + i);
            }
        }
    }

    /** With all gate parameters zero: LSTM f = sigma(1), i = sigma(-1); the fixed gate is 0.5. */
    @Test
    void gateValuesAtZeroParameters() {
        for (Backend b : BACKENDS) {
            Tensor one = b.upload(filled(6, 1f), 2, 3), zero = b.zeros(2, 3), out = b.zeros(2, 3);
            b.gateLstm(one, zero, zero, zero, out);
            for (float f : b.download(out)) assertEquals(0.7310586, f, 1e-7, b.name() + ": forget gate");
            b.gateLstm(zero, one, zero, zero, out);
            for (float i : b.download(out)) assertEquals(0.2689414, i, 1e-7, b.name() + ": input gate");
            b.gateFixed(one, zero, b.zeros(3), out);
            for (float g : b.download(out)) assertEquals(0.5, g, 1e-7, b.name() + ": fixed gate");
        }
    }

    static float[] randoms(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return x;
    }

    static float[] filled(int n, float v) { float[] x = new float[n]; java.util.Arrays.fill(x, v); return x; }
}
