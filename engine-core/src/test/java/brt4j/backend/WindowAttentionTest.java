package brt4j.backend;

import brt4j.backend.cpu.CpuBackend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * windowAttention is attention over rows [start, start + window + Tq) of the buffers (its definition, checked on
 * the oracle and on the GPU-style default path), and the CPU kernel gives the same bits on one and on two threads
 * (a generated text must not depend on the thread count). Agreement with the oracle: {@link CpuVsOracleTest}.
 */
class WindowAttentionTest {
    final SplittableRandom rnd = new SplittableRandom(7);

    float[] random(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return x;
    }

    @Test
    void oracleEqualsAttentionOverTheSlicedRows() {
        Backend ref = new ReferenceBackend();
        int g = 2, h = 3, d = 5, w = 6, tq = 3, t = 14, start = 4, hd = h * d;
        Tensor q = ref.upload(random(g * tq * hd), g, tq, hd), keys = ref.upload(random(g * t * hd), g, t, hd);
        Tensor values = ref.upload(random(g * t * hd), g, t, hd), temp = ref.upload(random(h), h);
        Sliding s = new Sliding(w, ref.upload(random(h * 32), h, 32), 128);
        Tensor got = ref.zeros(g, tq, hd);
        ref.windowAttention(q, keys, values, start, h, temp, s, got);
        // The definition written out: copy the rows by hand, then attention.
        double[] kAll = ref.downloadDouble(keys), vAll = ref.downloadDouble(values);
        double[] k = new double[g * (w + tq) * hd], v = new double[k.length];
        for (int b = 0; b < g; b++) {
            for (int r = 0; r < w + tq; r++) {
                for (int c = 0; c < hd; c++) {
                    k[(b * (w + tq) + r) * hd + c] = kAll[(b * t + start + r) * hd + c];
                    v[(b * (w + tq) + r) * hd + c] = vAll[(b * t + start + r) * hd + c];
                }
            }
        }
        Tensor expected = ref.zeros(g, tq, hd);
        ref.attention(q, ref.upload(k, g, w + tq, hd), ref.upload(v, g, w + tq, hd), h, temp, s, expected, ref.zeros(g, h, tq));
        assertArrayEquals(ref.downloadDouble(expected), ref.downloadDouble(got));
    }

    @Test
    void cpuKernelGivesTheSameBitsOnOneAndTwoThreads() {
        int g = 1, h = 8, d = 64, w = 512, t = 2 * w, hd = h * d;   // large enough to be split over threads
        float[] q = random(hd), keys = random(g * t * hd), values = random(g * t * hd), temp = random(h), rel = random(h * 32);
        float[][] outs = new float[2][];
        for (int threads = 1; threads <= 2; threads++) {
            try (CpuBackend cpu = new CpuBackend(threads)) {
                Tensor out = cpu.zeros(g, 1, hd);
                cpu.windowAttention(cpu.upload(q, g, 1, hd), cpu.upload(keys, g, t, hd), cpu.upload(values, g, t, hd), 300, h,
                        cpu.upload(temp, h), new Sliding(w, cpu.upload(rel, h, 32), 128), out);
                outs[threads - 1] = cpu.download(out);
            }
        }
        assertEquals(hd, outs[0].length);
        assertArrayEquals(outs[0], outs[1]);
    }
}
