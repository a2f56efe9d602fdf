package brt4j.backend.cpu;

import brt4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * One backend used by two threads at once: the kernels keep per-worker scratch (packs, tiles, partial sums), so two
 * callers must not both run as worker 0. Each thread's products must come out as they do alone.
 */
class ConcurrentCallersTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void twoThreadsMultiplyingOnOneBackendGetTheirOwnResults(int threads) throws InterruptedException {
        int m = 130, k = 300, n = 257;
        try (CpuBackend backend = new CpuBackend(threads)) {
            Tensor[] a = new Tensor[2], b = new Tensor[2];
            float[][] alone = new float[2][];
            SplittableRandom r = new SplittableRandom(3);
            for (int t = 0; t < 2; t++) {
                a[t] = backend.upload(random(r, m * k), m, k);
                b[t] = backend.upload(random(r, k * n), k, n);
                Tensor c = backend.zeros(m, n);
                backend.matmul(a[t], false, b[t], false, c, 1, 0);
                alone[t] = backend.download(c);
            }
            AtomicReference<String> wrong = new AtomicReference<>();
            Race.run(2, id -> {
                Tensor c = backend.zeros(m, n);
                for (int call = 0; call < 200 && wrong.get() == null; call++) {
                    backend.matmul(a[id], false, b[id], false, c, 1, 0);
                    float[] got = backend.download(c);
                    if (!java.util.Arrays.equals(got, alone[id])) wrong.set("thread " + id + ", call " + call);
                }
            });
            assertNull(wrong.get(), "a product differs from the same product alone");
        }
    }

    private static float[] random(SplittableRandom r, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = (float) r.nextDouble(-1, 1);
        return x;
    }
}
