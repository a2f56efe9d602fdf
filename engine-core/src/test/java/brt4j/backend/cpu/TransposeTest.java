package brt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class TransposeTest {
    /** Whole 8 x 8 blocks and edges, strides wider than the block, offsets; untouched destination entries stay. */
    @Test void copyMatchesElementByElement() {
        Random r = new Random(3);
        int[] sizes = {1, 3, 7, 8, 9, 16, 17, 33, 130};
        for (int rows : sizes) {
            for (int cols : sizes) {
                int lds = cols + r.nextInt(5), ldd = rows + r.nextInt(5), so = r.nextInt(7), dOff = r.nextInt(7);
                float[] src = new float[so + rows * lds];
                for (int i = 0; i < src.length; i++) src[i] = r.nextFloat();
                float[] got = new float[dOff + cols * ldd + 8], want = new float[got.length];
                java.util.Arrays.fill(got, -1f);
                java.util.Arrays.fill(want, -1f);
                for (int i = 0; i < rows; i++) {
                    for (int c = 0; c < cols; c++) want[dOff + c * ldd + i] = src[so + i * lds + c];
                }
                Transpose.copy(src, so, lds, rows, cols, got, dOff, ldd);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], rows + " x " + cols + " (lds " + lds + ", ldd " + ldd + "): element " + i);
                }
            }
        }
    }
}
