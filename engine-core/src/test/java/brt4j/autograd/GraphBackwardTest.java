package brt4j.autograd;

import brt4j.backend.Backend;
import brt4j.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Graph.backward frees each intermediate's gradient once its closure has run, and the parameters' gradients stay right. */
class GraphBackwardTest {
    @Test
    void intermediateGradientsAreFreedAndParameterGradientsAreExact() {
        Random r = new Random(3);
        int n = 5, in = 3, mid = 4, out = 2;
        double[] x = random(r, n * in), w1 = random(r, mid * in), w2 = random(r, out * mid);
        try (Backend be = new CpuBackend(1); Graph g = new Graph(be, true, 1)) {
            Var xv = Var.constant(be.upload(x, n, in));
            Var p1 = Var.param(be.upload(w1, mid, in)), p2 = Var.param(be.upload(w2, out, mid));
            Var h = g.linear(xv, p1), a = g.relu(h), y = g.linear(a, p2);
            double[] dy = random(r, n * out);
            g.seedGrad(y, be.upload(dy, n, out));
            g.backward();
            assertNull(y.grad(), "the output's gradient is freed after its closure");
            assertNull(a.grad());
            assertNull(h.grad());

            // the same by hand in float64: h = x w1^T, a = relu(h), y = a w2^T
            double[] hv = mul(x, n, in, w1, mid), av = hv.clone();
            for (int i = 0; i < av.length; i++) av[i] = Math.max(0, av[i]);
            double[] dW2 = new double[out * mid], dA = new double[n * mid], dW1 = new double[mid * in];
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) {
                    for (int m = 0; m < mid; m++) {
                        dW2[o * mid + m] += dy[i * out + o] * av[i * mid + m];
                        dA[i * mid + m] += dy[i * out + o] * w2[o * mid + m];
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                for (int m = 0; m < mid; m++) {
                    double dh = hv[i * mid + m] > 0 ? dA[i * mid + m] : 0;
                    for (int k = 0; k < in; k++) dW1[m * in + k] += dh * x[i * in + k];
                }
            }
            assertArrayEquals(toFloat(dW1), be.download(p1.grad()), 1e-5f);
            assertArrayEquals(toFloat(dW2), be.download(p2.grad()), 1e-5f);
        }
    }

    /** a [rows, k] times b^T for b [cols, k]. */
    private static double[] mul(double[] a, int rows, int k, double[] b, int cols) {
        double[] c = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                for (int p = 0; p < k; p++) c[i * cols + j] += a[i * k + p] * b[j * k + p];
            }
        }
        return c;
    }

    private static double[] random(Random r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();     // exact in float32, as uploaded
        return v;
    }

    private static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }
}
