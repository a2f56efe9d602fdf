package brt4j.gpu;

import brt4j.backend.Backend;
import brt4j.check.Comparison;
import brt4j.check.TensorDiff;
import brt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tensors made twice, on the float64 oracle and on a GPU backend, for tests that run an op on both and compare
 * (FlashAttentionTest, Bf16OperandsTest).
 */
final class Twins {
    /** One tensor's two copies. */
    record Twin(Tensor ref, Tensor gpu) {}

    final Backend ref;
    final GpuBackend gpu;
    private final SplittableRandom rnd;

    Twins(Backend ref, GpuBackend gpu, long seed) {
        this.ref = ref;
        this.gpu = gpu;
        this.rnd = new SplittableRandom(seed);
    }

    /** Uniform in [-1, 1). */
    Twin rand(int... shape) {
        float[] x = new float[size(shape)];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return upload(x, shape);
    }

    /** Multiples of 1/16 in [-1, 1]: exact in bf16, so bf16 operands add no rounding of their own. */
    Twin sixteenths(int... shape) {
        float[] x = new float[size(shape)];
        for (int i = 0; i < x.length; i++) x[i] = (rnd.nextInt(33) - 16) / 16f;
        return upload(x, shape);
    }

    Twin zeros(int... shape) { return new Twin(ref.zeros(shape), gpu.zeros(shape)); }

    /** Asserts Comparison's rule (|gpu - ref| <= tol * max(1, max |ref|)) and prints the errors either way. */
    void compare(String what, Twin t, double tol) {
        long[] shape = Arrays.stream(t.ref.shape()).asLongStream().toArray();
        TensorDiff d = Comparison.compare(what, shape, ref.downloadDouble(t.ref), gpu.downloadDouble(t.gpu), tol);
        System.out.println(d.line());
        assertTrue(d.pass(), d.line());
    }

    private Twin upload(float[] x, int[] shape) { return new Twin(ref.upload(x, shape), gpu.upload(x, shape)); }

    private static int size(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }
}
