package brt4j.backend.cpu;

import brt4j.backend.Backend;
import brt4j.backend.ref.ReferenceBackend;
import brt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Int8 weights: quantization error within half a step, and the Vector API kernel against the float64 oracle. */
class Int8KernelsTest {
    final CpuBackend cpu = new CpuBackend(2);
    final Backend ref = new ReferenceBackend();
    final Random rnd = new Random(1);

    float[] random(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    @Test
    void quantizationIsWithinHalfAStepPerRow() {
        int rows = 17, cols = 33;
        float[] w = random(rows * cols);
        Tensor q = cpu.quantizeInt8(cpu.upload(w, rows, cols));
        assertTrue(q.quantized());
        float[] back = cpu.download(q);
        for (int r = 0; r < rows; r++) {
            float max = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[r * cols + c]));
            for (int c = 0; c < cols; c++) assertEquals(w[r * cols + c], back[r * cols + c], max / 127 / 2 * 1.0001 + 1e-7);
        }
    }

    @Test
    void matmulAgainstTheOracleOnDequantizedWeights() {
        for (int m : new int[]{1, 3, 5, 9}) {
            for (int k : new int[]{1, 17, 33, 130}) {
                for (int n : new int[]{1, 3, 17}) {
                    float[] x = random(m * k), w = random(n * k), c0 = random(m * n);
                    Tensor wq = cpu.quantizeInt8(cpu.upload(w, n, k));
                    Tensor c = cpu.upload(c0, m, n);
                    cpu.matmul(cpu.upload(x, m, k), false, wq, true, c, 0.5, 2.0);
                    Tensor rc = ref.upload(c0, m, n);
                    ref.matmul(ref.upload(x, m, k), false, ref.upload(cpu.download(wq), n, k), true, rc, 0.5, 2.0);
                    double[] e = ref.downloadDouble(rc), a = cpu.downloadDouble(c);
                    double scale = 0, diff = 0;
                    for (int i = 0; i < e.length; i++) { scale = Math.max(scale, Math.abs(e[i])); diff = Math.max(diff, Math.abs(a[i] - e[i])); }
                    assertTrue(diff <= 1e-5 * Math.max(1, scale), "m " + m + " k " + k + " n " + n + ": " + diff);
                }
            }
        }
    }

    @Test
    void int8TensorsAreRefusedWhereTheyCannotGo() {
        Tensor q = cpu.quantizeInt8(cpu.upload(random(12), 3, 4));
        Tensor x = cpu.zeros(3, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu.add(q, x, x));
        assertTrue(e.getMessage().contains("int8"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cpu.matmul(x, false, q, false, cpu.zeros(3, 4), 1, 0));
    }
}
