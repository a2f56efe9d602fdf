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
    void quantizingFromBlocksOfRowsGivesTheSameBitsAsFromTheWholeMatrix() {
        // several blocks with a partial last one; one block; a row longer than the staging buffer (a block is a row)
        int[][] shapes = {{1031, 129}, {5, 7}, {3, Int8Kernels.STAGING_FLOATS + 3}};
        for (int[] shape : shapes) {
            int rows = shape[0], cols = shape[1];
            float[] w = random(rows * cols);
            w[cols] = 0;
            java.util.Arrays.fill(w, 2 * cols, 3 * cols, 0f);   // an all-zero row: scale 0
            int[] next = {0};
            Tensor streamed = cpu.quantizeInt8(rows, cols, (row0, count, dst) -> {
                assertEquals(next[0], row0, "rows are asked for in order, each once");
                assertTrue(count >= 1 && count * cols <= dst.length && count * cols <= Math.max(Int8Kernels.STAGING_FLOATS, cols));
                System.arraycopy(w, row0 * cols, dst, 0, count * cols);
                next[0] = row0 + count;
            });
            assertEquals(rows, next[0]);
            Tensor whole = cpu.quantizeInt8(cpu.upload(w, rows, cols));
            org.junit.jupiter.api.Assertions.assertArrayEquals(cpu.download(whole), cpu.download(streamed), rows + "x" + cols);
            Tensor x = cpu.upload(random(cols), 1, cols), a = cpu.zeros(1, rows), b = cpu.zeros(1, rows);
            cpu.matmul(x, false, whole, true, a, 1, 0);
            cpu.matmul(x, false, streamed, true, b, 1, 0);
            org.junit.jupiter.api.Assertions.assertArrayEquals(cpu.download(a), cpu.download(b));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu.quantizeInt8(0, 3, (r, n, d) -> {}));
        assertTrue(e.getMessage().contains("[0, 3]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ref.quantizeInt8(2, 3, (r, n, d) -> {}));
        assertTrue(e.getMessage().contains("no int8 weights"), e.getMessage());
    }

    @Test
    void matmulAgainstTheOracleOnDequantizedWeights() {
        // m = 1 (a token), 3..9 (short chunks), 17 and 33 (a block: dequantized panels through the GEMM)
        for (int m : new int[]{1, 3, 5, 9, 17, 33}) {
            for (int k : new int[]{1, 17, 33, 130}) {
                for (int n : new int[]{1, 3, 17}) matmulCase(m, n, k, 0.5, 2.0);
            }
        }
        matmulCase(20, 300, 33, 1.5, 0);        // more than one panel of weight rows, beta 0
        matmulCase(1, 1031, 77, 1, 0);          // groups of four rows plus a tail, over two threads
    }

    private void matmulCase(int m, int n, int k, double alpha, double beta) {
        float[] x = random(m * k), w = random(n * k), c0 = random(m * n);
        if (beta == 0) java.util.Arrays.fill(c0, Float.NaN);   // beta 0 ignores the old c, even NaN
        Tensor wq = cpu.quantizeInt8(cpu.upload(w, n, k));
        Tensor c = cpu.upload(c0, m, n);
        cpu.matmul(cpu.upload(x, m, k), false, wq, true, c, alpha, beta);
        Tensor rc = ref.upload(beta == 0 ? new float[m * n] : c0, m, n);
        ref.matmul(ref.upload(x, m, k), false, ref.upload(cpu.download(wq), n, k), true, rc, alpha, beta);
        double[] e = ref.downloadDouble(rc), a = cpu.downloadDouble(c);
        double scale = 0, diff = 0;
        for (int i = 0; i < e.length; i++) { scale = Math.max(scale, Math.abs(e[i])); diff = Math.max(diff, Math.abs(a[i] - e[i])); }
        assertTrue(diff <= 1e-5 * Math.max(1, scale), "m " + m + " k " + k + " n " + n + ": " + diff);
    }

    @Test
    void aRowGivesTheSameBitsAloneAsWithAFewOthers() {
        int n = 37, k = 131;
        Tensor wq = cpu.quantizeInt8(cpu.upload(random(n * k), n, k));
        float[] x = random(5 * k);
        Tensor all = cpu.zeros(5, n), one = cpu.zeros(1, n);
        cpu.matmul(cpu.upload(x, 5, k), false, wq, true, all, 1, 0);
        cpu.matmul(cpu.upload(java.util.Arrays.copyOfRange(x, 3 * k, 4 * k), 1, k), false, wq, true, one, 1, 0);
        org.junit.jupiter.api.Assertions.assertArrayEquals(java.util.Arrays.copyOfRange(cpu.download(all), 3 * n, 4 * n), cpu.download(one));
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
